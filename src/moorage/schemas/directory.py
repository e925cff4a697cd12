"""LDAP / Active Directory settings models (:mod:`moorage.services.ldap_settings`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from moorage.models.user import Role
from moorage.schemas._input import InputModel

__all__ = ["LdapLookup", "LdapLookupResult", "LdapSettingsIn", "LdapSettingsPublic", "LdapSync"]


class LdapSettingsIn(InputModel):
    """The whole settings (fields left out take their defaults, except
    ``bind_password``, which is kept when left out or null)."""

    multi_line_fields = frozenset({"ca_pem"})

    enabled: bool = True
    url: str = Field(max_length=255, description="ldap://host[:port] or ldaps://host[:port].")
    start_tls: bool = Field(False, description="StartTLS on an ldap:// URL (RFC 4511 4.14).")
    ca_pem: str | None = Field(
        None, max_length=65536, description="PEM of the CA to trust instead of the system's."
    )
    bind_dn: str = Field("", max_length=512, description="The service account that searches.")
    bind_password: str | None = Field(
        None, max_length=1024, description="Write only. Null: keep; empty: clear."
    )
    user_base: str = Field(max_length=512)
    user_filter: str = Field("(objectClass=inetOrgPerson)", max_length=1024)
    username_attribute: str = Field("uid", max_length=64)
    display_name_attribute: str = Field("cn", max_length=64)
    email_attribute: str = Field("mail", max_length=64)
    group_base: str = Field("", max_length=512, description="Empty: the users' memberOf.")
    group_filter: str = Field("(objectClass=groupOfNames)", max_length=1024)
    group_member_attribute: str = Field("member", max_length=64)
    nested_groups: bool = Field(
        False, description="AD's LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941)."
    )
    group_rules: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    default_role: Role = Role.MEMBER
    sync_interval_minutes: int = Field(15, ge=1, le=1440)
    timeout_seconds: int = Field(10, ge=1, le=60)


class LdapSync(BaseModel):
    at: datetime
    report: dict[str, Any] | None
    error: str | None


class LdapSettingsPublic(BaseModel):
    configured: bool
    enabled: bool
    url: str
    start_tls: bool
    ca_pem: str | None
    bind_dn: str
    bind_password_set: bool = Field(description="The password itself is never returned.")
    user_base: str
    user_filter: str
    username_attribute: str
    display_name_attribute: str
    email_attribute: str
    group_base: str
    group_filter: str
    group_member_attribute: str
    nested_groups: bool
    group_rules: list[dict[str, Any]]
    default_role: str
    sync_interval_minutes: int
    timeout_seconds: int
    last_sync: LdapSync | None


class LdapLookup(InputModel):
    username: str = Field(min_length=1, max_length=256)


class LdapLookupResult(BaseModel):
    found: bool
    username: str | None = None
    dn: str | None = None
    display_name: str | None = None
    email: str | None = None
    groups: list[str] = Field(default_factory=list, description="Directory group DNs.")
    role: str | None = Field(None, description="The role the rules give.")
    moorage_groups: list[str] = Field(default_factory=list)
    missing_groups: list[str] = Field(
        default_factory=list, description="Rule groups that do not exist in the org."
    )
