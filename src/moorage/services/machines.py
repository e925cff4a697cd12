"""Machines of the pool: registration, credentials, and the operators' changes.

Every change (add, update, maintenance, delete) checks the operator role and
writes the audit log here, so the API, the pages and any other caller follow
the same rules. Pools live in :mod:`moorage.services.pools` (``find_pool``,
``get_or_create_pool`` and ``availability`` are re-exported here).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.drivers.machines import MachineAddress
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.machine import Machine, MachineStatus
from moorage.models.pool import Pool
from moorage.models.reservation import ReservationAccount
from moorage.models.user import Role, User
from moorage.schemas.machine import MachineUpdate
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.pools import availability, find_pool, get_or_create_pool

__all__ = [
    "MachineSpec",
    "add_machine",
    "address_of",
    "availability",
    "check_machine_spec",
    "delete_machine",
    "ensure_new_names",
    "find_machine",
    "find_pool",
    "get_or_create_pool",
    "machines_of",
    "register",
    "seal_credentials",
    "toggle_maintenance",
    "update_machine",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HOST_PATTERN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$")
PASSWORD_CONTEXT = "machine.password"
PRIVATE_KEY_CONTEXT = "machine.private_key"


class MachineSpec:
    """Validated fields of a machine to register (from the API or ``machines.txt``)."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        user: str,
        password: str | None,
        private_key: str | None,
        pool: str,
        tags: Sequence[str],
    ) -> None:
        self.name, self.host, self.port, self.user = name, host, port, user
        self.password, self.private_key = password, private_key
        self.pool, self.tags = pool, list(tags)


def check_machine_spec(spec: MachineSpec) -> MachineSpec:
    """Return ``spec`` when every field is valid.

    Raises:
        InvalidInput: naming the first bad field.
    """
    if not NAME_PATTERN.match(spec.name):
        raise InvalidInput("name must be 1-64 letters, digits, '.', '_' or '-'", field="name")
    try:
        ipaddress.ip_address(spec.host)
    except ValueError:
        if not HOST_PATTERN.match(spec.host):
            raise InvalidInput(
                f"host {spec.host!r} is not a host name or IP address", field="host"
            ) from None
    if not 1 <= spec.port <= 65535:
        raise InvalidInput("port must be 1-65535", field="port")
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", spec.user):
        raise InvalidInput("user must be a valid login name", field="user")
    if not spec.password and not spec.private_key:
        raise InvalidInput("give password or private_key", field="password")
    if not NAME_PATTERN.match(spec.pool):
        raise InvalidInput("pool must be 1-64 letters, digits, '.', '_' or '-'", field="pool")
    for tag in spec.tags:
        if not 1 <= len(tag) <= 64:
            raise InvalidInput("tags must be 1-64 characters each", field="tags")
    return spec


def seal_credentials(
    machine: Machine, keyring: Keyring, *, password: str | None, private_key: str | None
) -> None:
    """Store the machine's credentials encrypted (AES-256-GCM, see security.crypto)."""
    machine.password_sealed = keyring.seal(password, PASSWORD_CONTEXT) if password else None
    machine.private_key_sealed = (
        keyring.seal(private_key, PRIVATE_KEY_CONTEXT) if private_key else None
    )


def address_of(machine: Machine, keyring: Keyring) -> MachineAddress:
    """How the connector reaches ``machine``, credentials decrypted."""
    return MachineAddress(
        name=machine.name,
        host=machine.host,
        port=machine.port,
        user=machine.user,
        password=keyring.open(machine.password_sealed, PASSWORD_CONTEXT)
        if machine.password_sealed
        else None,
        private_key=keyring.open(machine.private_key_sealed, PRIVATE_KEY_CONTEXT)
        if machine.private_key_sealed
        else None,
        host_key=machine.host_key,
    )


async def register(db: AsyncSession, keyring: Keyring, org_id: str, spec: MachineSpec) -> Machine:
    """Insert a machine from a checked spec (not committed); its pool is created with
    default limits when needed. The name must be free (see :func:`ensure_new_names`)."""
    pool = await get_or_create_pool(db, org_id, spec.pool)
    machine = Machine(
        org_id=org_id,
        pool_id=pool.id,
        name=spec.name,
        host=spec.host,
        port=spec.port,
        user=spec.user,
        tags=spec.tags,
        status=MachineStatus.UNKNOWN.value,
    )
    seal_credentials(machine, keyring, password=spec.password, private_key=spec.private_key)
    db.add(machine)
    await db.flush()
    await db.refresh(machine, ["pool"])
    return machine


async def find_machine(db: AsyncSession, org_id: str, name: str) -> Machine:
    """Raises NotFound for an unknown machine."""
    machine = await db.scalar(select(Machine).where(Machine.org_id == org_id, Machine.name == name))
    if machine is None:
        raise NotFound("no machine named %(name)r", params={"name": name}, code="machine_not_found")
    return machine


async def ensure_new_names(db: AsyncSession, names: Sequence[str]) -> None:
    """Raises Conflict naming the first of ``names`` already registered."""
    taken = set(await db.scalars(select(Machine.name).where(Machine.name.in_(list(names)))))
    for name in names:
        if name in taken:
            raise Conflict(
                "a machine named %(name)r is already registered",
                params={"name": name},
                code="machine_exists",
            )


async def machines_of(
    db: AsyncSession, operator: User, *, pool: str | None = None, status: str | None = None
) -> list[Machine]:
    """The operator's org's machines by name, optionally of one ``pool`` and ``status``.

    Raises:
        Forbidden: below operator.
    """
    require_role(operator, Role.OPERATOR)
    query = select(Machine).where(Machine.org_id == operator.org_id)
    if pool:
        query = query.join(Pool).where(Pool.name == pool)
    if status:
        query = query.where(Machine.status == status)
    return list(await db.scalars(query.order_by(Machine.name)))


async def add_machine(
    db: AsyncSession, keyring: Keyring, operator: User, spec: MachineSpec
) -> Machine:
    """Check and register a machine in the operator's org (audited ``machine.add``;
    not committed). The caller probes it once committed.

    Raises:
        Forbidden: below operator. InvalidInput: a bad field (named).
        Conflict: the name is taken (``machine_exists``).
    """
    require_role(operator, Role.OPERATOR)
    spec = check_machine_spec(spec)
    await ensure_new_names(db, [spec.name])
    machine = await register(db, keyring, operator.org_id, spec)
    audit_in(db, operator, "machine.add", "machine", spec.name)
    return machine


async def update_machine(
    db: AsyncSession, keyring: Keyring, operator: User, name: str, body: MachineUpdate
) -> Machine:
    """Change the fields set in ``body`` (audited ``machine.update``; not committed).
    A new host or port (or ``reset_host_key``) forgets the pinned host key.

    Raises:
        Forbidden: below operator. NotFound: unknown machine.
        InvalidInput: a bad field (named).
        Conflict: moving a reserved machine to another pool (``machine_reserved``),
            or putting a dirty machine back to ``unknown`` (``machine_dirty``).
    """
    require_role(operator, Role.OPERATOR)
    machine = await find_machine(db, operator.org_id, name)
    fields = body.model_dump(exclude_unset=True)
    if "host" in fields or "port" in fields or body.reset_host_key:
        machine.host_key = None
    spec = check_machine_spec(
        MachineSpec(
            name=machine.name,
            host=body.host or machine.host,
            port=body.port or machine.port,
            user=body.user or machine.user,
            password="unchanged",
            private_key=None,
            pool=body.pool or machine.pool.name,
            tags=body.tags if body.tags is not None else machine.tags,
        )
    )
    machine.host, machine.port, machine.user = spec.host, spec.port, spec.user
    machine.tags = spec.tags
    if body.password is not None or body.private_key is not None:
        seal_credentials(
            machine,
            keyring,
            password=body.password.get_secret_value() if body.password else None,
            private_key=body.private_key.get_secret_value() if body.private_key else None,
        )
    if body.pool and body.pool != machine.pool.name:
        if machine.reservation_id:
            raise Conflict(
                "the machine is reserved; move it after the reservation ends",
                code="machine_reserved",
            )
        machine.pool_id = (await get_or_create_pool(db, operator.org_id, body.pool)).id
    if body.status:
        if body.status == "unknown" and machine.status == MachineStatus.DIRTY.value:
            raise Conflict(
                "a dirty machine comes back once its clean-up succeeds", code="machine_dirty"
            )
        machine.status = body.status
    audit_in(db, operator, "machine.update", "machine", name)
    return machine


async def toggle_maintenance(db: AsyncSession, operator: User, name: str) -> Machine:
    """Put a machine in maintenance (neither probed nor handed out), or take it out
    (back to ``unknown``, probed again). Audited ``machine.update``; not committed.

    Raises:
        Forbidden: below operator. NotFound: unknown machine.
        InvalidInput: the machine is dirty (it returns once its clean-up succeeds).
    """
    require_role(operator, Role.OPERATOR)
    machine = await find_machine(db, operator.org_id, name)
    if machine.status == MachineStatus.MAINTENANCE.value:
        machine.status = MachineStatus.UNKNOWN.value
    elif machine.status == MachineStatus.DIRTY.value:
        raise InvalidInput("a dirty machine returns once its clean-up succeeds", field="status")
    else:
        machine.status = MachineStatus.MAINTENANCE.value
    audit_in(db, operator, "machine.update", "machine", name, detail=f"status={machine.status}")
    return machine


async def delete_machine(db: AsyncSession, operator: User, name: str) -> None:
    """Forget a machine (audited ``machine.delete``; not committed).

    Raises:
        Forbidden: below operator. NotFound: unknown machine.
        Conflict: it is reserved or dirty (``machine_in_use``); release it first.
    """
    require_role(operator, Role.OPERATOR)
    machine = await find_machine(db, operator.org_id, name)
    if machine.reservation_id or machine.status == MachineStatus.DIRTY.value:
        raise Conflict(
            "%(name)s is reserved or dirty; release it first",
            params={"name": name},
            code="machine_in_use",
        )
    await db.execute(delete(ReservationAccount).where(ReservationAccount.machine_id == machine.id))
    await db.delete(machine)
    audit_in(db, operator, "machine.delete", "machine", name)
