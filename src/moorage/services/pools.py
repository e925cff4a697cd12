"""Pools of machines: lookup, limits, availability.

A pool groups the machines handed out together; its limits (durations,
reservations per user, extensions) apply to new reservations and extensions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import InvalidInput, NotFound
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine, MachineStatus
from moorage.models.pool import Pool
from moorage.models.reservation import Reservation
from moorage.models.user import Role, User
from moorage.schemas.machine import PoolUpdate
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = ["availability", "find_pool", "get_or_create_pool", "pools_of", "update_pool"]


async def pools_of(db: AsyncSession, org_id: str) -> list[Pool]:
    """The org's pools by name."""
    return list(await db.scalars(select(Pool).where(Pool.org_id == org_id).order_by(Pool.name)))


async def find_pool(db: AsyncSession, org_id: str, name: str) -> Pool:
    """Raises NotFound for an unknown pool."""
    pool = await db.scalar(select(Pool).where(Pool.org_id == org_id, Pool.name == name))
    if pool is None:
        raise NotFound("no pool named %(name)r", params={"name": name}, code="pool_not_found")
    return pool


async def get_or_create_pool(db: AsyncSession, org_id: str, name: str) -> Pool:
    """The pool ``name``, created with default limits when it does not exist (not committed)."""
    pool = await db.scalar(select(Pool).where(Pool.org_id == org_id, Pool.name == name))
    if pool is None:
        pool = Pool(org_id=org_id, name=name)
        db.add(pool)
        await db.flush()
    return pool


async def availability(db: AsyncSession, org_id: str, now: datetime) -> list[dict[str, object]]:
    """Per pool: ``{"pool", "total", "available", "reserved", "offline", "dirty",
    "maintenance", "unknown", "next_free_at"}`` (``next_free_at``: the earliest
    expiry among the pool's live reservations, or None)."""
    pools = list(await db.scalars(select(Pool).where(Pool.org_id == org_id).order_by(Pool.name)))
    rows = await db.execute(
        select(Machine.pool_id, Machine.status, Machine.reservation_id.is_not(None), func.count())
        .where(Machine.org_id == org_id)
        .group_by(Machine.pool_id, Machine.status, Machine.reservation_id.is_not(None))
    )
    counts: dict[str, dict[str, int]] = {}
    for pool_id, status, reserved, count in rows:
        bucket = counts.setdefault(pool_id, {})
        bucket["total"] = bucket.get("total", 0) + count
        if reserved:
            key = "reserved"
        elif status == MachineStatus.ONLINE.value:
            key = "available"
        else:
            key = status
        bucket[key] = bucket.get(key, 0) + count
    next_free = dict(
        (
            await db.execute(
                select(Reservation.pool_id, func.min(Reservation.expires_at))
                .where(Reservation.org_id == org_id, Reservation.state.in_(LIVE_STATES))
                .group_by(Reservation.pool_id)
            )
        ).all()
    )
    result: list[dict[str, object]] = []
    for pool in pools:
        bucket = counts.get(pool.id, {})
        result.append(
            {
                "pool": pool.name,
                **{
                    key: bucket.get(key, 0)
                    for key in (
                        "total",
                        "available",
                        "reserved",
                        "offline",
                        "dirty",
                        "maintenance",
                        "unknown",
                    )
                },
                "next_free_at": next_free.get(pool.id),
            }
        )
    return result


async def update_pool(db: AsyncSession, operator: User, name: str, body: PoolUpdate) -> Pool:
    """Change the limits set in ``body`` (audited ``pool.update``; not committed).

    Raises:
        Forbidden: below operator. NotFound: unknown pool.
        InvalidInput: a field set to null, or a default duration over the maximum.
    """
    require_role(operator, Role.OPERATOR)
    pool = await find_pool(db, operator.org_id, name)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput("%(field)s cannot be null", params={"field": field}, field=field)
        setattr(pool, field, value)
    if pool.default_duration_minutes > pool.max_duration_minutes:
        raise InvalidInput(
            "default_duration_minutes must not exceed max_duration_minutes",
            field="default_duration_minutes",
        )
    audit_in(db, operator, "pool.update", "pool", name)
    return pool
