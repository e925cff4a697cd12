"""Machines, pools and availability (admins and operators; availability for all)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import delete, select

from moorage.api.deps import ContextDep, CurrentUser, DbDep, WriteDbDep
from moorage.db.base import utcnow
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.machine import Machine, MachineStatus
from moorage.models.pool import Pool
from moorage.models.provision import ProvisionRun
from moorage.models.reservation import ReservationAccount
from moorage.models.user import Role, User
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
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.machine_import import import_machines
from moorage.services.machines import (
    MachineSpec,
    availability,
    check_machine_spec,
    ensure_new_names,
    find_machine,
    find_pool,
    get_or_create_pool,
    register,
    seal_credentials,
)
from moorage.services.provisioning import playbook_choices

router = APIRouter(tags=["machines"])

MAX_IMPORT_BYTES = 1_000_000


async def operator(user: CurrentUser) -> User:
    require_role(user, Role.OPERATOR)
    return user


def machine_public(machine: Machine) -> MachinePublic:
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


@router.get("/machines", response_model=list[MachinePublic])
async def list_machines(
    db: DbDep, user: User = Depends(operator), pool: str | None = None, status: str | None = None
):
    """Machines by name; filter by ``pool`` and ``status``."""
    query = select(Machine).where(Machine.org_id == user.org_id)
    if pool:
        query = query.join(Pool).where(Pool.name == pool)
    if status:
        query = query.where(Machine.status == status)
    return [machine_public(m) for m in await db.scalars(query.order_by(Machine.name))]


@router.post("/machines", status_code=201, response_model=MachinePublic)
async def add_machine(
    body: MachineCreate, db: WriteDbDep, context: ContextDep, user: User = Depends(operator)
):
    """Register a machine; the reconciler probes it right away. 409 when the name is taken."""
    spec = check_machine_spec(
        MachineSpec(
            name=body.name,
            host=body.host,
            port=body.port,
            user=body.user,
            password=body.password.get_secret_value() if body.password else None,
            private_key=body.private_key.get_secret_value() if body.private_key else None,
            pool=body.pool,
            tags=body.tags,
        )
    )
    await ensure_new_names(db, [spec.name])
    machine = await register(db, context.keyring, user.org_id, spec)
    audit_in(db, user, "machine.add", "machine", spec.name)
    await db.commit()
    await context.prober.probe(machine)
    async with context.sessionmaker() as fresh:
        return machine_public(await find_machine(fresh, user.org_id, spec.name))


@router.post("/machines/import", status_code=201, response_model=ImportResult)
async def import_machines_file(
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Depends(operator),
    pool: str = "default",
    skip_invalid: bool = False,
):
    """Import the body in the ``machines.txt`` format (``name host port user password``
    per line, ``#`` comments). Any bad line aborts the whole import with 422 listing
    every bad line by number, unless ``skip_invalid=true``."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES} bytes", field="body")
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="body") from exc
    imported, skipped = await import_machines(
        db, context.keyring, user.org_id, text, pool=pool, skip_invalid=skip_invalid
    )
    audit_in(db, user, "machine.import", "machine", ",".join(imported)[:255] or "-")
    await db.commit()
    return ImportResult(
        imported=imported, skipped=[{"line": e.line, "message": e.message} for e in skipped]
    )


@router.get("/machines/{name}", response_model=MachinePublic)
async def get_machine(name: str, db: DbDep, user: User = Depends(operator)):
    return machine_public(await find_machine(db, user.org_id, name))


@router.patch("/machines/{name}", response_model=MachinePublic)
async def update_machine(
    name: str,
    body: MachineUpdate,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Depends(operator),
):
    """Change a machine. Moving a reserved machine to another pool is refused (409)."""
    machine = await find_machine(db, user.org_id, name)
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
    machine.host, machine.port, machine.user, machine.tags = (
        spec.host,
        spec.port,
        spec.user,
        spec.tags,
    )
    if body.password is not None or body.private_key is not None:
        seal_credentials(
            machine,
            context.keyring,
            password=body.password.get_secret_value() if body.password else None,
            private_key=body.private_key.get_secret_value() if body.private_key else None,
        )
    if body.pool and body.pool != machine.pool.name:
        if machine.reservation_id:
            raise Conflict(
                "the machine is reserved; move it after the reservation ends",
                code="machine_reserved",
            )
        machine.pool_id = (await get_or_create_pool(db, user.org_id, body.pool)).id
    if body.status:
        if body.status == "unknown" and machine.status == MachineStatus.DIRTY.value:
            raise Conflict(
                "a dirty machine comes back once its clean-up succeeds", code="machine_dirty"
            )
        machine.status = body.status
    audit_in(db, user, "machine.update", "machine", name)
    await db.commit()
    async with context.sessionmaker() as fresh:
        return machine_public(await find_machine(fresh, user.org_id, name))


@router.delete("/machines/{name}", status_code=204)
async def delete_machine(name: str, db: WriteDbDep, user: User = Depends(operator)) -> Response:
    """Forget a machine. 409 while it is reserved or has accounts to clean up."""
    machine = await find_machine(db, user.org_id, name)
    if machine.reservation_id or machine.status == MachineStatus.DIRTY.value:
        raise Conflict(f"{name} is reserved or dirty; release it first", code="machine_in_use")
    await db.execute(delete(ReservationAccount).where(ReservationAccount.machine_id == machine.id))
    await db.delete(machine)
    audit_in(db, user, "machine.delete", "machine", name)
    await db.commit()
    return Response(status_code=204)


@router.get("/pools", response_model=list[PoolPublic])
async def list_pools(db: DbDep, user: CurrentUser):
    return list(
        await db.scalars(select(Pool).where(Pool.org_id == user.org_id).order_by(Pool.name))
    )


@router.patch("/pools/{name}", response_model=PoolPublic)
async def update_pool(name: str, body: PoolUpdate, db: WriteDbDep, user: User = Depends(operator)):
    """Change a pool's limits (they apply to new reservations and extensions)."""
    pool = await find_pool(db, user.org_id, name)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput(f"{field} cannot be null", field=field)
        setattr(pool, field, value)
    if pool.default_duration_minutes > pool.max_duration_minutes:
        raise InvalidInput(
            "default_duration_minutes must not exceed max_duration_minutes",
            field="default_duration_minutes",
        )
    audit_in(db, user, "pool.update", "pool", name)
    await db.commit()
    return pool


@router.get("/playbooks")
async def list_playbooks(context: ContextDep, user: User = Depends(operator)) -> list[str]:
    """Playbook file names the API may run (``<data-dir>/playbooks`` and the samples)."""
    return sorted(playbook_choices(context.settings.data_dir))


@router.post("/pools/{name}/provision", status_code=202, response_model=ProvisionRunPublic)
async def provision_pool(
    name: str, body: ProvisionCreate, context: ContextDep, user: User = Depends(operator)
):
    """Run a playbook on the pool in the background; poll the run for its output."""
    choices = playbook_choices(context.settings.data_dir)
    if body.playbook not in choices:
        raise InvalidInput(
            f"no playbook named {body.playbook!r}; known: {', '.join(sorted(choices)) or 'none'}",
            field="playbook",
        )
    return await context.provisioner.start(user, name, choices[body.playbook], body.extra_vars)


@router.get("/pools/{name}/provision-runs", response_model=list[ProvisionRunPublic])
async def list_provision_runs(name: str, db: DbDep, user: User = Depends(operator)):
    """The pool's runs, newest first (the 20 latest)."""
    pool = await find_pool(db, user.org_id, name)
    return list(
        await db.scalars(
            select(ProvisionRun)
            .where(ProvisionRun.pool_id == pool.id)
            .order_by(ProvisionRun.created_at.desc())
            .limit(20)
        )
    )


@router.get("/provision-runs/{run_id}", response_model=ProvisionRunPublic)
async def get_provision_run(run_id: str, context: ContextDep, user: User = Depends(operator)):
    run = await context.provisioner.get_by_id(run_id)
    if run.org_id != user.org_id:
        raise NotFound(f"no provisioning run {run_id}", code="run_not_found")
    return run


@router.get("/availability", response_model=list[AvailabilityPublic])
async def get_availability(db: DbDep, user: CurrentUser):
    """Per pool: total, available, reserved, offline, dirty (and maintenance, unknown)."""
    return await availability(db, user.org_id, utcnow())
