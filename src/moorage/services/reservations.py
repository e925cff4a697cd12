"""Reservations: a lease on N pool machines with one generated account on each.

Reserving never holds a database transaction across an SSH call:

1. one transaction validates the pool limits, picks free online machines
   (``FOR UPDATE SKIP LOCKED`` where the database has it; ``BEGIN IMMEDIATE``
   on SQLite), marks them held and inserts the reservation in ``provisioning``
   with one account row per machine;
2. accounts are created on all machines concurrently;
3. all or nothing: if one machine fails, the accounts already made are
   removed, the machines freed and the reservation ``failed``;
4. otherwise a second transaction marks it ``ready`` and starts the clock.

Reclaim (at expiry, on release or after a failure) ends the account's
processes and deletes it with its home on every machine. An account whose
removal fails stays ``left_behind`` and its machine ``dirty`` (never handed
out) until a later clean-up succeeds; :meth:`ReservationService.clean_up`
retries them on every reconciler pass, so nothing is forgotten across restarts.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.machines import MachineConnector
from moorage.errors import Conflict, InvalidInput, MoorageError, NotFound, QuotaExceeded
from moorage.models.lease import LIVE_STATES, LeaseState
from moorage.models.machine import Machine, MachineStatus
from moorage.models.reservation import AccountState, Reservation, ReservationAccount
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.passwords import generate_password
from moorage.security.rbac import has_role, require_role
from moorage.services.accounts import check_password, check_username, generate_username
from moorage.services.changes import ChangeFeed
from moorage.services.leases import extend_expiry, requested_duration, transition
from moorage.services.machines import address_of, find_pool

__all__ = ["PASSWORD_CONTEXT", "ReservationService"]

log = logging.getLogger(__name__)

PASSWORD_CONTEXT = "reservation.password"
MAX_COUNT = 100


class ReservationService:
    """Reservation operations for the API, the UI and the reconciler.

    Args:
        sessionmaker: opens database sessions.
        connector: runs account operations on machines (SSH).
        keyring: opens machine credentials and seals reservation passwords.
        instance_id: this server process's id.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        connector: MachineConnector,
        keyring: Keyring,
        *,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._connector = connector
        self._keyring = keyring
        self._instance_id = instance_id
        self._clock = clock
        self._listeners: list[Callable[[str, datetime | None], None]] = []
        self.changes = ChangeFeed()

    def add_deadline_listener(self, listener: Callable[[str, datetime | None], None]) -> None:
        self._listeners.append(listener)

    def _notify(self, reservation_id: str, expires_at: datetime | None) -> None:
        for listener in self._listeners:
            listener(reservation_id, expires_at)

    def password_of(self, reservation: Reservation) -> str:
        """The account password, for the owner's eyes."""
        return self._keyring.open(reservation.password_sealed, PASSWORD_CONTEXT)

    # -- reading -----------------------------------------------------------

    async def get(self, user: User, reservation_id: str) -> Reservation:
        """The reservation if ``user`` owns it or is an admin or operator.

        Raises:
            NotFound: no such reservation, or someone else's.
        """
        async with self._sessionmaker() as db:
            return await self._visible(db, user, reservation_id)

    async def list(
        self, user: User, *, all_users: bool = False, live_only: bool = False
    ) -> list[Reservation]:
        """The caller's reservations, newest first; everyone's with ``all_users``
        (admins and operators).

        Raises:
            Forbidden: ``all_users`` asked by a member.
        """
        query = select(Reservation).where(Reservation.org_id == user.org_id)
        if all_users:
            require_role(user, Role.OPERATOR)
        else:
            query = query.where(Reservation.user_id == user.id)
        if live_only:
            query = query.where(Reservation.state.in_(LIVE_STATES))
        async with self._sessionmaker() as db:
            return list(await db.scalars(query.order_by(Reservation.created_at.desc())))

    async def _visible(
        self, db: AsyncSession, user: User, reservation_id: str, *, for_update: bool = False
    ) -> Reservation:
        query = select(Reservation).where(Reservation.id == reservation_id)
        if for_update:
            query = query.with_for_update(of=Reservation)
        reservation = await db.scalar(query)
        if (
            reservation is None
            or reservation.org_id != user.org_id
            or (reservation.user_id != user.id and not has_role(user, Role.OPERATOR))
        ):
            raise NotFound(f"no reservation {reservation_id}", code="reservation_not_found")
        return reservation

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
    ) -> tuple[Reservation, str]:
        """Reserve ``count`` machines of ``pool`` and create the account on each.

        Returns:
            The ready reservation and the account password (plaintext, shown once).

        Raises:
            InvalidInput: bad count, duration (naming the pool's maximum), username
                (pattern, reserved names) or password (422).
            NotFound: unknown pool (404).
            QuotaExceeded: over the pool's machines per user (429).
            Conflict: not enough machines available, naming how many are and when the
                next frees up (409); or the username exists on a machine.
            RuntimeUnavailable: a machine failed; every account made is removed (503).
        """
        if not 1 <= count <= MAX_COUNT:
            raise InvalidInput(f"count must be 1-{MAX_COUNT}", field="count")
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
        reservation = await self._mark_ready(reservation_id, duration)
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
        async with write_session(self._sessionmaker) as db:
            pool = await find_pool(db, user.org_id, pool_name)
            duration = requested_duration(
                duration_minutes=duration_minutes,
                duration_seconds=duration_seconds,
                default_minutes=pool.default_duration_minutes,
                max_minutes=pool.max_duration_minutes,
            )
            await db.execute(select(User.id).where(User.id == user.id).with_for_update())
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
            login_users = set(
                await db.scalars(select(Machine.user).where(Machine.pool_id == pool.id).distinct())
            )
            check_username(username, login_users=login_users)
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
            now = self._clock()
            reservation = Reservation(
                id=new_id(),
                org_id=user.org_id,
                user_id=user.id,
                pool_id=pool.id,
                count=count,
                username=username,
                password_sealed=self._keyring.seal(password, PASSWORD_CONTEXT),
                sudo=pool.allow_sudo,
                state=LeaseState.PROVISIONING.value,
                starts_at=now,
                expires_at=now + duration,
                created_at=now,
                instance_id=self._instance_id,
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
        sudo = False
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
        """Undo a reservation whose accounts could not all be made."""
        messages = "; ".join(
            exc.message if isinstance(exc, MoorageError) else repr(exc) for _, exc in failures
        )
        existed = {
            account_id
            for account_id, exc in failures
            if isinstance(exc, Conflict) and exc.code == "account_exists"
        }
        async with write_session(self._sessionmaker) as db:
            reservation = await _locked(db, reservation_id)
            if reservation is None:
                return
            for account in reservation.accounts:
                if account.id in existed:
                    # Someone else's account of that name: never delete it.
                    account.state = AccountState.REMOVED.value
                    account.error = "an account of this name already existed; left alone"
                    await _free_machine(db, account.machine_id, reservation_id, dirty=False)
                else:
                    account.state = AccountState.REMOVING.value
            if not LeaseState(reservation.state).is_terminal:
                transition(
                    reservation,
                    LeaseState.FAILED,
                    now=self._clock(),
                    error=f"reserving failed: {messages}",
                )
            user_id = reservation.user_id
        await self.clean_up(reservation_id=reservation_id)
        self.changes.publish(user_id)

    async def _mark_ready(self, reservation_id: str, duration: timedelta) -> Reservation:
        async with write_session(self._sessionmaker) as db:
            reservation = await _locked(db, reservation_id)
            if reservation is None:
                raise NotFound(f"no reservation {reservation_id}", code="reservation_not_found")
            for account in reservation.accounts:
                if account.state == AccountState.CREATING.value:
                    account.state = AccountState.READY.value
            ended = reservation.state != LeaseState.PROVISIONING.value
            if not ended:
                now = self._clock()
                transition(reservation, LeaseState.READY, now=now)
                reservation.starts_at = now
                reservation.expires_at = now + duration
                reservation.instance_id = None
            expires_at, user_id = reservation.expires_at, reservation.user_id
        if ended:
            await self.release_by_id(reservation_id)
            raise Conflict(
                "the reservation was ended while it was being made", code="reservation_ended"
            )
        self._notify(reservation_id, expires_at)
        self.changes.publish(user_id)
        return await self._reload(reservation_id)

    async def _reload(self, reservation_id: str) -> Reservation:
        async with self._sessionmaker() as db:
            reservation = await db.get(Reservation, reservation_id, populate_existing=True)
            if reservation is None:
                raise NotFound(f"no reservation {reservation_id}", code="reservation_not_found")
            return reservation

    # -- changing ----------------------------------------------------------

    async def extend(self, user: User, reservation_id: str, minutes: int) -> Reservation:
        """Push the deadline back by ``minutes``.

        Raises:
            NotFound; InvalidInput past the pool's maximum duration (422, naming what
            is left); QuotaExceeded past the pool's maximum extensions (429);
            Conflict when not ready.
        """
        async with write_session(self._sessionmaker) as db:
            reservation = await self._visible(db, user, reservation_id, for_update=True)
            pool = reservation.pool
            if reservation.extensions >= pool.max_extensions:
                raise QuotaExceeded(
                    f"this reservation was already extended {reservation.extensions} times; "
                    f"pool {pool.name} allows {pool.max_extensions}",
                    code="too_many_extensions",
                    limit=pool.max_extensions,
                )
            extend_expiry(
                reservation,
                minutes=minutes,
                max_minutes=pool.max_duration_minutes,
                now=self._clock(),
            )
            expires_at = reservation.expires_at
        self._notify(reservation_id, expires_at)
        self.changes.publish(reservation.user_id)
        return await self._reload(reservation_id)

    async def release(self, user: User, reservation_id: str) -> Reservation:
        """End a reservation now (owner, operator or admin). Idempotent."""
        async with self._sessionmaker() as db:
            await self._visible(db, user, reservation_id)
        await self.release_by_id(reservation_id)
        return await self._reload(reservation_id)

    async def release_all(self, user: User) -> int:
        """Admins: release every live reservation of the org. Returns how many."""
        require_role(user, Role.ADMIN)
        async with self._sessionmaker() as db:
            ids = list(
                await db.scalars(
                    select(Reservation.id).where(
                        Reservation.org_id == user.org_id, Reservation.state.in_(LIVE_STATES)
                    )
                )
            )
        await asyncio.gather(*(self.release_by_id(i) for i in ids))
        return len(ids)

    async def release_by_id(self, reservation_id: str) -> bool:
        """Reclaim every account of the reservation and end it (the reconciler's
        entry point at a deadline).

        Returns:
            True when the lease is over (machines whose clean-up failed are left
            ``dirty`` and retried by :meth:`clean_up`).
        """
        async with write_session(self._sessionmaker) as db:
            reservation = await _locked(db, reservation_id)
            if reservation is None or LeaseState(reservation.state).is_terminal:
                return True
            was_provisioning = reservation.state == LeaseState.PROVISIONING.value
            if reservation.state != LeaseState.RELEASING.value:
                transition(reservation, LeaseState.RELEASING, now=self._clock())
            if was_provisioning:
                # The reserving coroutine sees `releasing` and comes back here; if its
                # server died, the reconciler's pass over `releasing` rows does.
                return True
            for account in reservation.accounts:
                if account.state in (AccountState.CREATING.value, AccountState.READY.value):
                    account.state = AccountState.REMOVING.value
            user_id = reservation.user_id
        self._notify(reservation_id, None)
        await self.clean_up(reservation_id=reservation_id)
        async with write_session(self._sessionmaker) as db:
            reservation = await _locked(db, reservation_id)
            if reservation is not None and reservation.state == LeaseState.RELEASING.value:
                transition(reservation, LeaseState.RELEASED, now=self._clock())
        self.changes.publish(user_id)
        return True

    async def fail(self, reservation_id: str, error: str) -> None:
        """Fail a reservation whose making was cut off, and reclaim what it made."""
        async with write_session(self._sessionmaker) as db:
            reservation = await _locked(db, reservation_id)
            if reservation is None or LeaseState(reservation.state).is_terminal:
                return
            transition(reservation, LeaseState.FAILED, now=self._clock(), error=error)
            for account in reservation.accounts:
                if account.state != AccountState.REMOVED.value:
                    account.state = AccountState.REMOVING.value
        self._notify(reservation_id, None)
        await self.clean_up(reservation_id=reservation_id)

    # -- clean-up ----------------------------------------------------------

    async def clean_up(self, *, reservation_id: str | None = None) -> int:
        """Delete accounts waiting for removal (``removing``, ``left_behind``) of ended
        reservations, or of ``reservation_id`` only; free their machines.

        A machine whose clean-up fails becomes ``dirty``; one whose last pending
        clean-up succeeds comes back ``online``.

        Returns:
            How many accounts are still left behind.
        """
        pending_states = (AccountState.REMOVING.value, AccountState.LEFT_BEHIND.value)
        async with self._sessionmaker() as db:
            query = select(ReservationAccount).where(ReservationAccount.state.in_(pending_states))
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
                await _free_machine(
                    db, row.machine_id, row.reservation_id, dirty=error is not None, error=row.error
                )
        return left


async def _locked(db: AsyncSession, reservation_id: str) -> Reservation | None:
    """Load a reservation with a write lock on its row only."""
    return await db.scalar(
        select(Reservation).where(Reservation.id == reservation_id).with_for_update(of=Reservation)
    )


async def _free_machine(
    db: AsyncSession, machine_id: str, reservation_id: str, *, dirty: bool, error: str | None = None
) -> None:
    """Release the machine from ``reservation_id``; mark it ``dirty`` while any of its
    accounts is left behind, ``online`` again once none is."""
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
