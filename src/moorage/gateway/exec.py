"""Exec terminal into any running container of an environment (operators), with a
choice of shell and user; the same protocol as the session terminal."""

from __future__ import annotations

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
from moorage.security.auth import credential_of, user_from_connection
from moorage.services.docker import SHELLS, Caller

__all__ = ["SHELLS", "serve_exec"]

CLOSE_CODES: dict[type[Exception], int] = {
    Unauthenticated: 4401,
    Forbidden: 4403,
    NotFound: 4404,
    Conflict: 4409,
    InvalidInput: 4422,
}


async def serve_exec(websocket: WebSocket, context: Context, env: str, ref: str) -> None:
    """Query: ``shell`` (one of :data:`SHELLS`), ``user`` (name or uid[:gid]; the
    image's default when empty), ``cols``, ``rows``. Close codes as for the terminal.
    The exec service checks the role (operator) and audits ``container.exec``."""
    if cross_site(websocket) and credential_of(websocket):
        await websocket.accept()
        await websocket.close(code=4403, reason="cross-site websocket refused")
        return
    try:
        user = await user_from_connection(websocket, context)
        params = websocket.query_params
        terminal = await context.docker.exec.open_terminal(
            Caller(user, websocket),
            env,
            ref,
            shell=params.get("shell", "/bin/sh"),
            user=params.get("user", ""),
            cols=int(params.get("cols", 80)),
            rows=int(params.get("rows", 24)),
        )
    except (MoorageError, ValueError) as exc:
        message = exc.message if isinstance(exc, MoorageError) else "cols and rows are numbers"
        await websocket.accept()
        await websocket.close(code=CLOSE_CODES.get(type(exc), 1011), reason=message[:120])
        return
    await websocket.accept()
    try:
        await bridge(websocket, terminal)
    finally:
        await terminal.close()
