"""Machines, pools and availability (operators; availability and pools for all).

The rules (operator role, validation, audit log) live in the services, which
the pages call too; these handlers translate JSON to service calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from moorage.api.deps import ContextDep, CurrentUser, DbDep, OperatorUser, WriteDbDep
from moorage.api.pagination import Page
from moorage.db.base import utcnow
from moorage.errors import InvalidInput
from moorage.models.machine import Machine
from moorage.models.provision import ProvisionRun
from moorage.models.user import Role
from moorage.schemas.machine import (
    AvailabilityPublic,
    ImportResult,
    MachineCreate,
    MachinePublic,
    MachineUpdate,
    PoolPublic,
    PoolUpdate,
    ProvisionCreate,
    ProvisionRunPublic,
)
from moorage.security.access import Allow
from moorage.services import machines, pools
from moorage.services.machine_import import import_machines
from moorage.services.provisioning import playbook_choices

router = APIRouter(tags=["machines"])

MAX_IMPORT_BYTES = 1_000_000


def machine_public(machine: Machine) -> MachinePublic:
    """The API view of a machine: credentials are never shown, only their kind."""
    return MachinePublic(
        name=machine.name,
        host=machine.host,
        port=machine.port,
        user=machine.user,
        pool=machine.pool.name,
        tags=list(machine.tags or []),
        status=machine.status,
        last_error=machine.last_error,
        last_probe_at=machine.last_probe_at,
        host_key=machine.host_key,
        reservation_id=machine.reservation_id,
        credential="private_key" if machine.private_key_sealed else "password",
        created_at=machine.created_at,
    )


@router.get("/machines", response_model=list[MachinePublic], dependencies=[Allow(Role.OPERATOR)])
async def list_machines(
    db: DbDep,
    user: OperatorUser,
    page: Page,
    request: Request,
    response: Response,
    pool: str | None = None,
    status: str | None = None,
):
    """Operators: machines by name; filter by ``pool`` and ``status``. Pages: ``limit``
    and ``cursor``, the next page's URL in ``Link``."""
    rows = await machines.machines_of(db, user, pool=pool, status=status)
    return [machine_public(m) for m in page.apply(request, response, rows)]


@router.post(
    "/machines", status_code=201, response_model=MachinePublic, dependencies=[Allow(Role.OPERATOR)]
)
async def add_machine(body: MachineCreate, db: WriteDbDep, context: ContextDep, user: OperatorUser):
    """Operators: register a machine; the reconciler probes it right away. 422 names a
    bad field; 409 when the name is taken."""
    spec = machines.MachineSpec(
        name=body.name,
        host=body.host,
        port=body.port,
        user=body.user,
        password=body.password.get_secret_value() if body.password else None,
        private_key=body.private_key.get_secret_value() if body.private_key else None,
        pool=body.pool,
        tags=body.tags,
    )
    machine = await machines.add_machine(db, context.keyring, user, spec)
    await db.commit()
    await context.prober.probe(machine)
    async with context.sessionmaker() as fresh:
        return machine_public(await machines.find_machine(fresh, user.org_id, spec.name))


@router.post(
    "/machines/import",
    status_code=201,
    response_model=ImportResult,
    dependencies=[Allow(Role.OPERATOR)],
)
async def import_machines_file(
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: OperatorUser,
    pool: str = "default",
    skip_invalid: bool = False,
):
    """Operators: import the body in the ``machines.txt`` format (``name host port user
    password`` per line, ``#`` comments). Any bad line aborts the whole import with 422
    listing every bad line by number, unless ``skip_invalid=true``."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES} bytes", field="body")
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="body") from exc
    imported, skipped = await import_machines(
        db, context.keyring, user.org_id, text, pool=pool, skip_invalid=skip_invalid, by=user
    )
    await db.commit()
    return ImportResult(
        imported=imported, skipped=[{"line": e.line, "message": e.message} for e in skipped]
    )


@router.get("/machines/{name}", response_model=MachinePublic, dependencies=[Allow(Role.OPERATOR)])
async def get_machine(name: str, db: DbDep, user: OperatorUser):
    """Operators: one machine; 404 when unknown."""
    return machine_public(await machines.find_machine(db, user.org_id, name))


@router.patch("/machines/{name}", response_model=MachinePublic, dependencies=[Allow(Role.OPERATOR)])
async def update_machine(
    name: str, body: MachineUpdate, db: WriteDbDep, context: ContextDep, user: OperatorUser
):
    """Operators: change a machine. Moving a reserved machine to another pool is refused
    (409), as is putting a dirty machine back to ``unknown``."""
    await machines.update_machine(db, context.keyring, user, name, body)
    await db.commit()
    async with context.sessionmaker() as fresh:
        return machine_public(await machines.find_machine(fresh, user.org_id, name))


@router.delete("/machines/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def delete_machine(name: str, db: WriteDbDep, user: OperatorUser) -> Response:
    """Operators: forget a machine. 409 while it is reserved or has accounts to clean up."""
    await machines.delete_machine(db, user, name)
    await db.commit()
    return Response(status_code=204)


@router.get("/pools", response_model=list[PoolPublic], dependencies=[Allow(Role.VIEWER)])
async def list_pools(db: DbDep, user: CurrentUser):
    """The caller's org's pools by name, with their limits."""
    return await pools.pools_of(db, user.org_id)


@router.patch("/pools/{name}", response_model=PoolPublic, dependencies=[Allow(Role.OPERATOR)])
async def update_pool(name: str, body: PoolUpdate, db: WriteDbDep, user: OperatorUser):
    """Operators: change a pool's limits (they apply to new reservations and extensions)."""
    pool = await pools.update_pool(db, user, name, body)
    await db.commit()
    return pool


@router.get("/playbooks", dependencies=[Allow(Role.OPERATOR)])
async def list_playbooks(context: ContextDep, user: OperatorUser) -> list[str]:
    """Operators: playbook file names the API may run (``<data-dir>/playbooks`` and the
    samples)."""
    return sorted(playbook_choices(context.settings.data_dir))


@router.post(
    "/pools/{name}/provision",
    status_code=202,
    response_model=ProvisionRunPublic,
    dependencies=[Allow(Role.OPERATOR)],
)
async def provision_pool(name: str, body: ProvisionCreate, context: ContextDep, user: OperatorUser):
    """Operators: run a playbook on the pool in the background; poll the run for its
    output. 422 for an unknown playbook (listing the known ones) or an empty pool."""
    return await context.provisioner.start_playbook(user, name, body.playbook, body.extra_vars)


@router.get(
    "/pools/{name}/provision-runs",
    response_model=list[ProvisionRunPublic],
    dependencies=[Allow(Role.OPERATOR)],
)
async def list_provision_runs(name: str, db: DbDep, user: OperatorUser):
    """Operators: the pool's runs, newest first (the 20 latest)."""
    pool = await pools.find_pool(db, user.org_id, name)
    return list(
        await db.scalars(
            select(ProvisionRun)
            .where(ProvisionRun.pool_id == pool.id)
            .order_by(ProvisionRun.created_at.desc())
            .limit(20)
        )
    )


@router.get(
    "/provision-runs/{run_id}",
    response_model=ProvisionRunPublic,
    dependencies=[Allow(Role.OPERATOR)],
)
async def get_provision_run(run_id: str, context: ContextDep, user: OperatorUser):
    """Operators: one run with its output so far; 404 when unknown or another org's."""
    return await context.provisioner.run_of(user, run_id)


@router.get(
    "/availability", response_model=list[AvailabilityPublic], dependencies=[Allow(Role.VIEWER)]
)
async def get_availability(db: DbDep, user: CurrentUser):
    """Per pool: total, available, reserved, offline, dirty (and maintenance, unknown)."""
    return await pools.availability(db, user.org_id, utcnow())
