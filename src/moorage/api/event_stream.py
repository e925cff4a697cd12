"""Server-sent event streams that say goodbye when the server stops.

Every SSE route of the API and the pages answers with :func:`event_stream`. When
the server is stopping (SIGTERM, Ctrl+C: uvicorn's exit signal, which
sse-starlette watches) a stream sends one last event,
``event: restarting`` with :data:`RESTARTING_MESSAGE` as its data and a ``retry``
of :data:`RETRY_MILLISECONDS`, then ends, instead of being cut mid-line. A
browser's ``EventSource`` reconnects by itself after ``retry`` (WHATWG HTML,
"Server-sent events"); the pages show the message meanwhile (an ``sse-swap=
"restarting"`` target for htmx, a ``restarting`` listener elsewhere).

Websockets need nothing of this: uvicorn closes them with 1012, Service Restart
(RFC 6455, section 7.4.1 and the IANA registry), which the pages show as "server
restarting".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

__all__ = ["RESTARTING_MESSAGE", "RETRY_MILLISECONDS", "event_stream"]

RESTARTING_MESSAGE = "The server is restarting; this page reconnects by itself."
RETRY_MILLISECONDS = 3000
"""How long a browser waits before reconnecting after the farewell."""
GRACE_SECONDS = 1.0
"""How long a stream has to send its farewell before it is cancelled; well inside
the server's own shutdown grace (``moorage.cli.main.GRACE_SECONDS``)."""


def event_stream(
    events: AsyncIterator[ServerSentEvent], *, ping_seconds: int = 15
) -> EventSourceResponse:
    """An SSE response for ``events`` that ends with a ``restarting`` event when the
    server stops, with a comment ping every ``ping_seconds`` (keeps proxies from
    closing an idle stream)."""
    stopping = anyio.Event()
    return EventSourceResponse(
        _until_stopping(events, stopping),
        ping=ping_seconds,
        shutdown_event=stopping,
        shutdown_grace_period=GRACE_SECONDS,
    )


async def _until_stopping(
    events: AsyncIterator[ServerSentEvent], stopping: anyio.Event
) -> AsyncIterator[ServerSentEvent]:
    """``events``' items until they end or ``stopping`` is set; then the farewell."""
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(events))
            await asyncio.wait({following, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()  # ends the inner generator at its await
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
                yield ServerSentEvent(
                    RESTARTING_MESSAGE, event="restarting", retry=RETRY_MILLISECONDS
                )
                return
            try:
                item = following.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stop.cancel()
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
