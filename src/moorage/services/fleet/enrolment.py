"""Enrolment: tokens that let an agent enrol (made by operators or the CLI), one-time
install links that carry one, and enrolling a node with a token. Changes are audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Gone, NotFound, Unauthenticated
from moorage.models.audit import AuditEvent
from moorage.models.fleet import EnrollmentToken, InstallLink, Node
from moorage.models.user import Role, User
from moorage.schemas.fleet import EnrollmentTokenCreate
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.security.tokens import NewToken, generate_token, parse_prefix, token_matches
from moorage.services.audit import audit_in

__all__ = [
    "INSTALL_CONTEXT",
    "create_enrollment_token",
    "create_install_link",
    "enroll_node",
    "issue_enrollment_token",
    "list_enrollment_tokens",
    "redeem_install_link",
    "revoke_enrollment_token",
]

INSTALL_CONTEXT = "fleet.install_link"


def create_enrollment_token(
    org_id: str,
    *,
    name: str,
    ttl_seconds: int,
    max_uses: int,
    tags: Sequence[str],
    created_by: str,
) -> tuple[EnrollmentToken, NewToken]:
    """A new token row (add it to a session) and its plaintext, shown once."""
    token = generate_token()
    row = EnrollmentToken(
        org_id=org_id,
        name=name,
        prefix=token.prefix,
        token_hash=token.hash,
        max_uses=max_uses,
        tags=list(tags),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        created_by=created_by,
    )
    return row, token


async def enroll_node(
    db: AsyncSession, token: str, hostname: str, os_name: str | None
) -> tuple[Node, str]:
    """Spend one use of an enrolment token on a new node (in ``db``'s write
    transaction). Returns the node and its credential (plaintext, shown once).

    Raises:
        Unauthenticated: unknown, expired or used-up token (the message says which).
    """
    prefix = parse_prefix(token)
    row = None
    if prefix is not None:
        row = await db.scalar(
            select(EnrollmentToken).where(EnrollmentToken.prefix == prefix).with_for_update()
        )
    if row is None or not token_matches(token, row.token_hash):
        raise Unauthenticated("unknown enrolment token", code="bad_enrollment_token")
    if row.expires_at <= utcnow():
        raise Unauthenticated(
            f"the enrolment token expired at {row.expires_at.isoformat()}",
            code="enrollment_token_expired",
        )
    if row.uses >= row.max_uses:
        raise Unauthenticated(
            f"the enrolment token was used {row.uses} of {row.max_uses} time(s)",
            code="enrollment_token_used_up",
        )
    row.uses += 1
    taken = set(
        await db.scalars(
            select(Node.name).where(
                Node.org_id == row.org_id,
                (Node.name == hostname) | Node.name.startswith(f"{hostname}-", autoescape=True),
            )
        )
    )
    name, n = hostname, 2
    while name in taken:
        name, n = f"{hostname}-{n}", n + 1
    credential = generate_token()
    node = Node(
        org_id=row.org_id,
        name=name,
        credential_prefix=credential.prefix,
        credential_hash=credential.hash,
        tags=list(row.tags or []),
        os=os_name,
        status="unknown",
    )
    db.add(node)
    await db.flush()
    db.add(
        AuditEvent(
            org_id=row.org_id,
            username=f"agent:{name}",
            action="node.enroll",
            object_type="node",
            object_id=node.id,
            detail=f"enrolment token {row.name or row.prefix}",
        )
    )
    return node, credential.plaintext


async def issue_enrollment_token(
    db: AsyncSession, user: User, body: EnrollmentTokenCreate
) -> dict[str, Any]:
    """Create, audit and commit a token for ``user``'s org (operators only):
    ``{id, name, prefix, token, uses, expires_at, max_uses, tags}`` (the listing's
    fields, so a page can add the row, and the token); ``token`` is shown once.

    Raises:
        Forbidden: ``user`` is not an operator.
    """
    require_role(user, Role.OPERATOR)
    row, token = create_enrollment_token(
        user.org_id,
        name=body.name,
        ttl_seconds=body.ttl_seconds,
        max_uses=body.max_uses,
        tags=body.tags,
        created_by=user.username,
    )
    db.add(row)
    audit_in(db, user, "enrollment_token.create", "enrollment_token", row.prefix)
    await db.commit()
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "token": token.plaintext,
        "uses": 0,
        "expires_at": row.expires_at.isoformat(),
        "max_uses": row.max_uses,
        "tags": row.tags,
    }


async def list_enrollment_tokens(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The org's tokens, newest first, never the token itself: ``[{id, name, prefix,
    uses, max_uses, tags, expires_at, created_by}]``. Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    rows = await db.scalars(
        select(EnrollmentToken)
        .where(EnrollmentToken.org_id == user.org_id)
        .order_by(EnrollmentToken.created_at.desc())
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.prefix,
            "uses": r.uses,
            "max_uses": r.max_uses,
            "tags": r.tags,
            "expires_at": r.expires_at.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]


async def revoke_enrollment_token(db: AsyncSession, user: User, token_id: str) -> None:
    """Delete a token (audited, committed); nodes it enrolled keep their credentials.

    Raises:
        Forbidden: not an operator.
        NotFound: no such token in ``user``'s org.
    """
    require_role(user, Role.OPERATOR)
    row = await db.get(EnrollmentToken, token_id)
    if row is None or row.org_id != user.org_id:
        raise NotFound(f"no enrolment token {token_id}")
    await db.delete(row)
    audit_in(db, user, "enrollment_token.revoke", "enrollment_token", row.prefix)
    await db.commit()


async def create_install_link(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    user: User,
    *,
    ttl_seconds: int,
    tags: Sequence[str],
    hosts: int = 1,
) -> tuple[str, datetime]:
    """A one-time install link valid ``ttl_seconds``, holding a fresh enrolment token
    (sealed) that enrols up to ``hosts`` machines: the link is fetched once, and the
    script it serves may be pushed to several hosts (``install-agent.ps1 -Targets``).
    Returns the link's token (plaintext, shown once; the path segment of
    ``/api/v1/install/{token}``) and when it expires.

    Raises:
        Forbidden: not an operator.
    """
    require_role(user, Role.OPERATOR)
    enrollment, token = create_enrollment_token(
        user.org_id,
        name="install link",
        ttl_seconds=ttl_seconds,
        max_uses=hosts,
        tags=tags,
        created_by=user.username,
    )
    link = generate_token()
    row = InstallLink(
        org_id=user.org_id,
        prefix=link.prefix,
        token_hash=link.hash,
        enrollment_sealed=keyring.seal(token.plaintext, INSTALL_CONTEXT),
        expires_at=enrollment.expires_at,
    )
    async with write_session(sessionmaker) as db:
        db.add_all([enrollment, row])
        audit_in(db, user, "install_link.create", "install_link", link.prefix)
    return link.plaintext, row.expires_at


async def redeem_install_link(
    sessionmaker: async_sessionmaker[AsyncSession], keyring: Keyring, token: str
) -> str:
    """Spend an install link (it works once) and return its enrolment token (plaintext).

    Raises:
        NotFound: no such link.
        Gone: already used, or expired.
    """
    prefix = parse_prefix(token)
    async with write_session(sessionmaker) as db:
        row = None
        if prefix is not None:
            row = await db.scalar(select(InstallLink).where(InstallLink.prefix == prefix))
        if row is None or not token_matches(token, row.token_hash):
            raise NotFound("no such install link")
        if row.used_at is not None:
            raise Gone("this install link was already used; create a new one")
        if row.expires_at <= utcnow():
            raise Gone("this install link expired; create a new one")
        row.used_at = utcnow()
        return keyring.open(row.enrollment_sealed, INSTALL_CONTEXT)
