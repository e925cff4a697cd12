"""The Projet-IAC API (seed ``002_*``): machines of one pool, reserved N at a time.

Projet-IAC's README lists its routes and its ``curl`` lines, not its response
bodies beyond ``/healthz``; the answers keep its words (``machines``,
``username``, ``password``, ``duration``, time remaining) and Moorage's. Its
documentation gives no error shape, so errors are Moorage's own: ``{"error":
{"code", "message", "field"?}}`` with Moorage's status code.

The pool is ``MOORAGE_COMPAT_IAC_POOL``; unset, the org's ``default`` pool, or
its first pool by name when there is no ``default`` (and ``default``, created
on first use, when the org has none).

=================================  =============================================
Projet-IAC                         Moorage
=================================  =============================================
``GET /healthz``                   ``{"status": "ok"}`` (public)
``GET /available``                 the pool's counts: ``{"pool", "total",
                                   "available", "reserved", "offline", "dirty",
                                   "maintenance", "unknown", "next_free_at"}``
``POST /machines``                 register a machine (operators) ``{"name",
  ``{"name", "host", "port",       "host", "port", "user", "password"}`` (or
  "user", "password"}``            ``private_key``); 201 with the machine once
                                   probed
``GET /machines``                  the pool's machines (operators), a list
``DELETE /machines/<name>``        forget a machine (operators): ``{"deleted"}``
``GET /reserve?username&password   reserve ``count`` (default 1) machines for
  &count&duration``                ``duration`` minutes (default: the pool's,
                                   60 unless changed); 201 ``{"id", "username",
                                   "password", "machines": [{"name", "host",
                                   "port", "ssh"}], "expires_at", ...}``
``GET /release_all``               admins: end every live reservation now:
                                   ``{"released": N}``
``GET /reservations``              live reservations (the caller's; operators:
                                   everyone's), with ``remaining_seconds`` and
                                   ``remaining_minutes``
=================================  =============================================

``/reserve`` and ``/release_all`` change something on ``GET``: the login cookie
counts only from Moorage's own pages (:func:`~moorage.api.compat._auth.Compat`
with ``cookie=False``). ``GET /machines`` and ``GET /reservations`` are also
Moorage's pages: they answer API clients, a browser still gets the page
(:class:`~moorage.api.compat.ApiClientRoute`). A reservation password follows
Moorage's rule (8-128 characters, no ``:``): the README's ``password=test`` is
refused with 422 naming the rule.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.api.compat import ApiClientRoute
from moorage.api.compat._auth import Compat, compat_user
from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.db.base import utcnow
from moorage.models.lease import LIVE_STATES
from moorage.models.machine import Machine
from moorage.models.reservation import Reservation
from moorage.models.user import Role, User
from moorage.schemas._input import InputModel, SshPrivateKey
from moorage.security.access import Public
from moorage.security.rbac import has_role
from moorage.services import machines, pools
from moorage.services.audit import client_address

__all__ = ["PATHS", "router"]

ROUTER = "iac"
DEFAULT_POOL = "default"
PATHS = ("/healthz", "/available", "/machines", "/reserve", "/release_all", "/reservations")
"""Projet-IAC's paths (``/machines/<name>`` under ``/machines``): API paths, not pages."""

router = APIRouter(tags=["compat: iac"])
# Paths shared with Moorage's pages: these answer API clients only.
_shared = APIRouter(tags=["compat: iac"], route_class=ApiClientRoute)


class IacMachine(InputModel):
    """``POST /machines``, as Projet-IAC's ``register_machines.py`` sends it."""

    name: str = Field(min_length=1, max_length=64)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field("root", min_length=1, max_length=32)
    password: SecretStr | None = None
    private_key: SshPrivateKey | None = Field(None, description="Instead of a password.")
    tags: list[str] = Field(default_factory=list, max_length=32)


async def pool_name(db: AsyncSession, settings_pool: str | None, org_id: str) -> str:
    """The Projet-IAC pool (see the module docstring)."""
    if settings_pool:
        return settings_pool
    names = [pool.name for pool in await pools.pools_of(db, org_id)]
    if not names or DEFAULT_POOL in names:
        return DEFAULT_POOL
    return names[0]


def machine_of(machine: Machine) -> dict[str, Any]:
    """A machine as Projet-IAC lists it (credentials never shown)."""
    return {
        "name": machine.name,
        "host": machine.host,
        "port": machine.port,
        "user": machine.user,
        "pool": machine.pool.name,
        "status": machine.status,
        "reserved": machine.reservation_id is not None,
        "reservation_id": machine.reservation_id,
        "last_error": machine.last_error,
    }


def reservation_of(
    reservation: Reservation, now: datetime, password: str | None = None
) -> dict[str, Any]:
    """A reservation with its machines and the time remaining (whole seconds and
    minutes, rounded down, never negative); ``password`` only when given."""
    remaining = max(0, int((reservation.expires_at - now).total_seconds()))
    body: dict[str, Any] = {
        "id": reservation.id,
        "username": reservation.username,
        "owner": reservation.user.username,
        "pool": reservation.pool.name,
        "count": reservation.count,
        "state": reservation.state,
        "machines": [
            {
                "name": account.machine_name,
                "host": account.machine.host,
                "port": account.machine.port,
                "ssh": shlex.join(
                    [
                        "ssh",
                        "-p",
                        str(account.machine.port),
                        f"{reservation.username}@{account.machine.host}",
                    ]
                ),
            }
            for account in reservation.accounts
        ],
        "starts_at": reservation.starts_at.isoformat(),
        "expires_at": reservation.expires_at.isoformat(),
        "duration": int((reservation.expires_at - reservation.starts_at).total_seconds()) // 60,
        "remaining_seconds": remaining,
        "remaining_minutes": remaining // 60,
    }
    if password is not None:
        body["password"] = password
    return body


@router.get("/healthz", dependencies=[Public])
async def healthz() -> dict[str, str]:
    """``{"status": "ok"}`` while the process answers."""
    return {"status": "ok"}


@router.get("/available", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def available(db: DbDep, context: ContextDep, user: User = compat_user) -> dict[str, Any]:
    """The pool's machine counts (see :func:`moorage.services.pools.availability`),
    ``next_free_at`` ISO 8601 UTC or null."""
    name = await pool_name(db, context.settings.compat_iac_pool, user.org_id)
    for row in await pools.availability(db, user.org_id, utcnow()):
        if row["pool"] == name:
            next_free = row["next_free_at"]
            return {
                **row,
                "next_free_at": next_free.isoformat() if isinstance(next_free, datetime) else None,
            }
    counts = ("total", "available", "reserved", "offline", "dirty", "maintenance", "unknown")
    return {"pool": name, **dict.fromkeys(counts, 0), "next_free_at": None}


@router.post("/machines", status_code=201, dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def add_machine(
    body: IacMachine, db: WriteDbDep, context: ContextDep, user: User = compat_user
) -> dict[str, Any]:
    """Register a machine in the pool and probe it once; 201 with the machine
    (``status`` ``online`` when the probe got in). 422 names a bad field (a
    password or private key is needed), 409 when the name is taken."""
    spec = machines.MachineSpec(
        name=body.name,
        host=body.host,
        port=body.port,
        user=body.user,
        password=body.password.get_secret_value() if body.password else None,
        private_key=body.private_key.get_secret_value() if body.private_key else None,
        pool=await pool_name(db, context.settings.compat_iac_pool, user.org_id),
        tags=body.tags,
    )
    machine = await machines.add_machine(db, context.keyring, user, spec)
    await db.commit()
    await context.prober.probe(machine)
    async with context.sessionmaker() as fresh:
        return machine_of(await machines.find_machine(fresh, user.org_id, spec.name))


@_shared.get("/machines", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def list_machines(
    db: DbDep, context: ContextDep, user: User = compat_user
) -> list[dict[str, Any]]:
    """The pool's machines by name."""
    name = await pool_name(db, context.settings.compat_iac_pool, user.org_id)
    return [machine_of(m) for m in await machines.machines_of(db, user, pool=name)]


@router.delete("/machines/{name}", dependencies=[Compat(ROUTER, Role.OPERATOR)])
async def delete_machine(name: str, db: WriteDbDep, user: User = compat_user) -> dict[str, str]:
    """Forget a machine: ``{"deleted": name}``; 404 when unknown, 409 while it is
    reserved or has an account left to clean up."""
    await machines.delete_machine(db, user, name)
    await db.commit()
    return {"deleted": name}


@router.get("/reserve", dependencies=[Compat(ROUTER, Role.MEMBER, cookie=False)])
async def reserve(
    request: Request,
    db: DbDep,
    context: ContextDep,
    username: str = Query(min_length=1, max_length=64),
    password: str = Query(min_length=1, max_length=256),
    count: int = Query(1),
    duration: int | None = Query(None, description="Minutes; default: the pool's."),
    user: User = compat_user,
) -> JSONResponse:
    """Reserve ``count`` machines for ``duration`` minutes with the account
    ``username``/``password`` on each; 201 once every account exists. 422: a bad
    count, duration (naming the pool's maximum), username or password (8-128
    characters, no ':'); 429 over the pool's per-user limit; 409 not enough
    machines (how many are available, when the next frees up); 503 a machine
    failed (every account already made is removed)."""
    pool = await pool_name(db, context.settings.compat_iac_pool, user.org_id)
    await db.close()  # no transaction held across the SSH calls
    reservation, secret = await context.reservations.reserve(
        user,
        pool=pool,
        count=count,
        duration_minutes=duration,
        username=username,
        password=password,
        source=client_address(request),
    )
    return JSONResponse(reservation_of(reservation, utcnow(), secret), status_code=201)


@router.get("/release_all", dependencies=[Compat(ROUTER, Role.ADMIN, cookie=False)])
async def release_all(
    request: Request, context: ContextDep, user: User = compat_user
) -> dict[str, int]:
    """Admins: end every live reservation now (their accounts are deleted and the
    machines freed): ``{"released": N}``."""
    released = await context.reservations.release_all(user, source=client_address(request))
    return {"released": released}


@_shared.get("/reservations", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def list_reservations(context: ContextDep, user: User = compat_user) -> list[dict[str, Any]]:
    """Live reservations, soonest to expire first: the caller's, or everyone's in
    the org for operators. Passwords are shown to their owners only."""
    everyone = has_role(user, Role.OPERATOR)
    rows = await context.reservations.list(user, all_users=everyone, live_only=True)
    now = utcnow()
    rows.sort(key=lambda reservation: reservation.expires_at)
    return [
        reservation_of(
            r,
            now,
            context.reservations.password_of(r)
            if r.user_id == user.id and r.state in LIVE_STATES
            else None,
        )
        for r in rows
    ]


router.include_router(_shared)
