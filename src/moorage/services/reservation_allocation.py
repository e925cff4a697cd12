"""Allocating pool machines to a reservation: the per-user quota and the pick.

Both run inside the reserving transaction, after the owner's row is locked
(:meth:`~moorage.services.leases.LeaseService._lock_owner`), so the count and
the pick agree with concurrent requests. Free machines are taken with
``FOR UPDATE SKIP LOCKED`` where the database has it (SQLite serialises
writers with ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, QuotaExceeded
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine, MachineStatus
from moorage.models.pool import Pool
from moorage.models.reservation import Reservation
from moorage.models.user import User

__all__ = ["check_machine_quota", "login_users", "pick_machines"]


async def check_machine_quota(db: AsyncSession, user: User, pool: Pool, count: int) -> None:
    """Allow ``user`` to hold ``count`` more machines of ``pool``, or raise.

    Raises:
        QuotaExceeded: live reservations of the pool plus ``count`` pass
            ``pool.max_machines_per_user`` (429, naming the limit).
    """
    held = (
        await db.scalar(
            select(func.coalesce(func.sum(Reservation.count), 0)).where(
                Reservation.user_id == user.id,
                Reservation.pool_id == pool.id,
                Reservation.state.in_(LIVE_STATES),
            )
        )
        or 0
    )
    if held + count > pool.max_machines_per_user:
        raise QuotaExceeded(
            f"you hold {held} machines of pool {pool.name}; the limit is "
            f"{pool.max_machines_per_user} per user",
            limit=pool.max_machines_per_user,
        )


async def login_users(db: AsyncSession, pool: Pool) -> set[str]:
    """The login users Moorage uses on the pool's machines (never reservable names)."""
    return set(await db.scalars(select(Machine.user).where(Machine.pool_id == pool.id).distinct()))


async def pick_machines(db: AsyncSession, pool: Pool, count: int) -> list[Machine]:
    """Lock ``count`` free online machines of ``pool``, by name.

    Raises:
        Conflict: fewer are free (409, code ``not_enough_machines``, with
            ``available`` and ``next_free_at``, the earliest deadline of the
            pool's live reservations, ISO 8601 UTC, or None).
    """
    machines = list(
        await db.scalars(
            select(Machine)
            .where(
                Machine.pool_id == pool.id,
                Machine.status == MachineStatus.ONLINE.value,
                Machine.reservation_id.is_(None),
            )
            .order_by(Machine.name)
            .limit(count)
            .with_for_update(of=Machine, skip_locked=True)
        )
    )
    if len(machines) < count:
        next_free = await db.scalar(
            select(func.min(Reservation.expires_at)).where(
                Reservation.pool_id == pool.id, Reservation.state.in_(LIVE_STATES)
            )
        )
        when = (
            f"the next one frees up at {next_free.isoformat(timespec='seconds')}"
            if next_free
            else "none is reserved, so none will free up by itself"
        )
        raise Conflict(
            f"only {len(machines)} machines of pool {pool.name} are available "
            f"(asked for {count}); {when}",
            code="not_enough_machines",
            available=len(machines),
            next_free_at=next_free.isoformat() if next_free else None,
        )
    return machines
