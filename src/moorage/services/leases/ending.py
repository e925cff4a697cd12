"""The end of a lease: release, release all, failure, and the reclaim they share.

:class:`LeaseEnding` is the half of :class:`~moorage.services.leases.LeaseService`
that ends leases; ``LeaseService`` inherits it and supplies the reading and
locking it calls (declared here as abstract methods). A kind says how its
resources are taken back through the hooks :meth:`~LeaseEnding._ending`,
:meth:`~LeaseEnding._reclaiming` and :meth:`~LeaseEnding._reclaim`.

``ready → releasing → released`` (:meth:`~LeaseEnding.release`,
:meth:`~LeaseEnding.release_by_id`); any live state ``→ failed``
(:meth:`~LeaseEnding.fail`). Each step takes the lease's row lock, tells the
deadline listeners the lease needs no deadline any more, publishes the owner's
id on the change feed, and reclaims with no transaction open.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from moorage.db.engine import write_session
from moorage.models.lease import LIVE_STATES, LeaseMixin, LeaseState
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.changes import ChangeFeed
from moorage.services.leases.rules import LeaseRow, transition

__all__ = ["LeaseEnding"]

# See the note on ``L`` in :mod:`moorage.services.leases.lifecycle`.
L = TypeVar("L", bound=LeaseMixin)


class LeaseEnding(ABC, Generic[L]):
    """Releasing and failing leases of one kind; mixed into
    :class:`~moorage.services.leases.LeaseService`, which sets the attributes below
    in its ``__init__`` and implements the abstract reading methods."""

    _sessionmaker: async_sessionmaker[AsyncSession]
    _clock: Callable[[], datetime]
    changes: ChangeFeed
    release_verb: str = "release"
    """The audit action's verb of :meth:`release` (``<noun>.<verb>``)."""

    # -- what each kind says -------------------------------------------------

    def _ending(self, lease: L, end_reason: str) -> None:
        """In the locked transaction where ``lease`` stops being live: why (``deadline``,
        ``idle``, ``owner``, ``admin``, ``failed`` …). No I/O. The default keeps nothing."""

    def _reclaiming(self, lease: L) -> None:
        """Called inside the locked transaction where ``lease`` stops being live
        (``releasing``, ``failed``, or released while provisioning), before
        :meth:`_reclaim`: mark the rows of what must be taken back. Must not do
        I/O. The default does nothing (a container has no rows of its own)."""

    @abstractmethod
    async def _reclaim(self, lease_id: str) -> bool:
        """Take back the runtime resources of a lease that is ending. Called with no
        transaction open; idempotent (called again on retries, and for leases whose
        resources are already gone, which is success).

        Returns:
            True when the resources are gone, or handed to a retry that outlives the
            lease (accounts left behind on a dirty machine); False to leave the lease
            ``releasing`` so the reconciler retries the release.
        """

    # -- what LeaseService supplies ------------------------------------------

    @abstractmethod
    async def _visible(
        self, db: AsyncSession, user: User, lease_id: str, *, for_update: bool = False
    ) -> L:
        """The lease if ``user`` may see it (LeaseService's)."""

    @abstractmethod
    async def _locked(self, db: AsyncSession, lease_id: str) -> L | None:
        """The lease with a write lock on its row (LeaseService's)."""

    @abstractmethod
    async def _reload(self, lease_id: str) -> L:
        """The lease as committed now (LeaseService's)."""

    @abstractmethod
    async def _audit(self, user: User, verb: str, object_id: str, **fields: str | None) -> None:
        """Record ``<noun>.<verb>`` (LeaseService's)."""

    @abstractmethod
    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        """The model's column ``name`` (LeaseService's)."""

    @abstractmethod
    def _notify(self, lease_id: str, expires_at: datetime | None) -> None:
        """Tell the deadline listeners (LeaseService's)."""

    @staticmethod
    @abstractmethod
    def as_row(lease: L) -> LeaseRow:
        """``lease`` seen as a :class:`LeaseRow` (LeaseService's)."""

    # -- ending --------------------------------------------------------------

    async def release(self, user: User, lease_id: str, *, source: str | None = None) -> L:
        """End a lease now (anyone who sees it). Idempotent on ended leases. Audited
        as ``<noun>.<release_verb>`` from the client address ``source``.

        Its resources are reclaimed before this returns when the runtime answers;
        otherwise it stays ``releasing`` and the reconciler retries.

        Raises:
            NotFound: no such lease, or ``user`` may not see it.
        """
        async with self._sessionmaker() as db:
            owner = self.as_row(await self._visible(db, user, lease_id)).user_id == user.id
        await self.release_by_id(lease_id, end_reason="owner" if owner else "admin")
        await self._audit(user, self.release_verb, lease_id, source=source)
        return await self._reload(lease_id)

    async def release_all(self, user: User, *, source: str | None = None) -> int:
        """Admins: release every live lease of this kind in the org. Returns how many.
        Audited once as ``<noun>.release_all`` (object ``*``, detail the count).

        Raises:
            Forbidden: ``user`` is not an admin.
        """
        require_role(user, Role.ADMIN)
        async with self._sessionmaker() as db:
            ids = list(
                await db.scalars(
                    select(self._column("id")).where(
                        self._column("org_id") == user.org_id,
                        self._column("state").in_(LIVE_STATES),
                    )
                )
            )
        await asyncio.gather(*(self.release_by_id(i, end_reason="admin") for i in ids))
        await self._audit(user, "release_all", "*", detail=str(len(ids)), source=source)
        return len(ids)

    async def release_by_id(
        self, lease_id: str, *, reason: str | None = None, end_reason: str = "deadline"
    ) -> bool:
        """Release a lease (the reconciler's entry point at a deadline); ``reason`` is
        kept in its ``error``; ``end_reason`` says why it ends (see :meth:`_ending`).

        A lease still provisioning only becomes ``releasing``: the provisioning
        coroutine finishes the release when it sees that state, or, if its server
        died, the reconciler's pass over ``releasing`` rows does.

        Returns:
            True when the lease is over (now or before), or left to its provisioning
            coroutine; False when it stays ``releasing`` because the runtime could
            not be reached.
        """
        async with write_session(self._sessionmaker) as db:
            lease = await self._locked(db, lease_id)
            if lease is None or LeaseState(lease.state).is_terminal:
                return True
            was_provisioning = lease.state == LeaseState.PROVISIONING.value
            if lease.state != LeaseState.RELEASING.value:
                transition(lease, LeaseState.RELEASING, now=self._clock())
                self._ending(lease, end_reason)
                if reason:
                    lease.error = reason
            if was_provisioning:
                return True
            self._reclaiming(lease)
            user_id = self.as_row(lease).user_id
        self._notify(lease_id, None)
        self.changes.publish(user_id)
        return await self._finish_release(lease_id)

    async def _finish_release(self, lease_id: str) -> bool:
        """Reclaim, then move a ``releasing`` lease to ``released``; False (and still
        ``releasing``) when the reclaim must be retried."""
        if not await self._reclaim(lease_id):
            return False
        async with write_session(self._sessionmaker) as db:
            lease = await self._locked(db, lease_id)
            if lease is None or lease.state != LeaseState.RELEASING.value:
                return True
            transition(lease, LeaseState.RELEASED, now=self._clock())
            user_id = self.as_row(lease).user_id
        self.changes.publish(user_id)
        return True

    async def fail(self, lease_id: str, error: str) -> None:
        """Mark a live lease ``failed`` with ``error`` and reclaim what it holds (the
        reconciler's verdict on vanished resources and provisioning cut off by a
        crash). Does nothing to an ended lease. What the reclaim cannot take back
        now is the reconciler's (orphans by label, accounts left behind)."""
        async with write_session(self._sessionmaker) as db:
            lease = await self._locked(db, lease_id)
            if lease is None or LeaseState(lease.state).is_terminal:
                return
            transition(lease, LeaseState.FAILED, now=self._clock(), error=error)
            self._ending(lease, "failed")
            self._reclaiming(lease)
            user_id = self.as_row(lease).user_id
        self._notify(lease_id, None)
        self.changes.publish(user_id)
        await self._reclaim(lease_id)
