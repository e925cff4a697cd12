"""Shared dependencies of the Docker management routers: the role they declare and
the Docker services they call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from moorage.api.deps import ContextDep, CurrentUser
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.docker import Caller, DockerServices

__all__ = ["DockerDep", "Operator", "OperatorCaller", "operator"]


async def operator(user: CurrentUser) -> User:
    """The caller, who must be an operator or an admin (403 otherwise). The services
    check the same role again, so no entry point depends on this declaration alone."""
    require_role(user, Role.OPERATOR)
    return user


Operator = Depends(operator)


async def operator_caller(request: Request, user: User = Operator) -> Caller:
    """The operator and the request (its client address goes to the audit log)."""
    return Caller(user, request)


OperatorCaller = Annotated[Caller, Depends(operator_caller)]


def docker_services(context: ContextDep) -> DockerServices:
    """The process's Docker services."""
    return context.docker


DockerDep = Annotated[DockerServices, Depends(docker_services)]
