"""Fleet monitoring with real agent processes (``python -m moorage agent …``) against a
real ``moorage serve``: enrolment, reports, offline after the TTL, buffered reports
delivered after a hub outage, an alert to a local webhook, remote actions, and
refused payloads and tokens."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from tests.live_server import Server, free_port

FLEET_ENV = {
    "MOORAGE_FLEET_TTL_SECONDS": "3",
    "MOORAGE_FLEET_ALERT_INTERVAL_SECONDS": "1",
    "MOORAGE_FLEET_INGEST_FLUSH_SECONDS": "0.2",
}


async def until(check: Callable[[], Awaitable[object]], within: float = 20.0) -> object:
    """Poll ``check`` until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {check.__name__}")
        await asyncio.sleep(0.25)


class AgentProcess:
    def __init__(self, folder: Path, server: Server) -> None:
        self.folder, self.server = folder, server
        self.config = folder / "agent.json"
        self.process: subprocess.Popen | None = None

    def enroll(self, token: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "moorage",
                "agent",
                "enroll",
                "--server",
                self.server.base_url,
                "--token",
                token,
                "--config",
                str(self.config),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, *extra: str, interval: float = 0.5) -> None:
        log = open(self.folder / f"agent-{time.time_ns()}.log", "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moorage",
                "agent",
                "run",
                "--config",
                str(self.config),
                "--interval",
                str(interval),
                "--max-backoff",
                "1.5",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def hub(tmp_path) -> AsyncIterator[Server]:
    server = Server(
        tmp_path / "hub",
        f"sqlite+aiosqlite:///{tmp_path / 'hub' / 'moorage.db'}",
        extra_env=FLEET_ENV,
    )
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def operator(hub) -> AsyncIterator:
    client = await hub.login()
    yield client
    await client.aclose()


@pytest.fixture
def agents(tmp_path, hub):
    started: list[AgentProcess] = []

    def make(name: str) -> AgentProcess:
        folder = tmp_path / name
        folder.mkdir()
        agent = AgentProcess(folder, hub)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        agent.stop()


async def enrolled(operator, agents, name: str, tags: list[str] | None = None) -> AgentProcess:
    token = (
        await operator.post("/api/v1/enrollment-tokens", json={"name": name, "tags": tags or []})
    ).json()["token"]
    agent = agents(name)
    result = agent.enroll(token)
    assert result.returncode == 0, result.stderr
    return agent


async def node_of(operator, agent: AgentProcess) -> dict:
    node_id = json.loads(agent.config.read_text())["node_id"]
    return (await operator.get(f"/api/v1/nodes/{node_id}")).json()


async def test_enrol_report_go_offline_and_export(operator, agents, hub):
    token = (
        await operator.post(
            "/api/v1/enrollment-tokens", json={"name": "two", "max_uses": 1, "tags": ["lab"]}
        )
    ).json()["token"]
    agent = agents("one")
    enrolled_run = agent.enroll(token)
    assert enrolled_run.returncode == 0, enrolled_run.stderr
    assert stat.S_IMODE(os.stat(agent.config).st_mode) == 0o600
    config = json.loads(agent.config.read_text())
    assert config["server"] == hub.base_url and config["credential"].startswith("mrg_")
    # The token had one use.
    again = agents("again").enroll(token)
    assert again.returncode != 0 and "used 1 of 1" in again.stderr

    agent.start()

    async def online():
        node = await node_of(operator, agent)
        return node if node["status"] in ("ok", "warn", "critical") else None

    node = await until(online)
    assert node["tags"] == ["lab"]
    assert 0 <= node["health"] <= 100
    assert 0 <= node["metrics"]["cpu_percent"] <= 100
    assert node["metrics"]["disks"] and node["metrics"]["processes"] > 0
    listed = (await operator.get("/api/v1/nodes", params={"tag": "lab", "sort": "health"})).json()
    assert [n["id"] for n in listed] == [node["id"]]
    assert (await operator.get("/api/v1/nodes", params={"search": "no-such-host"})).json() == []
    assert (await operator.get("/api/v1/nodes", params={"sort": "bogus"})).status_code == 422

    async def points():
        data = (
            await operator.get(f"/api/v1/nodes/{node['id']}/metrics", params={"step": 1})
        ).json()
        return data if len(data["at"]) >= 3 else None

    data = await until(points)
    assert data["resolution"] == 0 and len(data["cpu_percent"]) == len(data["at"])
    exported = await operator.get(
        f"/api/v1/nodes/{node['id']}/metrics", params={"step": 1, "format": "csv"}
    )
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("at,cpu_percent") and len(lines) >= 4
    jsonl = await operator.get(
        f"/api/v1/nodes/{node['id']}/metrics", params={"step": 1, "format": "jsonl"}
    )
    assert all("memory_percent" in json.loads(line) for line in jsonl.text.splitlines())

    agent.stop()
    stopped = time.monotonic()

    async def offline():
        return (await node_of(operator, agent))["status"] == "offline"

    await until(offline, within=15)
    assert time.monotonic() - stopped >= 2.5  # not before the 3 s TTL


async def test_reports_buffered_while_the_hub_is_down(operator, agents, hub):
    agent = await enrolled(operator, agents, "buffered")
    agent.start(interval=0.5)

    async def online():
        return (await node_of(operator, agent))["status"] != "unknown"

    await until(online)
    node_id = json.loads(agent.config.read_text())["node_id"]
    await operator.aclose()
    hub.stop()
    down_from = datetime.now(UTC)
    await asyncio.sleep(4)
    down_until = datetime.now(UTC)
    hub.start()
    client = await hub.login()
    try:

        async def delivered():
            data = (
                await client.get(
                    f"/api/v1/nodes/{node_id}/metrics",
                    params={
                        "since": (down_from + timedelta(seconds=0.5)).isoformat(),
                        "until": (down_until - timedelta(seconds=0.5)).isoformat(),
                        "step": 1,
                    },
                )
            ).json()
            # 1-second buckets over the 3 s in the middle of the outage: one report
            # every 0.5 s fills each of them.
            return data["at"] if len(data["at"]) >= 3 else None

        try:
            times = await until(delivered, within=20)
        except AssertionError:
            logs = [p.read_text()[-3000:] for p in agent.folder.glob("agent-*.log")]
            everything = (
                await client.get(f"/api/v1/nodes/{node_id}/metrics", params={"step": 1})
            ).json()["at"]
            raise AssertionError(
                f"agent log: {logs}; {down_from} {down_until}; all: {everything}"
            ) from None
        assert times == sorted(times)
    finally:
        await client.aclose()


async def test_offline_alert_fires_to_a_webhook_and_resolves(operator, agents):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # This test watches its own rule: a loaded test machine may turn critical too.
    (builtin,) = [r for r in (await operator.get("/api/v1/alert-rules")).json() if r["builtin"]]
    builtin_url = f"/api/v1/alert-rules/{builtin['id']}"
    assert (await operator.patch(builtin_url, json={"enabled": False})).status_code == 200
    try:
        bad = await operator.post(
            "/api/v1/notification-channels", json={"name": "x", "url": "nope://where"}
        )
        assert bad.status_code == 422
        channel = await operator.post(
            "/api/v1/notification-channels",
            json={"name": "hook", "url": f"json://127.0.0.1:{port}/hook", "cooldown_seconds": 0},
        )
        assert channel.status_code == 201, channel.text
        assert "url" not in channel.json()
        rule = await operator.post(
            "/api/v1/alert-rules",
            json={"name": "gone", "metric": "offline", "severity": "critical", "tag": "alerting"},
        )
        assert rule.status_code == 201, rule.text
        agent = await enrolled(operator, agents, "alerting", tags=["alerting"])
        agent.start()

        async def online():
            return (await node_of(operator, agent))["status"] not in ("unknown", "offline")

        await until(online)
        name = (await node_of(operator, agent))["name"]
        agent.stop()

        async def opened():
            return [
                a for a in (await operator.get("/api/v1/alerts")).json() if a["state"] == "open"
            ]

        alert = (await until(opened, within=20))[0]
        assert alert["severity"] == "critical" and "has not reported" in alert["message"]
        await until(lambda: _true(received), within=10)
        assert "CRITICAL" in received[0]["message"] and name in received[0]["message"]

        agent.start()

        async def resolved():
            rows = (await operator.get("/api/v1/alerts", params={"state": "resolved"})).json()
            return rows

        await until(resolved, within=20)
        await until(lambda: _true(len(received) >= 2), within=10)
        assert "RESOLVED" in received[1]["message"]
    finally:
        await runner.cleanup()
        await operator.patch(builtin_url, json={"enabled": True})


async def _true(value: object) -> object:
    return value


async def test_actions_run_only_where_allowed(operator, agents):
    defined = await operator.put(
        "/api/v1/actions/hello",
        json={"name": "hello", "argv": ["echo", "hello-from-action"], "timeout_seconds": 10},
    )
    assert defined.status_code == 204, defined.text
    agent = await enrolled(operator, agents, "acting")
    agent.start()

    async def online():
        node = await node_of(operator, agent)
        return node if node["status"] not in ("unknown", "offline") else None

    node = await until(online)
    refused = await operator.post(f"/api/v1/nodes/{node['id']}/actions", json={"action": "hello"})
    assert refused.status_code == 409 and "--allow-actions" in refused.text
    unknown = await operator.post(f"/api/v1/nodes/{node['id']}/actions", json={"action": "rm"})
    assert unknown.status_code == 404

    agent.stop()
    agent.start("--allow-actions")

    async def allowed():
        return (await node_of(operator, agent))["allow_actions"]

    await until(allowed)
    queued = await operator.post(f"/api/v1/nodes/{node['id']}/actions", json={"action": "hello"})
    assert queued.status_code == 202, queued.text

    async def finished():
        runs = (await operator.get(f"/api/v1/nodes/{node['id']}/actions")).json()
        return runs[0] if runs[0]["state"] not in ("queued", "sent") else None

    run = await until(finished)
    assert run["state"] == "succeeded" and run["exit_code"] == 0
    assert "hello-from-action" in run["output"]
    actions = {e["action"] for e in (await operator.get("/api/v1/audit")).json()}
    assert {"action.define", "action.run", "action.result", "node.enroll"} <= actions


async def test_bad_tokens_and_payloads_are_refused(operator, agents, hub):
    client = hub.client()
    try:
        bad = await client.post(
            "/api/v1/agents/enroll", json={"token": "mrg_0000000000_nope", "hostname": "x"}
        )
        assert bad.status_code == 401
        expired = (
            await operator.post("/api/v1/enrollment-tokens", json={"ttl_seconds": 59})
        ).status_code
        assert expired == 422
        agent = await enrolled(operator, agents, "payloads")
        credential = json.loads(agent.config.read_text())["credential"]
        report = {
            "agent_version": "1",
            "collected_at": datetime.now(UTC).isoformat(),
            "hostname": "payloads",
            "metrics": {"cpu_percent": 5, "load1": 0.1, "memory_percent": 20},
            "disks": [{"mount": "/", "percent": 10, "used_bytes": 1, "total_bytes": 10}],
        }
        auth = {"Authorization": f"Bearer {credential}"}
        assert (await client.post("/api/v1/agents/report", json=report)).status_code == 401
        wrong = {"Authorization": f"Bearer {credential[:-2]}xx"}
        assert (
            await client.post("/api/v1/agents/report", json=report, headers=wrong)
        ).status_code == 401
        ok = await client.post("/api/v1/agents/report", json=report, headers=auth)
        assert ok.status_code == 200 and ok.json() == {"actions": []}
        over = {**report, "metrics": {**report["metrics"], "cpu_percent": 150}}
        answer = await client.post("/api/v1/agents/report", json=over, headers=auth)
        assert answer.status_code == 422 and "metrics.cpu_percent" in answer.text
        future = {**report, "collected_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
        answer = await client.post("/api/v1/agents/report", json=future, headers=auth)
        assert answer.status_code == 422 and "future" in answer.text
        extra = {**report, "command": "rm -rf /"}
        assert (
            await client.post("/api/v1/agents/report", json=extra, headers=auth)
        ).status_code == 422
        huge = {**report, "os": "x" * 70_000}
        assert (
            await client.post("/api/v1/agents/report", json=huge, headers=auth)
        ).status_code == 413
        garbage = await client.post("/api/v1/agents/report", content=b"{not json", headers=auth)
        assert garbage.status_code == 422
    finally:
        await client.aclose()


async def test_install_link_serves_once(operator, hub, tmp_path):
    link = (await operator.post("/api/v1/install-links", json={"ttl_seconds": 600})).json()
    assert link["command"] == f"curl -fsSL {link['url']} | sudo sh"
    client = hub.client()
    try:
        script = await client.get(link["url"].removeprefix(hub.base_url))
        assert script.status_code == 200
        assert (
            f"MOORAGE_SERVER={hub.base_url}" in script.text and "MOORAGE_TOKEN=mrg_" in script.text
        )
        syntax = await asyncio.to_thread(
            subprocess.run, ["sh", "-n"], input=script.text, text=True, capture_output=True
        )
        assert syntax.returncode == 0, syntax.stderr
        assert (await client.get(link["url"].removeprefix(hub.base_url))).status_code == 410
        agent_file = await client.get("/api/v1/agent.py")
        path = tmp_path / "moorage_agent.py"
        path.write_text(agent_file.text)
        token = re.search(r"^MOORAGE_TOKEN=(\S+)$", script.text, re.M).group(1)
        # The served single file enrols on its own, outside the moorage package.
        enrolled_run = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(path),
                "enroll",
                "--server",
                hub.base_url,
                "--token",
                token,
                "--config",
                str(tmp_path / "standalone.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert enrolled_run.returncode == 0, enrolled_run.stderr
        assert "[Unit]" in (await client.get("/api/v1/agent.service")).text
    finally:
        await client.aclose()


def _ctrl_c_as_in_a_shell() -> None:
    """In the child: SIGINT handled by default and not blocked, as a command started
    from a shell has it. Both survive exec, and in the full CI run the test process
    passed on a state in which the command never saw the Ctrl+C (cause not found;
    standalone the test passes without this)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_top_exports_csv_and_jsonl(tmp_path):
    csv_path, jsonl_path = tmp_path / "m.csv", tmp_path / "m.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moorage",
            "top",
            "--interval",
            "0.2",
            "--export-csv",
            str(csv_path),
            "--export-jsonl",
            str(jsonl_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_in_a_shell,
    )
    # Ctrl+C once three samples are written: a fixed wait sent it, on a loaded
    # machine, before the command had started (CI once timed out waiting for it).
    deadline = time.monotonic() + 60
    while not (csv_path.exists() and len(csv_path.read_text().splitlines()) >= 4):
        assert process.poll() is None and time.monotonic() < deadline, "no samples written"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "cpu" in out and "mem" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("collected_at,cpu_percent") and len(rows) >= 3
    assert all("disk_percent" in json.loads(line) for line in jsonl_path.read_text().splitlines())
