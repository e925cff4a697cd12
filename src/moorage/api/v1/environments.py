"""Docker environments (operators and admins) and the audit log (admins).

Every mutating call is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import select

from moorage.api.deps import AdminUser, DbDep
from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.models.audit import AuditEvent
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


# -- audit -----------------------------------------------------------------------------


@router.get("/audit", dependencies=[Allow(Role.ADMIN)])
async def list_audit(
    db: DbDep,
    admin: AdminUser,
    limit: int = 200,
    action: str | None = None,
    username: str | None = None,
) -> list[dict[str, Any]]:
    """Admins: the newest audit events first (``limit`` ≤ 1000), filtered by ``action``
    prefix and ``username``."""
    query = select(AuditEvent).where(AuditEvent.org_id == admin.org_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if username:
        query = query.where(AuditEvent.username == username)
    rows = await db.scalars(query.order_by(AuditEvent.at.desc()).limit(max(1, min(limit, 1000))))
    return [
        {
            "at": row.at,
            "username": row.username,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "environment": row.environment,
            "source": row.source,
            "detail": row.detail,
        }
        for row in rows
    ]


__all__ = ["router"]
