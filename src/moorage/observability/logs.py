"""Log lines as JSON objects, one a line (``MOORAGE_LOG_FORMAT=json``), for log
shippers (Loki, Elasticsearch, journald's JSON export).

Each line has ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``,
``request_id`` (the HTTP request's, see :mod:`.request_id`, or null outside one) and,
for errors, ``exception`` (the formatted traceback).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from moorage.observability.request_id import current_request_id

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log at ``level`` (``debug``, ``info``…) to standard error, as text or, with
    ``log_format`` ``json``, as JSON lines. In JSON, uvicorn's own loggers (its
    start-up lines and access log) are made JSON too: its default logging
    configuration, which every ``uvicorn.run`` of the CLI uses, gets this formatter."""
    if log_format != "json":
        logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    try:
        from uvicorn.config import LOGGING_CONFIG
    except ImportError:  # pragma: no cover - uvicorn is a dependency
        return
    for name in ("default", "access"):
        LOGGING_CONFIG["formatters"][name] = {"()": f"{__name__}.JsonFormatter"}
