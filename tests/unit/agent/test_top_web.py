"""``moorage top --web``: the page and its JSON over real HTTP on loopback, the export
files written while serving, the defaults under the home directory, and the one-file
agent carrying it."""

from __future__ import annotations

import csv
import importlib
import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.agent import top_web
from moorage.agent.bundle import single_file
from moorage.agent.top import Exporter
from moorage.agent.top_web import LocalMonitor, TopServer

# The module, not the package's ``main`` function of the same name.
agent_main = importlib.import_module("moorage.agent.main")


def _report(n: int) -> dict[str, Any]:
    return {
        "collected_at": f"2026-12-06T20:00:{n:02d}.000000Z",
        "uptime_seconds": 100.0 + n,
        "metrics": {
            "cpu_percent": 10.0 * n,
            "load1": 0.5,
            "memory_percent": 40.0,
            "swap_percent": 0.0,
            "net_rx_bps": 1024.0,
            "net_tx_bps": 2048.0,
        },
        "disks": [{"mount": "/", "percent": 30.0}, {"mount": "/data", "percent": 70.0 + n}],
    }


class FakeCollector:
    def __init__(self) -> None:
        self.n = 0
        self.fail = False

    def collect(self) -> dict[str, Any]:
        if self.fail:
            raise OSError("psutil could not read /proc")
        self.n += 1
        return _report(self.n)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[LocalMonitor, FakeCollector, str, Path]]:
    collector = FakeCollector()
    exporter = Exporter(tmp_path / "out" / "metrics.csv", tmp_path / "out" / "metrics.jsonl")
    monitor = LocalMonitor(60, exporter=exporter, collect=collector.collect, capacity=5)
    server = TopServer(monitor, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield monitor, collector, server.url, tmp_path / "out"
    server.shutdown()
    server.server_close()
    exporter.close()


def test_stats_and_history_serve_the_samples_taken_so_far(served):
    monitor, _, url, _ = served
    status, _, body = _get(url + "api/stats")
    assert status == 503 and json.loads(body)["error"]["code"] == "no_sample_yet"
    for _ in range(7):
        monitor.sample()
    status, headers, body = _get(url + "api/stats")
    latest = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert latest["cpu_percent"] == 70.0 and latest["disk_percent"] == 77.0
    assert latest["collected_at"] == "2026-12-06T20:00:07.000000Z"
    samples = json.loads(_get(url + "api/history?limit=3")[2])["samples"]
    assert [s["cpu_percent"] for s in samples] == [50.0, 60.0, 70.0]
    everything = json.loads(_get(url + "api/history")[2])["samples"]
    assert len(everything) == 5  # the capacity: the oldest samples were dropped


@pytest.mark.parametrize("limit", ["0", "6", "-1", "ten", ""])
def test_a_bad_history_limit_is_a_400_naming_the_field(served, limit):
    _, _, url, _ = served
    status, _, body = _get(url + f"api/history?limit={limit}")
    assert status == 400
    assert json.loads(body)["error"] == {
        "code": "invalid_input",
        "message": "limit is a whole number from 1 to 5",
        "field": "limit",
    }


def test_the_page_has_live_numbers_a_chart_and_a_strict_policy(served):
    _, _, url, _ = served
    status, headers, body = _get(url)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for key in ("cpu", "memory", "disk", "load", "rx", "tx", "uptime"):
        assert f'id="{key}"' in page
    assert 'id="chart"' in page and 'src="/top.js"' in page
    assert f'<span id="host">{socket.gethostname()}</span>' in page
    assert 'data-interval-ms="60000"' in page and 'data-capacity="5"' in page
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    status, headers, script = _get(url + "top.js")
    assert status == 200 and b"/api/history?limit=" in script and b"uPlot" in script


def test_only_get_is_served_and_unknown_paths_are_404(served):
    _, _, url, _ = served
    request = urllib.request.Request(url + "api/stats", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405
    status, _, body = _get(url + "nothing")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_the_chart_library_is_served_when_installed_and_404_otherwise(
    served, tmp_path, monkeypatch
):
    _, _, url, _ = served
    monkeypatch.setattr(top_web, "VENDOR", tmp_path / "absent")
    assert _get(url + "static/uplot.min.js")[0] == 404
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "uplot.min.js").write_text("var uPlot = function () {};")
    monkeypatch.setattr(top_web, "VENDOR", vendor)
    status, headers, body = _get(url + "static/uplot.min.js")
    assert status == 200 and body.startswith(b"var uPlot")
    assert headers["Content-Type"].startswith("text/javascript")


def test_samples_are_exported_to_csv_and_jsonl_while_serving(served):
    monitor, _, _, out = served
    for _ in range(3):
        monitor.sample()
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["cpu_percent"]) for r in rows] == [10.0, 20.0, 30.0]
    assert rows[0]["collected_at"] == "2026-12-06T20:00:01.000000Z"
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["disk_percent"] for line in lines] == [71.0, 72.0, 73.0]


def test_a_failing_collector_is_left_out_and_the_page_keeps_serving(served, caplog):
    monitor, collector, url, _ = served
    monitor.sample()
    collector.fail = True
    assert monitor.sample() is None and monitor.sample() is None
    assert sum("a sample failed" in r.message for r in caplog.records) == 1
    assert json.loads(_get(url + "api/stats")[2])["cpu_percent"] == 10.0
    collector.fail = False
    assert monitor.sample() is not None


def test_web_mode_exports_under_the_home_directory_by_default(tmp_path, monkeypatch):
    calls: list[dict[str, Any]] = []

    def fake_serve(host: str, port: int, interval: float, **kwargs: Any) -> None:
        calls.append({"host": host, "port": port, "interval": interval, **kwargs})

    monkeypatch.setattr(agent_main, "serve", fake_serve)
    monkeypatch.setattr(agent_main, "DEFAULT_EXPORT_DIR", tmp_path / "moorage-top")
    agent_main.main(["top", "--web"])
    agent_main.main(["top", "--web", "--port", "9000", "--export-csv", str(tmp_path / "a.csv")])
    agent_main.main(["top", "--web", "--no-export", "--host", "::1"])
    assert calls[0] == {
        "host": "127.0.0.1",
        "port": top_web.DEFAULT_PORT,
        "interval": 2.0,
        "export_csv": tmp_path / "moorage-top" / "metrics.csv",
        "export_jsonl": tmp_path / "moorage-top" / "metrics.jsonl",
    }
    assert calls[1]["export_csv"] == tmp_path / "a.csv" and calls[1]["export_jsonl"] is None
    assert calls[2]["export_csv"] is None and calls[2]["host"] == "::1"
    assert top_web.DEFAULT_EXPORT_DIR == Path.home() / "moorage-top"


@pytest.mark.parametrize(
    "argv", [["top", "--host", "0.0.0.0"], ["top", "--web", "--interval", "0"]]
)
def test_web_options_are_checked(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        agent_main.main(argv)
    assert stopped.value.code == 2 and "--" in capsys.readouterr().err


def test_the_one_file_agent_serves_the_page_too(tmp_path):
    path = tmp_path / "moorage_agent.py"
    path.write_text(single_file())
    done = subprocess.run(
        [sys.executable, str(path), "top", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "--web" in done.stdout and "--export-csv" in done.stdout
