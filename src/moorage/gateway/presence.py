"""A gateway websocket's presence in its session: registered as connected for its
lifetime (:class:`~moorage.services.connections.ConnectionRegistry`) and closed as
soon as it is ended (the owner disconnects it, its share link is revoked or expires,
the session ends).

Close codes the gateway's websockets share:

* 4401 not authenticated, 4403 cross-site, 4404 no such session (or not the
  caller's, and no share grant for it), 4409 the session is not ready or ended,
  1011 the runtime failed;
* 4408 the session's owner disconnected this person;
* 4410 the share link was revoked or has expired (a page stops reconnecting).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from moorage.errors import Conflict, Forbidden, Gone, MoorageError, NotFound, Unauthenticated
from moorage.services.audit import client_address
from moorage.services.connections import LiveConnection
from moorage.services.share_access import Admission, recheck_of

if TYPE_CHECKING:
    from moorage.context import Context

__all__ = ["close_code_of", "present"]

_CLOSE_CODES: dict[type[MoorageError], int] = {
    Unauthenticated: 4401,
    Forbidden: 4403,
    NotFound: 4404,
    Conflict: 4409,
    Gone: 4410,
}


def close_code_of(error: MoorageError) -> int:
    """The websocket close code of an admission or readiness error (1011 otherwise)."""
    return _CLOSE_CODES.get(type(error), 1011)


@contextlib.asynccontextmanager
async def present(
    websocket: WebSocket, context: Context, admission: Admission, kind: str
) -> AsyncIterator[LiveConnection]:
    """Track ``websocket`` as ``admission``'s connection of ``kind`` for the block; when
    it is ended, close the websocket with its code (the block's pumps then stop on the
    client's disconnect; they must forward nothing once ``live.open`` is False)."""
    connection = admission.connection(kind, client_address(websocket))
    async with context.shares.connections.track(
        connection, recheck_of(context.shares, admission)
    ) as live:
        closer = asyncio.create_task(_close_when_ended(websocket, live))
        try:
            yield live
        finally:
            closer.cancel()


async def _close_when_ended(websocket: WebSocket, live: LiveConnection) -> None:
    await live.wait_ended()
    with contextlib.suppress(Exception):
        await websocket.close(code=live.close_code, reason=live.close_reason[:120])
