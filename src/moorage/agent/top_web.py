"""``moorage top --web``: one machine's live metrics and history as a web page, without
a hub (the seed's ``main.py --web``, seed 004 "UI web").

A sampler thread reads the :class:`~moorage.agent.collector.Collector` every
interval, keeps the last ``capacity`` samples in memory and appends each to the
export files (the seed's ``--export-csv`` / ``--export-jsonl`` while serving).
A standard-library HTTP server (so that the one-file agent serves it too, with no
web framework on the machine) answers:

- ``GET /`` — the page: live numbers and a chart of CPU, memory and disk (uPlot
  from Moorage's bundled static files when installed, else a plain SVG chart).
- ``GET /api/stats`` — the latest sample (:func:`~moorage.agent.top.sample_row`:
  percents 0–100, bytes per second, ``collected_at`` RFC 3339 UTC); 503 before
  the first one.
- ``GET /api/history?limit=N`` — ``{"samples": [...]}``, oldest first, at most
  ``N`` (1–``capacity``, default 300 or ``capacity`` if fewer); 400 names
  ``limit`` when it is not one.
- ``GET /static/uplot.min.js`` and ``.css`` — 404 when not installed.

Errors are ``{"error": {"code", "message"[, "field"]}}`` as on the hub. It listens
on 127.0.0.1 unless told otherwise; the page is read-only and has no login, so a
wider ``--host`` shows this machine's metrics to whoever reaches the port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moorage.agent._common import log
from moorage.agent.collector import Collector
from moorage.agent.top import Exporter, sample_row
from moorage.agent.top_page import SCRIPT, page

__all__ = ["DEFAULT_EXPORT_DIR", "DEFAULT_PORT", "LocalMonitor", "TopServer", "serve"]

DEFAULT_PORT = 8765
DEFAULT_EXPORT_DIR = Path.home() / "moorage-top"
"""Where ``--web`` exports go unless given (the seed wrote to the Desktop)."""
VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"
STATIC = {
    "/static/uplot.min.js": ("uplot.min.js", "text/javascript; charset=utf-8"),
    "/static/uplot.min.css": ("uplot.min.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class LocalMonitor:
    """This machine's samples: the last ``capacity`` in memory, each also exported.

    Args:
        interval_seconds: between samples (> 0).
        exporter: where each sample is appended (none: memory only).
        collect: returns one report (default: a new :class:`Collector`'s ``collect``).
        capacity: samples kept for ``/api/history``.
    """

    def __init__(
        self,
        interval_seconds: float,
        *,
        exporter: Exporter | None = None,
        collect: Callable[[], dict[str, Any]] | None = None,
        capacity: int = 1800,
    ) -> None:
        self.interval_seconds = interval_seconds
        self.capacity = capacity
        self._exporter = exporter
        self._collect = collect or Collector().collect
        self._samples: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._failed = False

    def sample(self) -> dict[str, Any] | None:
        """Take one sample now, keep and export it; None when collecting failed (logged
        once until it works again: the page keeps serving what it has)."""
        try:
            row = sample_row(self._collect())
            if self._exporter is not None:
                self._exporter.write(row)
        except Exception as exc:  # degrade, don't crash: a failing read is left out
            if not self._failed:
                log.warning("top: a sample failed (%s: %s)", type(exc).__name__, exc)
            self._failed = True
            return None
        self._failed = False
        with self._lock:
            self._samples.append(row)
        return row

    def latest(self) -> dict[str, Any] | None:
        with self._lock:
            return self._samples[-1] if self._samples else None

    def history(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` samples, oldest first."""
        with self._lock:
            return list(self._samples)[-limit:]

    def run(self) -> None:
        """Sample every interval until :meth:`stop` (blocking; a thread's target)."""
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_seconds)

    def stop(self) -> None:
        self._stop.set()


class _Handler(BaseHTTPRequestHandler):
    server: TopServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, code: str, message: str, **details: str) -> None:
        self._json(status, {"error": {"code": code, "message": message, **details}})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        monitor = self.server.monitor
        if url.path in ("/", "/history"):
            html = page(monitor.interval_seconds, monitor.capacity, socket.gethostname())
            self._send(200, html.encode(), "text/html; charset=utf-8")
        elif url.path == "/top.js":
            self._send(200, SCRIPT.encode(), "text/javascript; charset=utf-8")
        elif url.path == "/api/stats":
            latest = monitor.latest()
            if latest is None:
                self._error(503, "no_sample_yet", "no sample yet: try again in a moment")
            else:
                self._json(200, latest)
        elif url.path == "/api/history":
            default = str(min(300, monitor.capacity))
            raw = parse_qs(url.query, keep_blank_values=True).get("limit", [default])[-1]
            if not raw.isdigit() or not 1 <= int(raw) <= monitor.capacity:
                self._error(
                    400,
                    "invalid_input",
                    f"limit is a whole number from 1 to {monitor.capacity}",
                    field="limit",
                )
            else:
                self._json(200, {"samples": monitor.history(int(raw))})
        elif url.path in STATIC and (VENDOR / STATIC[url.path][0]).is_file():
            name, content_type = STATIC[url.path]
            self._send(200, (VENDOR / name).read_bytes(), content_type)
        else:
            self._error(404, "not_found", f"nothing at {url.path}")

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self._error(405, "method_not_allowed", "this page is read-only: GET only")

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse


class TopServer(ThreadingHTTPServer):
    """The HTTP server of one :class:`LocalMonitor` (``port`` 0: any free port; the
    bound one is ``server_address[1]``).

    Raises:
        OSError: the address cannot be bound (in use, or not this machine's).
    """

    daemon_threads = True

    def __init__(self, monitor: LocalMonitor, host: str, port: int) -> None:
        self.monitor = monitor
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


def serve(
    host: str,
    port: int,
    interval_seconds: float,
    *,
    export_csv: Path | None,
    export_jsonl: Path | None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the page until interrupted (Ctrl-C), sampling every ``interval_seconds``
    and appending to the export files.

    Raises:
        OSError: the address cannot be bound, or an export file cannot be opened.
    """
    with Exporter(export_csv, export_jsonl) as exporter:
        monitor = LocalMonitor(interval_seconds, exporter=exporter)
        server = TopServer(monitor, host, port)
        sampler = threading.Thread(target=monitor.run, name="top-sampler", daemon=True)
        sampler.start()
        announce(f"moorage top: {server.url} (Ctrl-C stops)")
        for label, path in (("CSV", export_csv), ("JSONL", export_jsonl)):
            if path is not None:
                announce(f"  {label} export: {path}")
        try:
            server.serve_forever()
        finally:
            monitor.stop()
            server.server_close()
            sampler.join(timeout=5)
