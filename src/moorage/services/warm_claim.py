"""Claiming a warm workspace, inside the launch's write transaction.

On PostgreSQL and MariaDB the oldest free candidate is picked with ``FOR UPDATE
SKIP LOCKED``, so concurrent claims take different rows instead of queueing on
one, then taken by ``UPDATE … SET state='claimed' WHERE id=:id AND state='warm'``,
whose row count says who won. On SQLite, whose ``BEGIN IMMEDIATE`` lets one writer
in at a time, one ``UPDATE … WHERE id = (the oldest warm one) RETURNING …`` claims
and reads it: a claim holds the database's write lock for one statement instead of
three, and a class claiming its pool at once waits on each other less.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.models.environment import Environment
from moorage.models.template import Template
from moorage.models.warm import WarmState, WarmWorkspace

__all__ = ["Claimed", "claim_oldest"]


@dataclass(frozen=True)
class Claimed:
    """A warm workspace a launch won: its id (the session's), container, published
    ports, environment and sealed start-up secret."""

    id: str
    container_id: str
    ports: dict[str, int] | None
    environment: Environment
    secret_sealed: str | None


async def claim_oldest(db: AsyncSession, template: Template, now: datetime) -> Claimed | None:
    """Claim the oldest warm workspace of ``template`` (``claimed_at`` = ``now``) in
    ``db``'s write transaction; None when none is free. Elsewhere than on SQLite,
    up to five candidates are tried when other claims win them first."""
    oldest = (
        select(WarmWorkspace.id)
        .where(
            WarmWorkspace.template_id == template.id,
            WarmWorkspace.state == WarmState.WARM.value,
        )
        .order_by(WarmWorkspace.created_at)
        .limit(1)
    )
    if db.get_bind().dialect.name == "sqlite":
        row = (
            await db.execute(
                update(WarmWorkspace)
                .where(
                    WarmWorkspace.id == oldest.scalar_subquery(),
                    WarmWorkspace.state == WarmState.WARM.value,
                )
                .values(state=WarmState.CLAIMED.value, claimed_at=now)
                .returning(
                    WarmWorkspace.id,
                    WarmWorkspace.container_id,
                    WarmWorkspace.ports,
                    WarmWorkspace.environment_id,
                    WarmWorkspace.secret_sealed,
                )
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is None:
            return None
        environment = await db.get(Environment, row.environment_id)
        assert environment is not None and row.container_id is not None
        return Claimed(row.id, row.container_id, row.ports, environment, row.secret_sealed)
    for _ in range(5):
        candidate = await db.scalar(oldest.with_for_update(skip_locked=True))
        if candidate is None:
            return None
        won = await db.execute(
            update(WarmWorkspace)
            .where(WarmWorkspace.id == candidate, WarmWorkspace.state == WarmState.WARM.value)
            .values(state=WarmState.CLAIMED.value, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) == 1:
            return await _claimed(db, candidate)
        # another launch claimed it between our read and our update: the next one
    return None


async def _claimed(db: AsyncSession, warm_id: str) -> Claimed:
    row = await db.get(WarmWorkspace, warm_id, populate_existing=True)
    assert row is not None and row.container_id is not None
    environment = await db.get(Environment, row.environment_id)
    assert environment is not None
    return Claimed(
        id=row.id,
        container_id=row.container_id,
        ports=row.ports,
        environment=environment,
        secret_sealed=row.secret_sealed,
    )
