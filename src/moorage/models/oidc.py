"""OpenID Connect providers of an org, and sign-ins in progress with them (issue 13).

See :mod:`moorage.services.oidc_providers` (the admins' settings) and
:mod:`moorage.services.oidc_sign_in` (the authorization code flow).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from moorage.db.base import Base, UTCDateTime, id_column, utcnow

__all__ = ["OidcProvider", "OidcSignIn"]


class OidcProvider(Base):
    """One OpenID Connect provider an org's people sign in with.

    ``name`` is unique across orgs: it is in the redirect URI registered at the
    provider (``/login/oidc/<name>/callback``), which the login page, shared by
    every org, must tell apart. ``issuer``: the issuer URL, or its discovery
    document's URL (OpenID Connect Discovery 1.0, section 4). ``client_secret_sealed``
    is sealed with the keyring (context ``oidc.client_secret``), never returned.
    ``rules``: :mod:`moorage.services.directory_rules` JSON, applied to the values of
    the ``groups_claim`` at every sign-in.
    """

    __tablename__ = "oidc_providers"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    scopes: Mapped[str] = mapped_column(String(512), default="openid profile email groups")
    groups_claim: Mapped[str] = mapped_column(String(128), default="groups")
    username_claim: Mapped[str] = mapped_column(String(128), default="preferred_username")
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    default_role: Mapped[str] = mapped_column(String(16), default="member")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OidcSignIn(Base):
    """A sign-in sent to a provider and not yet back: what the callback needs.

    Keyed by the SHA-256 of the ``state`` sent (the browser keeps the state itself in
    a cookie, so a callback from another browser is refused); the row is deleted when
    the callback takes it, so a replayed callback finds nothing. ``code_verifier``
    (RFC 7636) is sealed (context ``oidc.code_verifier``). ``next``: a local path.
    """

    __tablename__ = "oidc_sign_ins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(
        ForeignKey("oidc_providers.id", ondelete="CASCADE"), index=True
    )
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier_sealed: Mapped[str] = mapped_column(String(512))
    redirect_uri: Mapped[str] = mapped_column(Text)
    next: Mapped[str] = mapped_column(String(2048), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
