"""The lease lifecycle, written once for every kind of lease.

A lease kind (sessions, reservations, and whatever comes next: a warm-pool
member, a workshop seat) subclasses :class:`LeaseService` and says only what
differs: its row class, its noun, who besides the owner sees it, how long it
may live, and how its resources are taken back. The rest is here:

* reading: :meth:`~LeaseService.get` and :meth:`~LeaseService.list`, through
  the kind's :class:`~moorage.services.leases.visibility.Visibility`;
* the clock: :meth:`~LeaseService._mark_ready` starts it, :meth:`~LeaseService.extend`
  moves it; deadline listeners (the reconciler's queue) hear of every change;
* the end: :meth:`~LeaseService.release` / :meth:`~LeaseService.release_by_id`
  (``ready → releasing → released``) and :meth:`~LeaseService.fail`, both
  calling the kind's :meth:`~LeaseService._reclaim` (inherited from
  :class:`~moorage.services.leases.ending.LeaseEnding`);
* the audit log of what users ask (extend, release, release all), written here
  so no entry point skips it; each kind audits its own provisioning.

Every state change takes a row lock on the lease (``SELECT … FOR UPDATE OF``
the lease's table only; SQLite serialises writers anyway) and is followed by a
:class:`~moorage.services.changes.ChangeFeed` publish of the owner's id, so
live pages refresh. No transaction is held across a runtime call.
"""

from __future__ import annotations

import builtins
from abc import abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, NotFound, Unauthenticated
from moorage.models.lease import LIVE_STATES, LeaseMixin, LeaseState
from moorage.models.user import User
from moorage.services import quotas
from moorage.services.audit import audit, audit_in
from moorage.services.changes import ChangeFeed
from moorage.services.leases.ending import LeaseEnding
from moorage.services.leases.rules import LeaseRow, extend_expiry, transition
from moorage.services.leases.visibility import Visibility

__all__ = ["DeadlineListener", "LeaseRow", "LeaseService"]

DeadlineListener = Callable[[str, datetime | None], None]
"""Told ``(lease_id, expires_at)`` when a deadline is set or moved, ``None`` when the
lease no longer needs one. The in-process reconciler's queue listens."""


# Bound to the mixin, not to LeaseRow: mypy checks the bounds of base classes
# before it can see through ``Mapped[]`` attributes, so a protocol bound would
# reject every model. :meth:`LeaseService.as_row` gives the LeaseRow view.
L = TypeVar("L", bound=LeaseMixin)


class LeaseService(LeaseEnding[L]):
    """The lifecycle every lease kind shares. Subclasses set the class attributes
    and implement :meth:`limit_minutes` and :meth:`_reclaim` (and
    :meth:`_reclaiming` when the lease's resources have rows of their own).

    Args:
        sessionmaker: opens database sessions.
        instance_id: this server process's id, stamped on leases it provisions
            (see :class:`~moorage.models.ServerInstance`).
        clock: current UTC time; injected for tests.
    """

    model: type[L]
    """The mapped row class of the kind: :class:`~moorage.models.lease.LeaseMixin`
    plus ``id``, ``org_id``, ``user_id`` and ``created_at`` (:class:`LeaseRow`)."""
    noun: str
    """The kind's name in messages and error codes (``"session"`` gives
    ``session_not_found``, ``session_ended``)."""
    visibility: Visibility
    """Who sees, extends and releases leases besides their owner."""
    ended_message: str
    """The Conflict message when a lease is released while it is provisioning."""
    # release_verb, and the hooks _ending, _reclaiming and _reclaim: see LeaseEnding.

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._instance_id = instance_id
        self._clock = clock
        self._listeners: builtins.list[DeadlineListener] = []
        self.changes = ChangeFeed()

    # -- what each kind says -------------------------------------------------

    @abstractmethod
    def limit_minutes(self, lease: L) -> int:
        """The longest ``lease`` may live, in minutes from ``starts_at``; called by
        :meth:`extend` inside its locked transaction.

        Raises:
            MoorageError: to refuse any extension (e.g. QuotaExceeded when the
                kind counts extensions).
        """

    # -- deadline listeners and the change feed ------------------------------

    def add_deadline_listener(self, listener: DeadlineListener) -> None:
        """Tell ``listener`` of every deadline set, moved or dropped from now on."""
        self._listeners.append(listener)

    def _notify(self, lease_id: str, expires_at: datetime | None) -> None:
        for listener in self._listeners:
            listener(lease_id, expires_at)

    # -- reading -------------------------------------------------------------

    async def get(self, user: User, lease_id: str) -> L:
        """The lease ``lease_id`` if ``user`` may see it.

        Raises:
            NotFound: no such lease, or ``user`` may not see it.
        """
        async with self._sessionmaker() as db:
            return await self._visible(db, user, lease_id)

    async def list(
        self, user: User, *, all_users: bool = False, live_only: bool = False
    ) -> builtins.list[L]:
        """The caller's leases of this kind, newest first; everyone's in the org with
        ``all_users``; only pending to releasing ones with ``live_only``.

        Raises:
            Forbidden: ``all_users`` asked by a user below the kind's ``sees_all`` role.
        """
        query = select(self.model).where(self._column("org_id") == user.org_id)
        if all_users:
            self.visibility.check_list_all(user)
        else:
            query = query.where(self._column("user_id") == user.id)
        if live_only:
            query = query.where(self._column("state").in_(LIVE_STATES))
        async with self._sessionmaker() as db:
            return list(await db.scalars(query.order_by(self._column("created_at").desc())))

    async def _visible(
        self, db: AsyncSession, user: User, lease_id: str, *, for_update: bool = False
    ) -> L:
        """The lease if ``user`` may see it, optionally row-locked; else NotFound."""
        if for_update:
            lease = await self._locked(db, lease_id)
        else:
            lease = await db.scalar(select(self.model).where(self._column("id") == lease_id))
        if lease is None or not await self.visibility.sees(db, user, self.as_row(lease)):
            raise self._not_found(lease_id)
        return lease

    async def _locked(self, db: AsyncSession, lease_id: str) -> L | None:
        """The lease with a write lock on its row only (not its joined rows): locked by a
        statement on its table alone, then read with its joins. MariaDB has no ``FOR
        UPDATE OF``: a locking join would lock the template, environment and user rows
        and deadlock with concurrent launches checking those foreign keys."""
        locked = await db.scalar(
            select(self._column("id")).where(self._column("id") == lease_id).with_for_update()
        )
        if locked is None:
            return None
        return await db.get(self.model, lease_id, populate_existing=True)

    async def current(self, lease_id: str) -> L | None:
        """The lease as committed now, None when there is none. No visibility check:
        for a caller admitted already (the gateway's deadline timer)."""
        try:
            return await self._reload(lease_id)
        except NotFound:
            return None

    async def _reload(self, lease_id: str) -> L:
        """The lease as committed now (fresh, with its relationships loaded)."""
        async with self._sessionmaker() as db:
            lease = await db.get(self.model, lease_id, populate_existing=True)
            if lease is None:
                raise self._not_found(lease_id)
            return lease

    @staticmethod
    def as_row(lease: L) -> LeaseRow:
        """``lease`` seen as a :class:`LeaseRow` (every lease model is one)."""
        return cast(LeaseRow, lease)

    def _not_found(self, lease_id: str) -> NotFound:
        return NotFound(f"no {self.noun} {lease_id}", code=f"{self.noun}_not_found")

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        return cast(InstrumentedAttribute[Any], getattr(self.model, name))

    async def _audit(self, user: User, verb: str, object_id: str, **fields: str | None) -> None:
        """Record ``<noun>.<verb>`` by ``user`` on ``object_id`` in its own transaction
        (after the action succeeded); ``fields``: ``environment``, ``detail``, ``source``
        (see :func:`~moorage.services.audit.audit`)."""
        action = f"{self.noun}.{verb}"
        await audit(self._sessionmaker, None, user, action, self.noun, object_id, **fields)

    # -- provisioning --------------------------------------------------------

    async def _lock_owner(self, db: AsyncSession, user: User) -> None:
        """Serialise provisioning by one user, so a quota count and the insert that
        follows it agree (``SELECT … FOR UPDATE`` on the user row; SQLite's
        ``BEGIN IMMEDIATE`` already serialises). Raises Unauthenticated when the user
        was disabled since authenticated (so no launch slips in after a disable)."""
        active = await db.scalar(select(User.is_active).where(User.id == user.id).with_for_update())
        if not active:
            raise Unauthenticated("your account is disabled", code="account_disabled")

    def _new_lease_columns(self, user: User, duration: timedelta) -> dict[str, Any]:
        """The lease columns of a new row owned by ``user``, ``provisioning`` on this
        instance; its clock restarts when it becomes ready (:meth:`_mark_ready`)."""
        now = self._clock()
        return {
            "id": new_id(),
            "org_id": user.org_id,
            "user_id": user.id,
            "state": LeaseState.PROVISIONING.value,
            "starts_at": now,
            "expires_at": now + duration,
            "created_at": now,
            "instance_id": self._instance_id,
        }

    async def _mark_ready(
        self, lease_id: str, duration: timedelta, fill: Callable[[L], None] | None = None
    ) -> L:
        """Record what provisioning made (``fill`` gets the locked row), then make the
        lease ``ready`` with its clock starting now and lasting ``duration``.

        Raises:
            NotFound: the row is gone.
            Conflict: the lease was released or failed while provisioning (code
                ``<noun>_ended``); what was made is reclaimed first.
        """
        async with write_session(self._sessionmaker) as db:
            lease = await self._locked(db, lease_id)
            if lease is None:
                raise self._not_found(lease_id)
            if fill is not None:
                fill(lease)
            ended = lease.state != LeaseState.PROVISIONING.value
            if ended:
                self._reclaiming(lease)
            else:
                now = self._clock()
                transition(lease, LeaseState.READY, now=now)
                lease.starts_at = now
                lease.expires_at = now + duration
                lease.instance_id = None
            expires_at, user_id = lease.expires_at, self.as_row(lease).user_id
        if ended:
            await self._finish_release(lease_id)
            raise Conflict(self.ended_message, code=f"{self.noun}_ended")
        self._notify(lease_id, expires_at)
        self.changes.publish(user_id)
        return await self._reload(lease_id)

    # -- changing ------------------------------------------------------------

    async def extend(
        self, user: User, lease_id: str, minutes: int, *, source: str | None = None
    ) -> L:
        """Push the deadline back by ``minutes``, never past :meth:`limit_minutes`;
        audited (``<noun>.extend`` from client address ``source``) in that transaction.

        Raises:
            NotFound; InvalidInput (not positive, or past the maximum, naming the
            minutes still allowed); Conflict (not ready); QuotaExceeded (the
            owner's ``max_lease_minutes`` quota, :mod:`moorage.services.quotas`);
            whatever :meth:`limit_minutes` raises.
        """
        async with write_session(self._sessionmaker) as db:
            lease = await self._visible(db, user, lease_id, for_update=True)
            await quotas.check_extension(db, self.as_row(lease), minutes)
            extend_expiry(
                lease, minutes=minutes, max_minutes=self.limit_minutes(lease), now=self._clock()
            )
            detail = f"+{minutes} min"
            audit_in(
                db, user, f"{self.noun}.extend", self.noun, lease_id, detail=detail, source=source
            )
            expires_at, user_id = lease.expires_at, self.as_row(lease).user_id
        self._notify(lease_id, expires_at)
        self.changes.publish(user_id)
        return await self._reload(lease_id)

    async def extend_by_id(self, lease_id: str, minutes: int) -> datetime | None:
        """Push a ``ready`` or ``stopped`` lease's deadline back by up to ``minutes``,
        cut at :meth:`limit_minutes` (for callers that checked who may, e.g. a
        workshop's instructor extending every seat; they audit). Returns the new
        deadline, or None when the lease is not timed or is at its maximum already."""
        async with write_session(self._sessionmaker) as db:
            lease = await self._locked(db, lease_id)
            if lease is None or lease.state not in (
                LeaseState.READY.value,
                LeaseState.STOPPED.value,
            ):
                return None
            limit = lease.starts_at + timedelta(minutes=self.limit_minutes(lease))
            expires_at = min(lease.expires_at + timedelta(minutes=minutes), limit)
            if expires_at <= lease.expires_at:
                return None
            lease.expires_at = expires_at
            lease.extensions += 1
            user_id = self.as_row(lease).user_id
        self._notify(lease_id, expires_at)
        self.changes.publish(user_id)
        return expires_at
