"""Docker environments (operators and admins).

Every mutating call is written to the audit log (by the environment service).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.models.environment import Environment
from moorage.models.user import Role
from moorage.schemas.environment import (
    EnvironmentCreate,
    EnvironmentPublic,
    EnvironmentUpdate,
)
from moorage.security.access import Allow
from moorage.services.placement import Room

router = APIRouter(tags=["environments"])


def environment_public(environment: Environment, room: Room | None = None) -> EnvironmentPublic:
    """The API's view of an environment: secrets only as ``tls`` (some are stored),
    the pinned SSH host key, and its capacity and use (``room``)."""
    public = EnvironmentPublic.model_validate(environment)
    public.tls = bool(environment.tls_ca_sealed or environment.tls_cert_sealed)
    public.ssh_host_key = environment.ssh_host_key
    cpus, memory = environment.workspace_capacity()
    public.capacity = {"cpu_cores": cpus, "memory_mb": memory}
    public.capacity_limit = {
        "cpu_cores": environment.cpu_capacity,
        "memory_mb": environment.memory_capacity_mb,
    }
    if room is not None:
        public.used = {
            "cpu_cores": round(room.cpu_used, 3),
            "memory_mb": room.memory_used_mb,
            "sessions": room.sessions,
        }
    return public


async def _with_rooms(docker: DockerDep, rows: list[Environment]) -> list[EnvironmentPublic]:
    rooms = await docker.environments.rooms(rows)
    return [environment_public(row, rooms.get(row.id)) for row in rows]


# -- environments -------------------------------------------------------------------


@router.get(
    "/environments", response_model=list[EnvironmentPublic], dependencies=[Allow(Role.OPERATOR)]
)
async def list_environments(docker: DockerDep, caller: OperatorCaller):
    """The org's environments with their last status, oldest first."""
    rows = await docker.environments.list_environments(caller.user)
    return await _with_rooms(docker, rows)


@router.post(
    "/environments",
    status_code=201,
    response_model=EnvironmentPublic,
    dependencies=[Allow(Role.OPERATOR)],
)
async def add_environment(body: EnvironmentCreate, docker: DockerDep, caller: OperatorCaller):
    """Add an environment and test the connection at once: the answer carries its status
    (``unreachable`` with the error when the test fails; it is kept and retried).
    409 when the name is taken; 422 for a bad URL, TLS pair or SSH key."""
    return environment_public(await docker.environments.add(caller, body))


@router.get(
    "/environments/{env}", response_model=EnvironmentPublic, dependencies=[Allow(Role.OPERATOR)]
)
async def get_environment(env: str, docker: DockerDep, caller: OperatorCaller):
    """One environment (by name or id) with its capacity and use; 404 when unknown."""
    return (await _with_rooms(docker, [await docker.environments.get(caller.user, env)]))[0]


@router.patch(
    "/environments/{env}", response_model=EnvironmentPublic, dependencies=[Allow(Role.OPERATOR)]
)
async def update_environment(
    env: str, body: EnvironmentUpdate, docker: DockerDep, caller: OperatorCaller
):
    """Change the address, TLS material or SSH key (the connection is tested again; a
    new SSH address, or ``reset_host_key``, pins the host key presented now), and
    where sessions go: ``labels`` (templates' ``environment_labels`` match them),
    ``capacity`` overrides (``{"cpu_cores", "memory_mb"}``, null: the engine's) and
    ``state`` (``active``, ``cordoned``, ``draining``)."""
    updated = await docker.environments.update(caller, env, body)
    return (await _with_rooms(docker, [updated]))[0]


@router.delete("/environments/{env}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_environment(env: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Forget an environment (its containers are left alone). 409 while sessions ran there."""
    await docker.environments.remove(caller, env)
    return Response(status_code=204)
