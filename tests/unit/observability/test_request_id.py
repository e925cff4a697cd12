"""The request id: returned in ``X-Request-ID``, taken from the caller when well-formed,
carried by the audit events of the request and by its JSON log lines."""

from __future__ import annotations

import json
import logging

from moorage.observability.logs import JsonFormatter
from moorage.observability.request_id import well_formed
from tests.unit.conftest import App


async def test_each_response_carries_a_fresh_request_id(app: App):
    first = await app.client.get("/api/v1/health")
    second = await app.client.get("/api/v1/health")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_well_formed_incoming_id_is_kept_and_a_bad_one_replaced(app: App):
    kept = await app.client.get("/api/v1/health", headers={"X-Request-ID": "lb-7f3a:42"})
    assert kept.headers["x-request-id"] == "lb-7f3a:42"
    for bad in ("a b", "x" * 65, "évil".encode(), "id;drop"):
        replaced = await app.client.get("/api/v1/health", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad
        assert well_formed(replaced.headers["x-request-id"])


async def test_the_audit_event_and_the_log_line_carry_the_request_id(app: App, caplog):
    handler = logging.StreamHandler()
    lines: list[str] = []
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("moorage")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        created = await app.client.post(
            "/api/v1/templates",
            json={"name": "traced", "display_name": "Traced", "image": "moorage/terminal"},
            headers={"X-Request-ID": "trace-0001"},
        )
        logging.getLogger("moorage.test").info("inside no request")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert created.status_code == 201, created.text
    events = (await app.client.get("/api/v1/audit?action=template.")).json()
    assert events[0]["request_id"] == "trace-0001"
    parsed = [json.loads(line) for line in lines]
    assert parsed[-1]["message"] == "inside no request" and parsed[-1]["request_id"] is None
    assert {"time", "level", "logger", "message", "request_id"} <= parsed[-1].keys()


def test_a_log_record_in_a_request_is_a_json_line_with_its_id():
    from moorage.observability.request_id import _request_id

    token = _request_id.set("abc123")
    try:
        record = logging.LogRecord("moorage.x", logging.ERROR, __file__, 1, "n=%d", (3,), None)
        line = json.loads(JsonFormatter().format(record))
    finally:
        _request_id.reset(token)
    assert line["message"] == "n=3" and line["request_id"] == "abc123"
    assert line["level"] == "error" and line["time"].endswith("+00:00")
