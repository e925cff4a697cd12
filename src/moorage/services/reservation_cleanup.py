"""Clean-up of reservation accounts on machines, and of dirty machines.

Reclaiming a reservation ends its account's processes and deletes the account
with its home on every machine. An account whose removal fails stays
``left_behind`` and its machine ``dirty`` (never handed out) until a later
clean-up succeeds; the reconciler runs :meth:`AccountCleanup.run` on every
pass, so nothing is forgotten across restarts.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.drivers.machines import MachineConnector
from moorage.errors import MoorageError
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine, MachineStatus
from moorage.models.reservation import AccountState, Reservation, ReservationAccount
from moorage.security.crypto import Keyring
from moorage.services.machines import address_of

__all__ = ["PENDING_STATES", "AccountCleanup", "free_machine"]

log = logging.getLogger(__name__)

PENDING_STATES = (AccountState.REMOVING.value, AccountState.LEFT_BEHIND.value)
"""Account states whose removal is still to do."""


class AccountCleanup:
    """Deletes accounts waiting for removal and frees their machines.

    Args:
        sessionmaker: opens database sessions.
        connector: deletes accounts on machines (SSH).
        keyring: opens the machines' credentials.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connector: MachineConnector,
        keyring: Keyring,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connector = connector
        self._keyring = keyring

    async def run(self, *, reservation_id: str | None = None) -> int:
        """Delete accounts waiting for removal (``removing``, ``left_behind``) of ended
        reservations, or of ``reservation_id`` only; free their machines.

        Accounts are deleted on all machines concurrently. A machine whose clean-up
        fails becomes ``dirty``; one whose last pending clean-up succeeds comes back
        ``online``. Never raises for a machine that fails.

        Returns:
            How many of the accounts tried are still left behind.
        """
        async with self._sessionmaker() as db:
            query = select(ReservationAccount).where(ReservationAccount.state.in_(PENDING_STATES))
            if reservation_id is not None:
                query = query.where(ReservationAccount.reservation_id == reservation_id)
            else:
                query = query.join(Reservation).where(Reservation.state.not_in(LIVE_STATES))
            accounts = list(await db.scalars(query))
        if not accounts:
            return 0

        async def remove(account: ReservationAccount) -> BaseException | None:
            try:
                await self._connector.delete_account(
                    address_of(account.machine, self._keyring), account.username
                )
            except MoorageError as exc:
                return exc
            return None

        results = await asyncio.gather(*(remove(a) for a in accounts))
        left = 0
        async with write_session(self._sessionmaker) as db:
            for account, error in zip(accounts, results, strict=True):
                row = await db.get(
                    ReservationAccount, account.id, with_for_update={"of": ReservationAccount}
                )
                if row is None:
                    continue
                if error is None:
                    row.state = AccountState.REMOVED.value
                    row.error = None
                else:
                    left += 1
                    row.state = AccountState.LEFT_BEHIND.value
                    row.error = error.message if isinstance(error, MoorageError) else repr(error)
                    log.warning(
                        "reclaim of %s on %s failed: %s", row.username, row.machine_name, row.error
                    )
                await db.flush()
                await free_machine(
                    db, row.machine_id, row.reservation_id, dirty=error is not None, error=row.error
                )
        return left


async def free_machine(
    db: AsyncSession, machine_id: str, reservation_id: str, *, dirty: bool, error: str | None = None
) -> None:
    """Release the machine from ``reservation_id``; mark it ``dirty`` (with ``error``)
    while any of its accounts is left behind, ``online`` again once none is."""
    machine = await db.get(Machine, machine_id, with_for_update={"of": Machine})
    if machine is None:
        return
    if machine.reservation_id == reservation_id:
        machine.reservation_id = None
    if dirty:
        machine.status = MachineStatus.DIRTY.value
        machine.last_error = f"clean-up failed: {error}"
        return
    if machine.status == MachineStatus.DIRTY.value:
        pending = await db.scalar(
            select(func.count())
            .select_from(ReservationAccount)
            .where(
                ReservationAccount.machine_id == machine_id,
                ReservationAccount.state == AccountState.LEFT_BEHIND.value,
            )
        )
        if not pending:
            machine.status = MachineStatus.ONLINE.value
            machine.last_error = None
