"""The optional metrics port (``MOORAGE_METRICS_PORT``): ``GET /metrics`` on
``127.0.0.1:<port>`` without a token, for a scraper on the same host (Prometheus'
node-local pattern), beside the main port's ``/metrics`` that needs one.

Loopback only: whoever can reach it already runs on the server. With several
workers (``moorage serve --workers N``) the first to bind serves it, and every
worker's counters are summed in multiprocess mode (:func:`exposition`), so any one
of them gives the whole picture; the others log that the port is taken.

Served by aiohttp's server (already Moorage's HTTP client and proxy), whose runner
runs on the app's event loop without touching signal handlers, unlike a second
uvicorn server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from moorage.api.metrics import metrics_body
from moorage.context import Context
from moorage.observability.metrics import CONTENT_TYPE

__all__ = ["LOOPBACK", "metrics_port"]

LOOPBACK = "127.0.0.1"
log = logging.getLogger(__name__)


@asynccontextmanager
async def metrics_port(context: Context, port: int | None) -> AsyncIterator[None]:
    """Serve ``GET /metrics`` on ``127.0.0.1:port`` while the block runs; nothing
    when ``port`` is None. A port already taken (another worker) is logged, not
    raised."""
    if port is None:
        yield
        return
    from aiohttp import web  # only when the port is asked for

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=await metrics_body(context),
            content_type=None,
            headers={"Content-Type": CONTENT_TYPE},
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, LOOPBACK, port).start()
            log.info("metrics on http://%s:%d/metrics", LOOPBACK, port)
        except OSError as error:
            log.warning("metrics port %s:%d not served here: %s", LOOPBACK, port, error)
        yield
    finally:
        await runner.cleanup()
