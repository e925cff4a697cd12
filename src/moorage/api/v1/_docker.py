"""Shared dependencies of the Docker management routers."""

from __future__ import annotations

from typing import Any

import aiodocker
from fastapi import Depends

from moorage.api.deps import CurrentUser
from moorage.models.environment import Environment
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.environments import docker_of, find_environment

__all__ = ["Operator", "docker_endpoint", "operator"]


async def operator(user: CurrentUser) -> User:
    """The caller, who must be an operator or an admin (403 otherwise)."""
    require_role(user, Role.OPERATOR)
    return user


Operator = Depends(operator)


async def docker_endpoint(
    env: str, context: Any, user: User
) -> tuple[Environment, aiodocker.Docker, str]:
    """``(environment, aiodocker client, endpoint address)`` of the caller's
    environment named ``env``. Raises NotFound, RuntimeUnavailable (not Docker)."""
    async with context.sessionmaker() as db:
        environment = await find_environment(db, user.org_id, env)
    driver = docker_of(context.drivers, environment)
    return environment, driver.client, driver.endpoint
