"""Exec terminal into any running container of an environment (operators), with a
choice of shell and user; the same protocol as the session terminal."""

from __future__ import annotations

import re

from starlette.websockets import WebSocket

from moorage.context import Context
from moorage.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MoorageError,
    NotFound,
    Unauthenticated,
)
from moorage.gateway.terminal import bridge, cross_site
from moorage.models.user import Role
from moorage.security.auth import credential_of, user_from_connection
from moorage.security.rbac import require_role
from moorage.services.audit import audit
from moorage.services.environments import docker_of, find_environment

__all__ = ["SHELLS", "serve_exec"]

SHELLS = ("/bin/bash", "/bin/sh", "/bin/ash", "/bin/zsh")
USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$|^[0-9]{1,10}(:[0-9]{1,10})?$")


async def serve_exec(websocket: WebSocket, context: Context, env: str, ref: str) -> None:
    """Query: ``shell`` (one of :data:`SHELLS`), ``user`` (name or uid[:gid]; the
    image's default when empty), ``cols``, ``rows``. Close codes as for the terminal."""
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept()
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    try:
        user = await user_from_connection(websocket, context)
        require_role(user, Role.OPERATOR)
        shell = websocket.query_params.get("shell", "/bin/sh")
        if shell not in SHELLS:
            raise InvalidInput(f"shell must be one of {', '.join(SHELLS)}", field="shell")
        exec_user = websocket.query_params.get("user", "")
        if exec_user and not USER_PATTERN.match(exec_user):
            raise InvalidInput("user must be a user name or uid[:gid]", field="user")
        cols = max(1, min(int(websocket.query_params.get("cols", 80)), 1000))
        rows = max(1, min(int(websocket.query_params.get("rows", 24)), 1000))
        async with context.sessionmaker() as db:
            environment = await find_environment(db, user.org_id, env)
        driver = docker_of(context.drivers, environment)
        terminal = await driver.open_terminal(
            ref, user=exec_user, command=[shell], cols=cols, rows=rows
        )
    except (MoorageError, ValueError) as exc:
        message = exc.message if isinstance(exc, MoorageError) else "cols and rows are numbers"
        codes: dict[type[Exception], int] = {
            Unauthenticated: 4401,
            Forbidden: 4403,
            NotFound: 4404,
            Conflict: 4409,
            InvalidInput: 4422,
        }
        await websocket.accept()
        await websocket.close(code=codes.get(type(exc), 1011), reason=message[:120])
        return
    await audit(
        context.sessionmaker,
        websocket,
        user,
        "container.exec",
        "container",
        ref,
        environment=env,
        detail=f"{shell} as {exec_user or 'default user'}",
    )
    await websocket.accept()
    try:
        await bridge(websocket, terminal)
    finally:
        await terminal.close()
