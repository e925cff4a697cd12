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

router = APIRouter(tags=["environments"])


def environment_public(environment: Environment) -> EnvironmentPublic:
    """The API's view of an environment: secrets only as ``tls`` (some are stored) and
    the pinned SSH host key."""
    public = EnvironmentPublic.model_validate(environment)
    public.tls = bool(environment.tls_ca_sealed or environment.tls_cert_sealed)
    public.ssh_host_key = environment.ssh_host_key
    return public


# -- environments -------------------------------------------------------------------


@router.get(
    "/environments", response_model=list[EnvironmentPublic], dependencies=[Allow(Role.OPERATOR)]
)
async def list_environments(docker: DockerDep, caller: OperatorCaller):
    """The org's environments with their last status, oldest first."""
    rows = await docker.environments.list_environments(caller.user)
    return [environment_public(row) for row in rows]


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
    """One environment (by name or id); 404 when unknown."""
    return environment_public(await docker.environments.get(caller.user, env))


@router.patch(
    "/environments/{env}", response_model=EnvironmentPublic, dependencies=[Allow(Role.OPERATOR)]
)
async def update_environment(
    env: str, body: EnvironmentUpdate, docker: DockerDep, caller: OperatorCaller
):
    """Change the address, TLS material or SSH key; the connection is tested again. A
    new SSH address, or ``reset_host_key``, pins the host key presented now."""
    return environment_public(await docker.environments.update(caller, env, body))


@router.delete("/environments/{env}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_environment(env: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Forget an environment (its containers are left alone). 409 while sessions ran there."""
    await docker.environments.remove(caller, env)
    return Response(status_code=204)
