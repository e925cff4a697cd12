"""Opening a share link: what its page shows, and the grant a browser gets
(see :mod:`moorage.services.shares` for the whole mechanism).

:class:`ShareOpening` is the part of :class:`~moorage.services.shares.ShareService`
that the people a session is shared with call, before they hold anything: the token
is looked up by its prefix and compared with its stored hash in constant time; a
named link needs one of its users signed in; a link for anyone takes a display name.
The grant is a row (so the owner can end it) and a cookie value sealed with the
keyring in the context :data:`GRANT_CONTEXT`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.errors import Gone, InvalidInput, NotFound, Unauthenticated
from moorage.models.lease import LeaseState
from moorage.models.session import WorkspaceSession
from moorage.models.share import ShareGrant, ShareLink
from moorage.models.user import User
from moorage.security.crypto import Keyring
from moorage.security.tokens import parse_prefix, token_matches
from moorage.services.audit import record

__all__ = [
    "GRANT_CONTEXT",
    "SHAREABLE_STATES",
    "TOKEN_MARK",
    "Invitation",
    "OpenedGrant",
    "ShareOpening",
    "clean_display_name",
]

TOKEN_MARK = "msh"
"""The mark of share-link tokens (API tokens are ``mrg_…``): neither is ever read as the other."""
GRANT_CONTEXT = "share.grant"
"""The keyring context grants are sealed in (no other sealed value opens in it)."""
SHAREABLE_STATES = (LeaseState.READY.value, LeaseState.STOPPED.value)
MAX_DISPLAY_NAME = 64


@dataclass(frozen=True)
class Invitation:
    """What the page behind a link shows before it is opened."""

    link: ShareLink
    session: WorkspaceSession
    named: bool


@dataclass(frozen=True)
class OpenedGrant:
    """A link opened: the grant, and the cookie value that carries it."""

    grant: ShareGrant
    session_id: str
    cookie: str
    max_age_seconds: int


def clean_display_name(raw: str | None) -> str:
    """A guest's display name: trimmed, 1–64 printable characters.

    Raises:
        InvalidInput: empty, too long or with control characters (field ``display_name``).
    """
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput("give the name others will see", field="display_name")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput(
            f"the name is longer than {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("the name has control characters", field="display_name")
    return name


class ShareOpening:
    """Looking up and opening links; mixed into :class:`~moorage.services.shares.ShareService`,
    which sets the attributes."""

    sessionmaker: async_sessionmaker[AsyncSession]
    keyring: Keyring
    clock: Callable[[], datetime]

    async def _link_of_token(self, db: AsyncSession, token: str) -> ShareLink:
        """The link of ``token`` while it holds and its session lives.

        Raises:
            NotFound: a malformed or unknown token. Gone: revoked, expired or the
                session has ended (``share_ended``).
        """
        prefix = parse_prefix(token, TOKEN_MARK)
        link = None
        if prefix is not None:
            link = await db.scalar(select(ShareLink).where(ShareLink.token_prefix == prefix))
        if link is None or not token_matches(token, link.token_hash):
            raise NotFound("this share link is not valid", code="share_not_found")
        session = await db.get(WorkspaceSession, link.session_id)
        if link.revoked_at is not None or link.expires_at <= self.clock():
            raise Gone("this share link was revoked or has expired", code="share_ended")
        if session is None or session.state not in SHAREABLE_STATES:
            raise Gone("the shared session has ended", code="share_ended")
        return link

    async def describe(self, token: str, user: User | None) -> Invitation:
        """What the link's page shows before opening it.

        Raises:
            NotFound, Gone: see :meth:`open` (a signed-in user a named link is not for
                gets NotFound, as if the link did not exist).
            Unauthenticated: a named link and nobody is signed in (``share_sign_in``).
        """
        async with self.sessionmaker() as db:
            link = await self._link_of_token(db, token)
            self._check_named(link, user)
            session = await db.get(WorkspaceSession, link.session_id)
            assert session is not None
            return Invitation(link, session, link.user_ids is not None)

    @staticmethod
    def _check_named(link: ShareLink, user: User | None) -> None:
        if link.user_ids is None:
            return
        if user is None:
            raise Unauthenticated("sign in to open this share link", code="share_sign_in")
        if user.id not in link.user_ids:
            raise NotFound("this share link is not valid", code="share_not_found")

    async def open(
        self,
        token: str,
        user: User | None,
        display_name: str | None = None,
        *,
        source: str | None = None,
    ) -> OpenedGrant:
        """Open a link: a new grant for this browser; audited ``share.open``.

        A named link needs one of its users signed in (``user``), whose name is shown;
        a link for anyone takes ``display_name`` (a signed-in user's is kept too).

        Raises:
            NotFound: a malformed or unknown token, or a named link not for ``user``.
            Gone: revoked, expired, or its session ended (``share_ended``).
            Unauthenticated: a named link and nobody signed in (``share_sign_in``).
            InvalidInput: a link for anyone and no usable ``display_name``.
        """
        async with write_session(self.sessionmaker) as db:
            link = await self._link_of_token(db, token)
            self._check_named(link, user)
            if link.user_ids is not None:
                assert user is not None
                name = user.display_name or user.username
            else:
                name = clean_display_name(display_name)
            grant = ShareGrant(
                link_id=link.id, user_id=user.id if user else None, display_name=name[:64]
            )
            db.add(grant)
            await db.flush()
            actor = user.username if user else f"guest {name}"
            record(
                db,
                link.org_id,
                actor,
                "share.open",
                "session",
                link.session_id,
                detail=f"{link.role} link {link.id} as {name!r}",
                source=source,
            )
            expires_at = link.expires_at
        payload = {"g": grant.id, "s": link.session_id, "e": expires_at.timestamp()}
        cookie = self.keyring.seal(json.dumps(payload), GRANT_CONTEXT)
        max_age = max(1, int((expires_at - self.clock()).total_seconds()))
        return OpenedGrant(grant, link.session_id, cookie, max_age)
