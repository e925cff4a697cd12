"""Share links: letting other people into one session, as observers or peers.

The mechanism, in three parts:

1. **A link** (:class:`~moorage.models.share.ShareLink`) names one session, a role
   (``observer`` or ``peer``), an expiry (default :data:`DEFAULT_MINUTES`, capped at
   the session's deadline) and either named users or anyone holding it. Its token
   (``msh_<prefix>_<secret>``, 32 random bytes) is shown once; only its SHA-256 is
   kept. The session's owner, an admin of its org, or the instructor of the
   workshop whose participant it is create and
   revoke links (:meth:`ShareService.create`, :meth:`ShareService.revoke`).
2. **A grant** (:class:`~moorage.models.share.ShareGrant`): opening the link
   (:meth:`ShareService.open`) checks it (and, for a named link, that the
   signed-in user is one of those named; otherwise a display name is asked) and
   answers a grant sealed with the keyring, kept by the browser in the cookie
   ``moorage_share_<session-id>`` (:func:`grant_cookie_name`). The grant lets its
   holder reach that one session's gateway endpoints with that role, and nothing
   else: no API route, page or other session reads it.
3. **Admission** (:mod:`moorage.services.share_access`): every gateway request or
   websocket is admitted either as the session's owner (or an admin) by the login,
   or through a grant, checked against the database each time (link not revoked
   nor expired, grant not ended, the named user still signed in); the gateway then
   enforces the role on the client → workspace direction. Revoking a link ends
   every connection opened with it at once (:mod:`moorage.services.connections`).

The classroom's read-only instructor view reuses this unchanged: it
creates a named observer link for the instructor on a participant's session
(:meth:`ShareService.create` with ``usernames=[instructor]``) and opens it
(:meth:`ShareService.open`); the gateway then enforces the role as for any
observer, and the session page lists the instructor as connected. A "take control"
button is the same with ``role=peer``.

Audit: ``share.create``, ``share.revoke``, ``share.open`` (by the guest),
``session.connect`` / ``session.disconnect`` (every gateway websocket, owners'
too) and ``session.kick`` (the owner disconnected someone).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.session import WorkspaceSession
from moorage.models.share import ShareGrant, ShareLink, ShareRole
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import has_role
from moorage.security.tokens import generate_token
from moorage.services.audit import audit
from moorage.services.connections import (
    CLOSE_DISCONNECTED,
    CLOSE_SHARE_ENDED,
    ConnectionRegistry,
    LiveConnection,
)
from moorage.services.share_opening import (
    GRANT_CONTEXT,
    SHAREABLE_STATES,
    TOKEN_MARK,
    Invitation,
    OpenedGrant,
    ShareOpening,
)
from moorage.services.watching import runs_the_workshop_of

__all__ = [
    "DEFAULT_MINUTES",
    "GRANT_CONTEXT",
    "SHARE_COOKIE_PREFIX",
    "TOKEN_MARK",
    "Invitation",
    "NewShareLink",
    "OpenedGrant",
    "ShareService",
    "grant_cookie_name",
    "link_state",
    "may_share",
]

DEFAULT_MINUTES = 60
SHARE_COOKIE_PREFIX = "moorage_share_"


def grant_cookie_name(session_id: str) -> str:
    """The cookie holding a grant to ``session_id``: ``moorage_share_<session-id>``."""
    return f"{SHARE_COOKIE_PREFIX}{session_id}"


def link_state(link: ShareLink, now: datetime) -> str:
    """``revoked``, ``expired`` or ``active``."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= now else "active"


def may_share(user: User, session: WorkspaceSession) -> bool:
    """True when ``user`` may create, list and revoke the share links of ``session``,
    see who is connected and disconnect them, without a look-up: its owner, or an
    admin of its org. The instructor who runs a workshop may too for its
    participants' sessions (:meth:`ShareService._shared_session` asks
    :func:`~moorage.services.watching.runs_the_workshop_of`)."""
    if session.org_id != user.org_id:
        return False
    return session.user_id == user.id or user.role == Role.ADMIN


@dataclass(frozen=True)
class NewShareLink:
    """A link just created: ``token`` is shown once (the URL is ``/share/<token>``)."""

    link: ShareLink
    token: str


class ShareService(ShareOpening):
    """Share links, their grants and the registry of live gateway connections.

    Args:
        sessionmaker: opens database sessions.
        keyring: seals grants.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.keyring = keyring
        self.clock = clock
        self.connections = ConnectionRegistry(sessionmaker, clock=clock)

    # -- links -----------------------------------------------------------------

    async def _shared_session(
        self, db: AsyncSession, user: User, session_id: str
    ) -> WorkspaceSession:
        session = await db.get(WorkspaceSession, session_id)
        if session is not None and (
            may_share(user, session)
            or (
                session.org_id == user.org_id
                and has_role(user, Role.INSTRUCTOR)
                and await runs_the_workshop_of(db, user, session.id)
            )
        ):
            return session
        raise NotFound(
            "no session %(session_id)s",
            params={"session_id": session_id},
            code="session_not_found",
        )

    async def create(
        self,
        user: User,
        session_id: str,
        *,
        role: str,
        minutes: int | None = None,
        usernames: builtins.list[str] | None = None,
        source: str | None = None,
    ) -> NewShareLink:
        """Create a share link to ``session_id``; audited ``share.create``.

        ``minutes`` (default :data:`DEFAULT_MINUTES`) is cut to the session's deadline.
        ``usernames``: the users of the session's org it is for; empty or None makes
        it a link for anyone holding it.

        Raises:
            NotFound: no such session, or ``user`` may not share it (:func:`may_share`).
            Conflict: the session is not ready or stopped (``session_not_ready``).
            InvalidInput: a bad role, a duration below 1 minute, or an unknown user
                (fields ``role``, ``minutes``, ``users``).
        """
        if role not in (ShareRole.OBSERVER.value, ShareRole.PEER.value):
            raise InvalidInput("role: observer or peer", field="role")
        minutes = DEFAULT_MINUTES if minutes is None else minutes
        if minutes < 1:
            raise InvalidInput("minutes: at least 1", field="minutes")
        names = sorted({n.strip() for n in usernames or () if n.strip()})
        token = generate_token(TOKEN_MARK)
        async with write_session(self.sessionmaker) as db:
            session = await self._shared_session(db, user, session_id)
            if session.state not in SHAREABLE_STATES:
                raise Conflict(
                    "the session is %(state)s",
                    params={"state": session.state},
                    code="session_not_ready",
                )
            user_ids = None
            if names:
                found = list(
                    await db.scalars(
                        select(User).where(
                            User.org_id == session.org_id,
                            User.username.in_(names),
                            User.is_active.is_(True),
                        )
                    )
                )
                missing = sorted(set(names) - {u.username for u in found})
                if missing:
                    raise InvalidInput(f"users: no user {', '.join(missing)}", field="users")
                user_ids = sorted(u.id for u in found)
            now = self.clock()
            expires_at = min(now + timedelta(minutes=minutes), session.expires_at)
            link = ShareLink(
                org_id=session.org_id,
                session_id=session.id,
                created_by=user.username,
                role=role,
                token_prefix=token.prefix,
                token_hash=token.hash,
                user_ids=user_ids,
                created_at=now,
                expires_at=expires_at,
            )
            db.add(link)
        audience = f"for {', '.join(names)}" if names else "for anyone with the link"
        detail = f"{role} link {link.id} {audience}, until {expires_at.isoformat()}"
        await audit(
            self.sessionmaker,
            None,
            user,
            "share.create",
            "session",
            session_id,
            detail=detail,
            source=source,
        )
        return NewShareLink(link, token.plaintext)

    async def list(self, user: User, session_id: str) -> builtins.list[ShareLink]:
        """The share links of ``session_id``, newest first (revoked and expired included).

        Raises:
            NotFound: no such session, or ``user`` may not share it.
        """
        async with self.sessionmaker() as db:
            await self._shared_session(db, user, session_id)
            rows = await db.scalars(
                select(ShareLink)
                .where(ShareLink.session_id == session_id)
                .order_by(ShareLink.created_at.desc())
            )
            return list(rows)

    async def usernames(self, links: builtins.list[ShareLink]) -> dict[str, str]:
        """Usernames of the users the ``links`` name, by user id."""
        ids = {i for link in links for i in link.user_ids or ()}
        if not ids:
            return {}
        async with self.sessionmaker() as db:
            users = await db.scalars(select(User).where(User.id.in_(ids)))
            return {u.id: u.username for u in users}

    async def revoke(
        self, user: User, session_id: str, link_id: str, *, source: str | None = None
    ) -> ShareLink:
        """Revoke a link now (idempotent) and end every connection opened with it;
        audited ``share.revoke`` (with how many connections were closed).

        Raises:
            NotFound: no such link on that session, or ``user`` may not share it.
        """
        async with write_session(self.sessionmaker) as db:
            await self._shared_session(db, user, session_id)
            link = await db.get(ShareLink, link_id, with_for_update=True)
            if link is None or link.session_id != session_id:
                raise NotFound(
                    "no share link %(link_id)s", params={"link_id": link_id}, code="share_not_found"
                )
            if link.revoked_at is None:
                link.revoked_at, link.revoked_by = self.clock(), user.username
        closed = self.connections.end_where(lambda c: c.link_id == link_id, *CLOSE_SHARE_ENDED)
        await audit(
            self.sessionmaker,
            None,
            user,
            "share.revoke",
            "session",
            session_id,
            detail=f"link {link_id}; {len(closed)} connection(s) closed",
            source=source,
        )
        return link

    # -- who is connected ---------------------------------------------------------

    async def connected(self, user: User, session_id: str) -> builtins.list[LiveConnection]:
        """Who is connected to ``session_id`` now (this process), oldest first.

        Raises:
            NotFound: no such session, or ``user`` may not share it.
        """
        async with self.sessionmaker() as db:
            await self._shared_session(db, user, session_id)
        return self.connections.of_session(session_id)

    async def disconnect(
        self, user: User, session_id: str, connection_id: str, *, source: str | None = None
    ) -> LiveConnection:
        """End one connection; for a guest, end their grant too, so the same browser
        cannot come back (the link itself stays: revoke it to keep everyone out).
        Audited ``session.kick``.

        Raises:
            NotFound: no such live connection on that session, or ``user`` may not share it.
        """
        async with self.sessionmaker() as db:
            await self._shared_session(db, user, session_id)
        connection = self.connections.get(connection_id)
        if connection is None or connection.session_id != session_id:
            raise NotFound(
                "no connection %(connection_id)s",
                params={"connection_id": connection_id},
                code="connection_not_found",
            )
        if connection.grant_id is not None:
            async with write_session(self.sessionmaker) as db:
                grant = await db.get(ShareGrant, connection.grant_id)
                if grant is not None and grant.ended_at is None:
                    grant.ended_at = self.clock()
            grant_id = connection.grant_id
            ended = self.connections.end_where(
                lambda c: c.grant_id == grant_id, *CLOSE_DISCONNECTED
            )
        else:
            connection.end(*CLOSE_DISCONNECTED)
            ended = [connection]
        await audit(
            self.sessionmaker,
            None,
            user,
            "session.kick",
            "session",
            session_id,
            detail=f"{connection.who} ({connection.role}); {len(ended)} connection(s) closed",
            source=source,
        )
        return connection
