"""Machines and pools: registration, credentials, availability."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.drivers.machines import MachineAddress
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine, MachineStatus
from moorage.models.pool import Pool
from moorage.models.reservation import Reservation
from moorage.security.crypto import Keyring

__all__ = [
    "MachineSpec",
    "address_of",
    "availability",
    "check_machine_spec",
    "ensure_new_names",
    "find_machine",
    "find_pool",
    "get_or_create_pool",
    "register",
    "seal_credentials",
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


async def find_pool(db: AsyncSession, org_id: str, name: str) -> Pool:
    """Raises NotFound for an unknown pool."""
    pool = await db.scalar(select(Pool).where(Pool.org_id == org_id, Pool.name == name))
    if pool is None:
        raise NotFound(f"no pool named {name!r}", code="pool_not_found")
    return pool


async def get_or_create_pool(db: AsyncSession, org_id: str, name: str) -> Pool:
    """The pool ``name``, created with default limits when it does not exist (not committed)."""
    pool = await db.scalar(select(Pool).where(Pool.org_id == org_id, Pool.name == name))
    if pool is None:
        pool = Pool(org_id=org_id, name=name)
        db.add(pool)
        await db.flush()
    return pool


async def find_machine(db: AsyncSession, org_id: str, name: str) -> Machine:
    """Raises NotFound for an unknown machine."""
    machine = await db.scalar(select(Machine).where(Machine.org_id == org_id, Machine.name == name))
    if machine is None:
        raise NotFound(f"no machine named {name!r}", code="machine_not_found")
    return machine


async def ensure_new_names(db: AsyncSession, names: Sequence[str]) -> None:
    """Raises Conflict naming the first of ``names`` already registered."""
    taken = set(await db.scalars(select(Machine.name).where(Machine.name.in_(list(names)))))
    for name in names:
        if name in taken:
            raise Conflict(f"a machine named {name!r} is already registered", code="machine_exists")


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
