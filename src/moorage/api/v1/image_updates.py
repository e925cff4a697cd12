"""Image update policies of an environment (operators): which containers and managed
stacks Moorage watches in their registries, what it does when a newer image comes
(``notify`` or ``update``), and a check on demand. The Docker services check the
role and write the audit log (see :mod:`moorage.services.docker.image_updates`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.models.user import Role
from moorage.schemas.image_update import ImageUpdatePolicyBody
from moorage.security.access import Allow

router = APIRouter(tags=["image updates"])

Kind = Literal["container", "stack"]
BASE = "/environments/{env}/image-updates"


@router.get(BASE, dependencies=[Allow(Role.OPERATOR)])
async def list_policies(
    env: str, docker: DockerDep, caller: OperatorCaller
) -> list[dict[str, Any]]:
    """The environment's policies with what their last check found: ``[{id, environment,
    target_kind, target_name, policy, semver_range, schedule, window_schedule,
    window_minutes, health_timeout_seconds, stable_seconds, status, message,
    current_digest, available_digest, available_tag, rejected_digest, checked_at,
    next_check_at, updated_at, created_by}]``."""
    return await docker.image_updates.list_policies(caller, env)


@router.get(BASE + "/{kind}/{name}", dependencies=[Allow(Role.OPERATOR)])
async def get_policy(
    env: str, kind: Kind, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """One policy (``kind`` is ``container`` or ``stack``); 404 ``policy_not_found``."""
    return await docker.image_updates.get_policy(caller, env, kind, name)


@router.put(BASE + "/{kind}/{name}", dependencies=[Allow(Role.OPERATOR)])
async def set_policy(
    env: str,
    kind: Kind,
    name: str,
    body: ImageUpdatePolicyBody,
    docker: DockerDep,
    caller: OperatorCaller,
) -> dict[str, Any]:
    """Opt container or managed stack ``name`` in (or change its policy). 404 when
    there is no such container or managed stack; 422 naming the field for a bad
    cron expression or semver range. The first check is when ``schedule`` next
    fires; ``…/check`` runs one at once."""
    return await docker.image_updates.set_policy(caller, env, kind, name, body)


@router.delete(BASE + "/{kind}/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_policy(
    env: str, kind: Kind, name: str, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Stop watching it (the container or stack is left as it is)."""
    await docker.image_updates.remove_policy(caller, env, kind, name)
    return Response(status_code=204)


@router.post(BASE + "/{kind}/{name}/check", dependencies=[Allow(Role.OPERATOR)])
async def check_now(
    env: str, kind: Kind, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """Check the registry now and act by the policy (an ``update`` inside its
    maintenance window pulls, recreates and waits for health, up to the policy's
    ``health_timeout_seconds``); answers the policy afterwards. 409 ``check_running``
    while a check of it is under way."""
    return await docker.image_updates.check_now(caller, env, kind, name)
