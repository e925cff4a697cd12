"""OpenID Connect provider settings: request and response models (issue 13).

The service (:mod:`moorage.services.oidc_providers`) checks what a schema cannot:
the issuer URL's scheme, that the scopes hold ``openid``, the rules' shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr

from moorage.models.user import Role
from moorage.schemas._input import InputModel

__all__ = ["OidcProviderCreate", "OidcProviderPublic", "OidcProviderUpdate"]

ProviderName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="Short name, in the redirect URI `/login/oidc/<name>/callback`; "
        "unique across orgs.",
    ),
]
ClaimName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/-]+$")]
Issuer = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        description="The issuer URL (https; http only on loopback), or its discovery "
        "document's URL (`…/.well-known/openid-configuration`, OpenID Connect Discovery 1.0).",
    ),
]
Scopes = Annotated[
    str, Field(min_length=1, max_length=512, description="Space-separated; must hold `openid`.")
]
Rules = Annotated[
    list[dict[str, Any]],
    Field(
        max_length=500,
        description='Directory group rules: `[{"group", "role", "groups"}]` '
        "(moorage.services.directory_rules).",
    ),
]


class OidcProviderUpdate(InputModel):
    """Fields to change; absent fields keep their value. ``client_secret``: a new
    secret (sealed when stored, never returned); ``""`` removes it (a public client)."""

    display_name: str | None = Field(None, min_length=1, max_length=128)
    issuer: Issuer | None = None
    client_id: str | None = Field(None, min_length=1, max_length=255)
    client_secret: SecretStr | None = Field(None, max_length=1024)
    scopes: Scopes | None = None
    groups_claim: ClaimName | None = Field(None, description="The claim listing the groups.")
    username_claim: ClaimName | None = Field(None, description="The claim giving the username.")
    rules: Rules | None = None
    default_role: Role | None = Field(None, description="The role when no rule gives one.")
    enabled: bool | None = None


class OidcProviderCreate(InputModel):
    """A new provider of the caller's org."""

    name: ProviderName
    display_name: str = Field(min_length=1, max_length=128, description="On the login button.")
    issuer: Issuer
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr | None = Field(None, max_length=1024)
    scopes: Scopes = "openid profile email groups"
    groups_claim: ClaimName = "groups"
    username_claim: ClaimName = "preferred_username"
    rules: Rules = Field(default_factory=list)
    default_role: Role = Role.MEMBER
    enabled: bool = True


class OidcProviderPublic(BaseModel):
    """A provider's settings as the API shows them: never the client secret, only
    whether one is set. ``redirect_uri``: what to register at the provider."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_secret_set: bool
    scopes: str
    groups_claim: str
    username_claim: str
    rules: list[dict[str, Any]]
    default_role: Role
    enabled: bool
    redirect_uri: str
    created_at: datetime
    updated_at: datetime
