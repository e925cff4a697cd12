"""The report the real agent collector builds on this machine is exactly what the hub's
model (:class:`moorage.schemas.fleet.Report`) accepts: validated with extra fields
forbidden, and field for field, so the agent and the hub cannot drift apart."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydantic import BaseModel

from moorage.agent import Collector
from moorage.schemas.fleet import Disk, Metrics, Report

CONTAINERS = [{"State": "running"}, {"State": "exited"}, {"State": "running"}]


class _Engine(BaseHTTPRequestHandler):
    """Answers ``GET /containers/json`` as a Docker engine does (a list of containers)."""

    def address_string(self) -> str:  # a Unix socket has no peer address
        return "docker-test"

    def do_GET(self) -> None:
        body = json.dumps(CONTAINERS if self.path.startswith("/containers/json") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[str]:
    """A Unix socket served by a minimal fake engine, so the container counts are sent."""
    path = str(tmp_path / "docker.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def _forbids_extra(model: type[BaseModel]) -> bool:
    return model.model_config.get("extra") == "forbid"


def test_every_report_model_forbids_extra_fields():
    assert all(_forbids_extra(m) for m in (Report, Metrics, Disk))


def test_the_real_collector_sends_exactly_the_fields_of_the_hub_model(docker_socket):
    collector = Collector(docker_socket=docker_socket)
    report = collector.collect(allow_actions=True)
    # As the hub reads it: from JSON, extra fields forbidden at every level.
    parsed = Report.model_validate_json(json.dumps(report))
    assert set(report) == set(Report.model_fields)
    assert set(report["metrics"]) == set(Metrics.model_fields)
    assert report["disks"] and all(set(disk) == set(Disk.model_fields) for disk in report["disks"])
    assert parsed.metrics.containers_running == 2 and parsed.metrics.containers_total == 3
    assert parsed.allow_actions is True and parsed.collected_at.utcoffset() is not None


def test_without_docker_only_the_container_counts_are_left_out(tmp_path):
    report = Collector(docker_socket=str(tmp_path / "absent.sock")).collect()
    Report.model_validate_json(json.dumps(report))
    missing = set(Metrics.model_fields) - set(report["metrics"])
    assert missing == {"containers_running", "containers_total"}
    assert all(not Metrics.model_fields[name].is_required() for name in missing)
