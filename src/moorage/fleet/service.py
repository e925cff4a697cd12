"""Enrolment tokens, install links, nodes and their metric history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.db.base import utcnow
from moorage.errors import InvalidInput, NotFound, Unauthenticated
from moorage.models.audit import AuditEvent
from moorage.models.fleet import HOUR, METRICS, MINUTE, RAW, EnrollmentToken, Node, Sample
from moorage.security.tokens import NewToken, generate_token, parse_prefix, token_matches

__all__ = ["create_enrollment_token", "enroll_node", "find_node", "history", "pick_resolution"]

MAX_POINTS = 5000


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


async def find_node(db: AsyncSession, org_id: str, ref: str) -> Node:
    """The node with id or name ``ref``. Raises NotFound."""
    node = await db.scalar(
        select(Node).where(Node.org_id == org_id, (Node.id == ref) | (Node.name == ref))
    )
    if node is None:
        raise NotFound(f"no node {ref!r}", code="node_not_found")
    return node


def pick_resolution(
    since: datetime, step: int, now: datetime, retention: dict[int, timedelta]
) -> int:
    """The coarsest stored resolution no coarser than ``step`` that still reaches back
    to ``since`` (falling back to the finest that does)."""
    for resolution in (HOUR, MINUTE, RAW):
        if resolution <= step and now - retention[resolution] <= since:
            return resolution
    for resolution in (RAW, MINUTE, HOUR):
        if now - retention[resolution] <= since:
            return resolution
    return HOUR


async def history(
    db: AsyncSession,
    node: Node,
    *,
    since: datetime,
    until: datetime,
    step: int | None,
    retention: dict[int, timedelta],
) -> dict[str, Any]:
    """Averages per ``step`` seconds between ``since`` and ``until``, columnar (uPlot's
    data layout): ``{"since", "until", "step", "resolution", "at": [unix seconds],
    "<metric>": [value or null, …]}``. ``step`` defaults to about 300 points.

    Raises:
        InvalidInput: ``since`` not before ``until``, or more than 5,000 points.
    """
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    span = (until - since).total_seconds()
    step = step or max(10, int(span // 300))
    if step < 1 or span / step > MAX_POINTS:
        raise InvalidInput(
            f"{span / step:.0f} points asked; at most {MAX_POINTS} (raise step)", field="step"
        )
    resolution = pick_resolution(since, step, utcnow(), retention)
    rows = await db.execute(
        select(Sample.at, Sample.count.label("weight"), *[getattr(Sample, m) for m in METRICS])
        .where(
            Sample.node_id == node.id,
            Sample.resolution == resolution,
            Sample.at >= since,
            Sample.at < until,
        )
        .order_by(Sample.at)
    )
    buckets: dict[int, dict[str, list[float]]] = {}
    for row in rows:
        start = int(row.at.timestamp()) // step * step
        bucket = buckets.setdefault(start, {})
        for metric in METRICS:
            value = getattr(row, metric)
            if value is not None:
                bucket.setdefault(metric, []).append(value)
    times = sorted(buckets)
    result: dict[str, Any] = {
        "node": node.name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "step": step,
        "resolution": resolution,
        "at": times,
    }
    for metric in METRICS:
        result[metric] = [
            round(sum(v) / len(v), 3) if (v := buckets[t].get(metric)) else None for t in times
        ]
    return result
