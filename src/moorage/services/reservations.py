"""Reservations: a lease on N pool machines with one generated account on each.

The lease lifecycle (reading, extending, releasing, failing) is
:class:`~moorage.services.leases.LeaseService`'s; what a reservation adds is
its accounts: how machines are allocated (:mod:`.reservation_allocation`), how
accounts are made, and how they are reclaimed (:mod:`.reservation_cleanup`).

Reserving never holds a database transaction across an SSH call:

1. one transaction validates the pool limits, picks free online machines
   (``FOR UPDATE SKIP LOCKED`` where the database has it; ``BEGIN IMMEDIATE``
   on SQLite), marks them held and inserts the reservation in ``provisioning``
   with one account row per machine;
2. accounts are created on all machines concurrently;
3. all or nothing: if one machine fails, the accounts already made are
   removed, the machines freed and the reservation ``failed``;
4. otherwise a second transaction marks it ``ready`` and starts the clock.

Reclaim (at expiry, on release or after a failure) deletes the account on
every machine; what cannot be deleted now is retried by :meth:`clean_up`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.machines import MachineConnector
from moorage.errors import Conflict, InvalidInput, MoorageError, QuotaExceeded
from moorage.models.lease import LeaseState
from moorage.models.machine import Machine
from moorage.models.reservation import AccountState, Reservation, ReservationAccount
from moorage.models.user import Role, User
from moorage.observability.metrics import RESERVATION_CLAIM_SECONDS
from moorage.security.crypto import Keyring
from moorage.security.passwords import generate_password
from moorage.security.rbac import require_role
from moorage.services import quotas
from moorage.services.accounts import check_password, check_username, generate_username
from moorage.services.groups import check_may_reserve
from moorage.services.leases import LeaseService, Visibility, requested_duration
from moorage.services.machines import address_of, find_pool
from moorage.services.reservation_allocation import (
    check_machine_quota,
    login_users,
    pick_machines,
)
from moorage.services.reservation_cleanup import AccountCleanup, free_machine

__all__ = ["PASSWORD_CONTEXT", "ReservationService"]

log = logging.getLogger(__name__)

PASSWORD_CONTEXT = "reservation.password"
MAX_COUNT = 100


class ReservationService(LeaseService[Reservation]):
    """Reservation operations for the API, the UI and the reconciler. Owners see
    their reservations; operators and admins see everyone's in their org.

    Args:
        sessionmaker: opens database sessions.
        connector: runs account operations on machines (SSH).
        keyring: opens machine credentials and seals reservation passwords.
        instance_id: this server process's id.
        clock: current UTC time; injected for tests.
    """

    model = Reservation
    noun = "reservation"
    visibility = Visibility(sees_all=Role.OPERATOR)
    ended_message = "the reservation was ended while it was being made"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connector: MachineConnector,
        keyring: Keyring,
        *,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(sessionmaker, instance_id=instance_id, clock=clock)
        self._connector = connector
        self._keyring = keyring
        self._cleanup = AccountCleanup(sessionmaker, connector, keyring)

    def password_of(self, reservation: Reservation) -> str:
        """The account password, for the owner's eyes."""
        return self._keyring.open(reservation.password_sealed, PASSWORD_CONTEXT)

    def limit_minutes(self, lease: Reservation) -> int:
        """The pool's maximum duration.

        Raises:
            QuotaExceeded: already extended the pool's maximum number of times (429,
                code ``too_many_extensions``).
        """
        pool = lease.pool
        if lease.extensions >= pool.max_extensions:
            raise QuotaExceeded(
                f"this reservation was already extended {lease.extensions} times; "
                f"pool {pool.name} allows {pool.max_extensions}",
                code="too_many_extensions",
                limit=pool.max_extensions,
            )
        return pool.max_duration_minutes

    # -- reserving ---------------------------------------------------------

    async def reserve(
        self,
        user: User,
        *,
        pool: str = "default",
        count: int = 1,
        duration_minutes: int | None = None,
        duration_seconds: int | None = None,
        username: str | None = None,
        password: str | None = None,
        source: str | None = None,
    ) -> tuple[Reservation, str]:
        """Reserve ``count`` machines of ``pool`` and create the account on each;
        audited as ``reservation.reserve`` (from the client address ``source``);
        timed into ``moorage_reservation_claim_seconds`` (outcome ``ready``, ``refused``
        for a 4xx, ``failed``).

        Returns:
            The ready reservation and the account password (plaintext, shown once).

        Raises:
            Forbidden: ``user`` is below the member role (403).
            InvalidInput: bad count, duration (naming the pool's maximum), username
                (pattern, reserved names) or password (422).
            NotFound: unknown pool (404).
            Forbidden: the pool is restricted to groups ``user`` is not in (403, code
                ``group_required``, naming them).
            QuotaExceeded: over the pool's machines per user, or a quota of the org
                or a group (429, naming the quota; :mod:`moorage.services.quotas`).
            Conflict: not enough machines available, naming how many are and when the
                next frees up (409); or the username exists on a machine.
            RuntimeUnavailable: a machine failed; every account made is removed (503).
        """
        started = time.perf_counter()
        outcome = "failed"
        try:
            claimed = await self._reserve(
                user,
                pool=pool,
                count=count,
                duration_minutes=duration_minutes,
                duration_seconds=duration_seconds,
                username=username,
                password=password,
                source=source,
            )
            outcome = "ready"
            return claimed
        except MoorageError as exc:
            if exc.status_code < 500:
                outcome = "refused"
            raise
        finally:
            RESERVATION_CLAIM_SECONDS.labels(outcome).observe(time.perf_counter() - started)

    async def _reserve(
        self,
        user: User,
        *,
        pool: str = "default",
        count: int = 1,
        duration_minutes: int | None = None,
        duration_seconds: int | None = None,
        username: str | None = None,
        password: str | None = None,
        source: str | None = None,
    ) -> tuple[Reservation, str]:
        """What :meth:`reserve` does, untimed."""
        require_role(user, Role.MEMBER)
        if not 1 <= count <= MAX_COUNT:
            raise InvalidInput("count must be 1-%(max)s", params={"max": MAX_COUNT}, field="count")
        username = check_username(username) if username else generate_username()
        password = check_password(password) if password else generate_password(12)
        reservation_id, accounts, duration = await self._hold_machines(
            user, pool, count, duration_minutes, duration_seconds, username, password
        )
        failures = await self._create_accounts(reservation_id, accounts, username, password)
        if failures:
            await asyncio.shield(self._abort(reservation_id, failures))
            first = failures[0][1]
            if isinstance(first, MoorageError):
                raise type(first)(
                    f"reserving failed and was undone: {first.message}", code=first.code
                ) from first
            raise first

        def fill(reservation: Reservation) -> None:
            for account in reservation.accounts:
                if account.state == AccountState.CREATING.value:
                    account.state = AccountState.READY.value

        reservation = await self._mark_ready(reservation_id, duration, fill)
        await self._audit(
            user, "reserve", reservation.id, detail=f"{count} × {pool}", source=source
        )
        return reservation, password

    async def _hold_machines(
        self,
        user: User,
        pool_name: str,
        count: int,
        duration_minutes: int | None,
        duration_seconds: int | None,
        username: str,
        password: str,
    ) -> tuple[str, builtins.list[tuple[str, Machine]], timedelta]:
        """Insert the reservation in ``provisioning`` holding ``count`` machines, with
        one ``creating`` account row per machine; ``(id, [(account id, machine)],
        duration)``."""
        async with self._sessionmaker() as db:
            scopes = await quotas.scopes_of(db, user)
        async with write_session(self._sessionmaker) as db:
            await quotas.lock(db, user, scopes)  # first: MariaDB's snapshot follows it
            pool = await find_pool(db, user.org_id, pool_name)
            await check_may_reserve(db, user, pool)
            duration = requested_duration(
                duration_minutes=duration_minutes,
                duration_seconds=duration_seconds,
                default_minutes=pool.default_duration_minutes,
                max_minutes=pool.max_duration_minutes,
            )
            await self._lock_owner(db, user)
            await check_machine_quota(db, user, pool, count)
            await quotas.check_reservation(db, user, scopes, count, duration)
            check_username(username, login_users=await login_users(db, pool))
            machines = await pick_machines(db, pool, count)
            reservation = Reservation(
                **self._new_lease_columns(user, duration),
                pool_id=pool.id,
                count=count,
                username=username,
                password_sealed=self._keyring.seal(password, PASSWORD_CONTEXT),
                sudo=pool.allow_sudo,
            )
            db.add(reservation)
            accounts = []
            for machine in machines:
                machine.reservation_id = reservation.id
                account = ReservationAccount(
                    id=new_id(),
                    reservation_id=reservation.id,
                    machine_id=machine.id,
                    machine_name=machine.name,
                    username=username,
                    state=AccountState.CREATING.value,
                )
                db.add(account)
                accounts.append((account.id, machine))
        return reservation.id, accounts, duration

    async def _create_accounts(
        self,
        reservation_id: str,
        accounts: Sequence[tuple[str, Machine]],
        username: str,
        password: str,
    ) -> builtins.list[tuple[str, BaseException]]:
        """Create the account everywhere at once; the failures as ``(account id, error)``."""
        async with self._sessionmaker() as db:
            reservation = await db.get(Reservation, reservation_id)
            sudo = bool(reservation and reservation.sudo)

        async def create(machine: Machine) -> None:
            await self._connector.create_account(
                address_of(machine, self._keyring), username, password, sudo=sudo
            )

        results = await asyncio.gather(
            *(create(machine) for _, machine in accounts), return_exceptions=True
        )
        failures: builtins.list[tuple[str, BaseException]] = []
        for (account_id, _), result in zip(accounts, results, strict=True):
            if isinstance(result, BaseException):
                failures.append((account_id, result))
        return failures

    async def _abort(
        self, reservation_id: str, failures: Sequence[tuple[str, BaseException]]
    ) -> None:
        """Undo a reservation whose accounts could not all be made: fail it and remove
        every account it made, but never one that existed before it."""
        messages = "; ".join(
            exc.message if isinstance(exc, MoorageError) else repr(exc) for _, exc in failures
        )
        existed = {
            account_id
            for account_id, exc in failures
            if isinstance(exc, Conflict) and exc.code == "account_exists"
        }
        async with write_session(self._sessionmaker) as db:
            reservation = await self._locked(db, reservation_id)
            if reservation is None:
                return
            for account in reservation.accounts:
                if account.id in existed:
                    # Someone else's account of that name: never delete it.
                    account.state = AccountState.REMOVED.value
                    account.error = "an account of this name already existed; left alone"
                    await free_machine(db, account.machine_id, reservation_id, dirty=False)
                else:
                    account.state = AccountState.REMOVING.value
            ended = LeaseState(reservation.state).is_terminal
        if ended:  # failed by the reconciler meanwhile: still remove what this attempt made
            await self._reclaim(reservation_id)
        else:
            await self.fail(reservation_id, f"reserving failed: {messages}")

    # -- reclaiming --------------------------------------------------------

    def _reclaiming(self, lease: Reservation) -> None:
        """Mark the accounts still being made or in use for removal."""
        for account in lease.accounts:
            if account.state in (AccountState.CREATING.value, AccountState.READY.value):
                account.state = AccountState.REMOVING.value

    async def _reclaim(self, lease_id: str) -> bool:
        """Delete the reservation's accounts; always True: an account that cannot be
        deleted now stays ``left_behind`` on a dirty machine, for :meth:`clean_up`."""
        await self._cleanup.run(reservation_id=lease_id)
        return True

    async def clean_up(self, *, reservation_id: str | None = None) -> int:
        """Delete accounts waiting for removal of ended reservations, or of
        ``reservation_id`` only, and free their machines (see
        :meth:`AccountCleanup.run <moorage.services.reservation_cleanup.AccountCleanup.run>`).

        Returns:
            How many accounts are still left behind.
        """
        return await self._cleanup.run(reservation_id=reservation_id)
