"""Credentials of the workspace origin: one-time tickets and per-session cookies.

When web apps have their own origin (``MOORAGE_WORKSPACE_DOMAIN`` or
``MOORAGE_WORKSPACE_PORT``), Moorage's login cookie is never accepted there.
Access works like JupyterHub's per-user OAuth:

1. the user opens ``/s/<id>/`` on Moorage; Moorage checks the login and that
   the session is theirs (or that they are an admin), then redirects to the
   workspace origin with ``?moorage_ticket=<ticket>``;
2. a ticket names one session and one user, lives :data:`TICKET_TTL_SECONDS`
   and is redeemed once (its nonce is remembered until it expires);
3. the workspace origin answers with its own cookie ``moorage_ws_<id>``
   (HttpOnly, path ``/s/<id>/``, lifetime :data:`COOKIE_TTL_SECONDS`, renewed
   while used) and redirects to the URL without the ticket.

Tickets and cookies are sealed with the keyring (AES-GCM, a context of their
own), so they cannot be forged, read, or used as one another. Used nonces are
kept in this process's memory: with several server processes a ticket could be
redeemed once in each of them within its minute.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from moorage.errors import Unauthenticated
from moorage.security.crypto import Keyring, SecretError

__all__ = [
    "COOKIE_PREFIX",
    "COOKIE_TTL_SECONDS",
    "TICKET_PARAM",
    "TICKET_TTL_SECONDS",
    "Pass",
    "cookie_name",
    "issue_cookie",
    "issue_ticket",
    "read_cookie",
    "redeem_ticket",
]

TICKET_PARAM = "moorage_ticket"
"""Query parameter carrying a ticket to the workspace origin."""
TICKET_TTL_SECONDS = 60
COOKIE_PREFIX = "moorage_ws_"
COOKIE_TTL_SECONDS = 3600
"""Lifetime of a workspace cookie; renewed once half of it has passed."""

_TICKET_CONTEXT = "workspace.ticket"
_COOKIE_CONTEXT = "workspace.cookie"
_used_nonces: dict[str, float] = {}


@dataclass(frozen=True)
class Pass:
    """What a ticket or cookie grants: ``user_id`` may reach ``session_id``
    until ``expires`` (Unix seconds); with ``grant_id``, through that share grant
    (``user_id`` is then the signed-in user who holds it, or empty), checked again
    on every request."""

    session_id: str
    user_id: str
    expires: float
    grant_id: str | None = None


def cookie_name(session_id: str) -> str:
    """The workspace cookie of one session: ``moorage_ws_<session-id>``."""
    return f"{COOKIE_PREFIX}{session_id}"


def _seal(keyring: Keyring, context: str, grant: Pass, **extra: str) -> str:
    payload = {"s": grant.session_id, "u": grant.user_id, "e": grant.expires, **extra}
    if grant.grant_id is not None:
        payload["g"] = grant.grant_id
    return keyring.seal(json.dumps(payload), context)


def _grant_of(payload: dict) -> str | None:
    grant = payload.get("g")
    return grant if isinstance(grant, str) else None


def _open(keyring: Keyring, context: str, sealed: str, session_id: str, now: float) -> dict:
    try:
        payload = json.loads(keyring.open(sealed, context))
    except (SecretError, ValueError, UnicodeDecodeError) as exc:
        raise Unauthenticated("the workspace credential is not valid", code="bad_token") from exc
    if not isinstance(payload, dict) or payload.get("s") != session_id:
        raise Unauthenticated("the workspace credential is for another session", code="bad_token")
    if not isinstance(payload.get("e"), int | float) or payload["e"] <= now:
        raise Unauthenticated("the workspace credential has expired", code="token_expired")
    if not isinstance(payload.get("u"), str):
        raise Unauthenticated("the workspace credential is not valid", code="bad_token")
    return payload


def issue_ticket(
    keyring: Keyring,
    session_id: str,
    user_id: str,
    now: float | None = None,
    *,
    grant_id: str | None = None,
) -> str:
    """A one-time ticket letting ``user_id`` (or the holder of the share grant
    ``grant_id``) into ``session_id`` on the workspace origin, valid
    :data:`TICKET_TTL_SECONDS` from ``now`` (Unix seconds)."""
    now = time.time() if now is None else now
    grant = Pass(session_id, user_id, now + TICKET_TTL_SECONDS, grant_id)
    return _seal(keyring, _TICKET_CONTEXT, grant, n=secrets.token_urlsafe(16))


def redeem_ticket(keyring: Keyring, ticket: str, session_id: str, now: float | None = None) -> Pass:
    """Check and use up a ticket made by :func:`issue_ticket` for ``session_id``.

    Raises:
        Unauthenticated: forged, for another session, expired (``token_expired``),
            or already used.
    """
    now = time.time() if now is None else now
    payload = _open(keyring, _TICKET_CONTEXT, ticket, session_id, now)
    nonce = payload.get("n")
    for old, expires in list(_used_nonces.items()):
        if expires <= now:
            del _used_nonces[old]
    if not isinstance(nonce, str) or nonce in _used_nonces:
        raise Unauthenticated("the workspace ticket was already used", code="bad_token")
    _used_nonces[nonce] = payload["e"]
    return Pass(session_id, payload["u"], payload["e"], _grant_of(payload))


def issue_cookie(
    keyring: Keyring,
    session_id: str,
    user_id: str,
    now: float | None = None,
    *,
    grant_id: str | None = None,
) -> str:
    """The value of the workspace cookie for ``user_id`` (or the share grant
    ``grant_id``) in ``session_id``, valid :data:`COOKIE_TTL_SECONDS` from ``now``."""
    now = time.time() if now is None else now
    grant = Pass(session_id, user_id, now + COOKIE_TTL_SECONDS, grant_id)
    return _seal(keyring, _COOKIE_CONTEXT, grant)


def read_cookie(keyring: Keyring, value: str, session_id: str, now: float | None = None) -> Pass:
    """What a workspace cookie grants.

    Raises:
        Unauthenticated: forged, a ticket, for another session, or expired.
    """
    now = time.time() if now is None else now
    payload = _open(keyring, _COOKIE_CONTEXT, value, session_id, now)
    return Pass(session_id, payload["u"], payload["e"], _grant_of(payload))
