"""An org's LDAP / Active Directory settings: read, validate and save them (admins of
the org only), and turn them into what :mod:`moorage.drivers.ldap` connects with.

Fields (see README, "LDAP and Active Directory"):

* ``url``: ``ldap://host[:port]`` or ``ldaps://host[:port]`` (RFC 4516, no DN or
  query part). ``ldap://`` must use StartTLS (``start_tls``), except to a loopback
  host, so no password crosses a network in clear.
* ``ca_pem``: the PEM certificate(s) of the CA that signed the server's certificate,
  when it is not one the system trusts.
* ``bind_dn`` and ``bind_password``: the service account that searches. The password
  is sealed with the keyring (context :data:`BIND_PASSWORD_CONTEXT`) and never
  returned: reads say only ``bind_password_set``.
* ``user_base``, ``user_filter`` (RFC 4515), ``username_attribute``,
  ``display_name_attribute``, ``email_attribute``.
* ``group_base`` (empty: the users' ``memberOf``), ``group_filter``,
  ``group_member_attribute``, ``nested_groups`` (Active Directory's
  LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941; needs ``group_base``).
* ``group_rules`` (:mod:`moorage.services.directory_rules`), ``default_role``.
* ``sync_interval_minutes`` (1-1440, default 15), ``timeout_seconds`` (1-60).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.db.base import utcnow
from moorage.drivers.ldap import SearchSpec, ServerSpec
from moorage.errors import InvalidInput, NotFound
from moorage.models.directory import LdapDirectory
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.directory_rules import parse_rules

__all__ = [
    "BIND_PASSWORD_CONTEXT",
    "DEFAULTS",
    "directory_of",
    "public",
    "require_directory",
    "save",
    "search_spec",
    "server_spec",
    "settings_of",
    "validate",
]

BIND_PASSWORD_CONTEXT = "ldap.bind_password"
DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "url": "",
    "start_tls": False,
    "ca_pem": None,
    "bind_dn": "",
    "user_base": "",
    "user_filter": "(objectClass=inetOrgPerson)",
    "username_attribute": "uid",
    "display_name_attribute": "cn",
    "email_attribute": "mail",
    "group_base": "",
    "group_filter": "(objectClass=groupOfNames)",
    "group_member_attribute": "member",
    "nested_groups": False,
    "group_rules": [],
    "default_role": Role.MEMBER.value,
    "sync_interval_minutes": 15,
    "timeout_seconds": 10,
}
_ATTRIBUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]{0,63}|\d+(?:\.\d+)+)$")  # RFC 4512 oid
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


async def directory_of(db: AsyncSession, org_id: str) -> LdapDirectory | None:
    """The org's directory row, or None."""
    return await db.scalar(select(LdapDirectory).where(LdapDirectory.org_id == org_id))


def public(directory: LdapDirectory | None) -> dict[str, Any]:
    """The settings as the API and page show them: every field but the password
    (``bind_password_set`` instead), and the last sync's time, report and error.
    ``configured`` is False (and the rest the defaults) when the org has none."""
    if directory is None:
        return {**DEFAULTS, "configured": False, "bind_password_set": False, "last_sync": None}
    out = {name: getattr(directory, name) for name in DEFAULTS}
    out["group_rules"] = list(directory.group_rules or [])
    out.update(
        configured=True,
        bind_password_set=bool(directory.bind_password_sealed),
        last_sync=None
        if directory.last_sync_at is None
        else {
            "at": directory.last_sync_at,
            "report": directory.last_sync_report,
            "error": directory.last_sync_error,
        },
    )
    return out


async def settings_of(db: AsyncSession, admin: User) -> dict[str, Any]:
    """:func:`public` of ``admin``'s org. Raises Forbidden for a non-admin."""
    require_role(admin, Role.ADMIN)
    return public(await directory_of(db, admin.org_id))


def _text(values: dict[str, Any], name: str, *, required: bool, limit: int) -> str:
    value = values.get(name, DEFAULTS[name])
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput("%(field)s must be a string", params={"field": name}, field=name)
    value = value.strip()
    if required and not value:
        raise InvalidInput("%(field)s is required", params={"field": name}, field=name)
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(
            "%(field)s must be at most %(limit)s characters",
            params={"field": name, "limit": limit},
            field=name,
        )
    return value


def _check_url(url: str, start_tls: bool) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if (
        scheme not in ("ldap", "ldaps")
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.username
        or (port is not None and not 0 < port < 65536)
    ):
        raise InvalidInput("url must be ldap://host[:port] or ldaps://host[:port]", field="url")
    if scheme == "ldaps" and start_tls:
        raise InvalidInput(
            "start_tls is for ldap:// URLs; ldaps:// is TLS already", field="start_tls"
        )
    if scheme == "ldap" and not start_tls and not _is_loopback(host):
        raise InvalidInput(
            "an ldap:// URL needs start_tls (or use ldaps://): passwords must not cross "
            "the network in clear",
            field="start_tls",
        )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_filter(value: str, field: str) -> None:
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if not value.startswith("(") or not value.endswith(")") or depth != 0:
        raise InvalidInput(
            "%(field)s must be an LDAP filter in parentheses, such as (objectClass=person)",
            params={"field": field},
            field=field,
        )


def _check_dn(value: str, field: str) -> None:
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        parse_dn(value)
    except (LDAPInvalidDnError, ValueError, IndexError) as exc:
        raise InvalidInput(
            "%(field)s is not a DN (such as ou=people,dc=example,dc=org)",
            params={"field": field},
            field=field,
        ) from exc


def _flag(values: dict[str, Any], name: str) -> bool:
    value = values.get(name, DEFAULTS[name])
    if not isinstance(value, bool):
        raise InvalidInput("%(field)s must be true or false", params={"field": name}, field=name)
    return value


def _number(values: dict[str, Any], name: str, low: int, high: int) -> int:
    value = values.get(name, DEFAULTS[name])
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            "%(field)s must be a whole number from %(low)s to %(high)s",
            params={"field": name, "low": low, "high": high},
            field=name,
        )
    return value


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """The settings ``values`` (a JSON object, missing fields take :data:`DEFAULTS`)
    checked and normalised, without the password.

    Raises:
        InvalidInput: naming the first wrong field (``url``, ``start_tls``,
            ``user_filter``, ``group_rules[1].role`` ...).
    """
    out: dict[str, Any] = {}
    out["enabled"] = _flag(values, "enabled")
    out["start_tls"] = _flag(values, "start_tls")
    out["nested_groups"] = _flag(values, "nested_groups")
    out["url"] = _text(values, "url", required=True, limit=255)
    _check_url(out["url"], out["start_tls"])
    ca_pem = _text(values, "ca_pem", required=False, limit=65536)
    if ca_pem and "-----BEGIN CERTIFICATE-----" not in ca_pem:
        raise InvalidInput("ca_pem must hold PEM certificates", field="ca_pem")
    out["ca_pem"] = ca_pem or None
    out["bind_dn"] = _text(values, "bind_dn", required=False, limit=512)
    for name in ("user_base", "group_base"):
        out[name] = _text(values, name, required=name == "user_base", limit=512)
    for name in ("bind_dn", "user_base", "group_base"):
        if out[name]:
            _check_dn(out[name], name)
    for name in ("user_filter", "group_filter"):
        out[name] = _text(values, name, required=True, limit=1024)
        _check_filter(out[name], name)
    for name in (
        "username_attribute",
        "display_name_attribute",
        "email_attribute",
        "group_member_attribute",
    ):
        out[name] = _text(values, name, required=True, limit=64)
        if not _ATTRIBUTE.match(out[name]):
            raise InvalidInput(
                "%(field)s must be an attribute name, such as uid",
                params={"field": name},
                field=name,
            )
    if out["nested_groups"] and not out["group_base"]:
        raise InvalidInput(
            "nested_groups needs group_base (the groups are searched there)", field="group_base"
        )
    rules = parse_rules(values.get("group_rules", []), field="group_rules")
    out["group_rules"] = [rule.to_dict() for rule in rules]
    role = values.get("default_role", DEFAULTS["default_role"])
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            "default_role must be one of %(allowed)s",
            params={"allowed": ", ".join(r.value for r in Role)},
            field="default_role",
        )
    out["default_role"] = role
    out["sync_interval_minutes"] = _number(values, "sync_interval_minutes", 1, 1440)
    out["timeout_seconds"] = _number(values, "timeout_seconds", 1, 60)
    return out


async def save(
    db: AsyncSession,
    admin: User,
    keyring: Keyring,
    values: dict[str, Any],
    *,
    source: str | None = None,
) -> LdapDirectory:
    """Create or replace the settings of ``admin``'s org (not committed; audited
    ``directory.update``). ``values["bind_password"]``: a string sets it (sealed),
    ``""`` clears it, absent or None keeps the stored one.

    Raises:
        Forbidden: ``admin`` is not an admin.
        InvalidInput: as :func:`validate`; ``bind_password`` not a string.
    """
    require_role(admin, Role.ADMIN)
    checked = validate(values)
    password = values.get("bind_password")
    if password is not None and (not isinstance(password, str) or len(password) > 1024):
        raise InvalidInput("bind_password must be a string", field="bind_password")
    directory = await directory_of(db, admin.org_id)
    if directory is None:
        directory = LdapDirectory(org_id=admin.org_id)
        db.add(directory)
    for name, value in checked.items():
        setattr(directory, name, value)
    if password is not None:
        directory.bind_password_sealed = (
            keyring.seal(password, BIND_PASSWORD_CONTEXT) if password else None
        )
    directory.updated_at = utcnow()
    await db.flush()
    audit_in(
        db, admin, "directory.update", "directory", "ldap", detail=checked["url"], source=source
    )
    return directory


async def require_directory(db: AsyncSession, admin: User) -> LdapDirectory:
    """``admin``'s org's directory. Raises Forbidden (not an admin) or NotFound."""
    require_role(admin, Role.ADMIN)
    directory = await directory_of(db, admin.org_id)
    if directory is None:
        raise NotFound("this organisation has no LDAP directory set up", code="no_directory")
    return directory


def server_spec(directory: LdapDirectory, keyring: Keyring) -> ServerSpec:
    """What :mod:`moorage.drivers.ldap` connects with (the password opened)."""
    password = (
        keyring.open(directory.bind_password_sealed, BIND_PASSWORD_CONTEXT)
        if directory.bind_password_sealed
        else ""
    )
    return ServerSpec(
        url=directory.url,
        bind_dn=directory.bind_dn,
        bind_password=password,
        start_tls=directory.start_tls,
        ca_pem=directory.ca_pem,
        timeout_seconds=float(directory.timeout_seconds),
    )


def search_spec(directory: LdapDirectory) -> SearchSpec:
    """Where :mod:`moorage.drivers.ldap` searches users and groups."""
    return SearchSpec(
        user_base=directory.user_base,
        user_filter=directory.user_filter,
        username_attribute=directory.username_attribute,
        display_name_attribute=directory.display_name_attribute,
        email_attribute=directory.email_attribute,
        group_base=directory.group_base,
        group_filter=directory.group_filter,
        group_member_attribute=directory.group_member_attribute,
        nested_groups=directory.nested_groups,
    )
