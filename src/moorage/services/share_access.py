"""Admission to a session's gateway endpoints: as its owner (or an admin) by the
login, or through a share grant (see :mod:`moorage.services.shares`).

:func:`admit` is the one check every gateway entry point calls (terminal, desktop,
the web-app proxy and its websockets, the shared session's page). A grant is
checked against the database on every call:

* the sealed cookie opens (keyring context :data:`~moorage.services.shares.GRANT_CONTEXT`)
  and names this session; a grant for another session opens nothing here;
* its link is not revoked nor expired, the grant was not ended by the owner, and
  the link's session is the one asked for;
* a named link's grant also needs the same user signed in now (a copied cookie
  alone is useless), and a grant opened by a signed-in user needs that user still
  active;
* a websocket or unsafe request carrying a grant must come from Moorage's own
  origin (as for the login cookie, :func:`~moorage.security.origin.cross_site`).

Errors: :class:`~moorage.errors.Unauthenticated` (no credential at all, or a
named grant without its user), :class:`~moorage.errors.NotFound` (not the
caller's session and no grant for it; a forged grant), :class:`~moorage.errors.Gone`
(the grant no longer holds: ``share_ended``), :class:`~moorage.errors.Forbidden`
(cross-site).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from moorage.errors import Forbidden, Gone, MoorageError, NotFound, Unauthenticated
from moorage.models.session import WorkspaceSession
from moorage.models.share import ShareGrant, ShareRole
from moorage.models.user import User
from moorage.security.auth import authenticate_token, credential_of
from moorage.security.crypto import SecretError
from moorage.security.origin import cross_site
from moorage.services.connections import LiveConnection, Recheck
from moorage.services.sessions import SessionService
from moorage.services.shares import GRANT_CONTEXT, ShareService, grant_cookie_name

__all__ = [
    "SAFE_METHODS",
    "Admission",
    "Guest",
    "admit",
    "admit_pass",
    "check_grant",
    "guest_of",
    "recheck_of",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Guest:
    """A holder of a valid grant: which link and grant, what role, until when."""

    grant_id: str
    link_id: str
    session_id: str
    role: str
    display_name: str
    user_id: str | None
    expires_at: datetime


@dataclass(frozen=True)
class Admission:
    """Who reaches a session's gateway endpoint and with what role.

    ``role``: ``owner``, ``admin`` (an admin of the org, not the owner), ``peer`` or
    ``observer``. ``guest`` is set when the admission is through a share grant.
    """

    session: WorkspaceSession
    role: str
    who: str
    user: User | None
    guest: Guest | None = None

    @property
    def may_control(self) -> bool:
        """False for observers: nothing from them may reach the workspace."""
        return self.role != ShareRole.OBSERVER.value

    def connection(self, kind: str, source: str | None) -> LiveConnection:
        """A :class:`LiveConnection` of this admission, for the registry."""
        guest = self.guest
        return LiveConnection(
            session_id=self.session.id,
            org_id=self.session.org_id,
            kind=kind,
            who=self.who,
            role=self.role,
            actor=self.user.username if self.user is not None else "",
            user_id=self.user.id if self.user is not None else None,
            link_id=guest.link_id if guest else None,
            grant_id=guest.grant_id if guest else None,
            source=source,
        )


async def _user(shares: ShareService, connection: HTTPConnection) -> User | None:
    credential = credential_of(connection)
    if not credential:
        return None
    async with shares.sessionmaker() as db:
        return await authenticate_token(db, credential)


async def guest_of(
    shares: ShareService, connection: HTTPConnection, session_id: str, user: User | None
) -> Guest | None:
    """The grant to ``session_id`` that ``connection`` carries, checked now; None
    when it carries none.

    Raises:
        NotFound: a forged grant, or one for another session.
        Gone: revoked, expired, ended, or its user disabled (``share_ended``).
        Unauthenticated: a named link's grant without that user signed in.
    """
    value = connection.cookies.get(grant_cookie_name(session_id))
    if not value:
        return None
    try:
        payload = json.loads(shares.keyring.open(value, GRANT_CONTEXT))
    except (SecretError, ValueError, UnicodeDecodeError) as exc:
        raise NotFound(f"no session {session_id}", code="session_not_found") from exc
    if not isinstance(payload, dict) or payload.get("s") != session_id:
        raise NotFound(f"no session {session_id}", code="session_not_found")
    grant_id = payload.get("g")
    if not isinstance(grant_id, str):
        raise NotFound(f"no session {session_id}", code="session_not_found")
    return await check_grant(shares, grant_id, session_id, user)


async def check_grant(
    shares: ShareService, grant_id: str, session_id: str, user: User | None
) -> Guest:
    """The grant ``grant_id`` to ``session_id`` while it holds (see :func:`guest_of`)."""
    async with shares.sessionmaker() as db:
        grant = await db.get(ShareGrant, grant_id, populate_existing=True)
        if grant is None or grant.link.session_id != session_id:
            raise NotFound(f"no session {session_id}", code="session_not_found")
        link = grant.link
        if grant.ended_at is not None or link.revoked_at is not None:
            raise Gone("this share link was revoked", code="share_ended")
        if link.expires_at <= shares.clock():
            raise Gone("this share link has expired", code="share_ended")
        if link.user_ids is not None and (user is None or user.id != grant.user_id):
            raise Unauthenticated("sign in as the user this link is for", code="share_sign_in")
        if grant.user_id is not None:
            opener = await db.get(User, grant.user_id)
            if opener is None or not opener.is_active:
                raise Gone("this share link's user is disabled", code="share_ended")
        return Guest(
            grant.id,
            link.id,
            session_id,
            link.role,
            grant.display_name,
            grant.user_id,
            link.expires_at,
        )


async def admit(
    shares: ShareService, sessions: SessionService, connection: HTTPConnection, session_id: str
) -> Admission:
    """Who ``connection`` is for ``session_id``: its owner or an admin (login cookie
    or bearer token), else the holder of a grant to it (see the module docstring).

    Raises:
        Unauthenticated, NotFound, Gone, Forbidden: see the module docstring.
    """
    user: User | None = None
    failure: MoorageError | None = None
    try:
        user = await _user(shares, connection)
    except Unauthenticated as exc:
        failure = exc
    if user is not None:
        try:
            session = await sessions.get(user, session_id)
        except NotFound as exc:
            failure = exc
        else:
            role = "owner" if session.user_id == user.id else "admin"
            return Admission(session, role, user.username, user)
    guest = await guest_of(shares, connection, session_id, user)
    if guest is None:
        raise failure or Unauthenticated("log in or open a share link")
    websocket = connection.scope["type"] == "websocket"
    if (websocket or connection.scope.get("method") not in SAFE_METHODS) and cross_site(connection):
        raise Forbidden("cross-site request refused", code="cross_site")
    return await _guest_admission(shares, guest, user)


async def admit_pass(
    shares: ShareService,
    sessions: SessionService,
    session_id: str,
    user: User | None,
    grant_id: str | None,
) -> Admission:
    """Admission from a credential already checked elsewhere (the workspace origin's
    ticket or cookie): ``user`` as owner or admin, or the share grant ``grant_id``
    (checked now, with ``user`` as the signed-in user for a named link).

    Raises:
        Unauthenticated, NotFound, Gone: see the module docstring.
    """
    if grant_id is None:
        if user is None:
            raise Unauthenticated("open this workspace from Moorage")
        session = await sessions.get(user, session_id)
        return Admission(
            session, "owner" if session.user_id == user.id else "admin", user.username, user
        )
    guest = await check_grant(shares, grant_id, session_id, user)
    return await _guest_admission(shares, guest, user)


async def _guest_admission(shares: ShareService, guest: Guest, user: User | None) -> Admission:
    async with shares.sessionmaker() as db:
        session = await db.get(WorkspaceSession, guest.session_id)
    if session is None:
        raise NotFound(f"no session {guest.session_id}", code="session_not_found")
    return Admission(session, guest.role, guest.display_name, user, guest)


def recheck_of(shares: ShareService, admission: Admission) -> Recheck | None:
    """The watchdog's question for a share connection (None for owners and admins):
    the grant's expiry while it holds, else None. The named user is not asked again
    (a websocket carries the login it was opened with)."""
    guest = admission.guest
    if guest is None:
        return None
    user = admission.user

    async def recheck() -> datetime | None:
        try:
            checked = await check_grant(shares, guest.grant_id, guest.session_id, user)
        except (Gone, NotFound, Unauthenticated):
            return None
        return checked.expires_at.astimezone(UTC)

    return recheck
