"""The DashFleet API (seed 004) against a real ``moorage serve``: the report its
``fleet_agent.py`` sends (``urllib``, ``Authorization: Bearer $FLEET_TOKEN``, the
same bytes), then ``/api/fleet`` (and the entry expired after the TTL),
``/api/status``, ``/api/history``, ``/api/action`` with ``ACTION_TOKEN`` running
the built-in ``collect_logs`` on a real Moorage agent (the zip downloaded from the
hub), and an install link that downloads once."""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.request
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.test_fleet import AgentProcess, until
from tests.live_server import Server

FLEET_TOKEN = "ton_token_long_et_secret"
ACTION_TOKEN = "action_token_long_et_secret"


@pytest.fixture
async def hub(tmp_path) -> AsyncIterator[Server]:
    server = Server(
        tmp_path / "hub",
        f"sqlite+aiosqlite:///{tmp_path / 'hub' / 'moorage.db'}",
        extra_env={
            "MOORAGE_COMPAT": "dashfleet",
            "MOORAGE_COMPAT_FLEET_TOKEN": FLEET_TOKEN,
            "MOORAGE_COMPAT_ACTION_TOKEN": ACTION_TOKEN,
            "MOORAGE_FLEET_TTL_SECONDS": "3",
            "MOORAGE_FLEET_INGEST_FLUSH_SECONDS": "0.2",
        },
    )
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


def post_report(url: str, token: str, machine_id: str, report: dict) -> tuple[bool, str]:
    """DashFleet's ``fleet_agent.post_report``, as the seed's agent sends it."""
    payload = {"machine_id": machine_id, "report": report}
    data = json.dumps(payload).encode("utf-8")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return 200 <= resp.getcode() < 300, resp.read().decode()


def agent_stats(cpu: float) -> dict:
    """A report of ``fleet_agent.collect_agent_stats``' shape."""
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpu_percent": cpu,
        "ram_percent": 61.5,
        "ram_used_gib": 4.9,
        "ram_total_gib": 7.9,
        "disk_percent": 48.0,
        "disk_used_gib": 114.2,
        "disk_total_gib": 237.9,
        "uptime_seconds": 7384.2,
        "uptime_hms": "02:03:04",
        "health": {"score": 95, "status": "ok", "components": {"cpu": 100, "ram": 96, "disk": 100}},
    }


async def test_a_dashfleet_agent_and_client_work_against_moorage(hub, tmp_path):
    url = hub.base_url + "/api/fleet/report"
    for cpu in (10.0, 20.0, 30.0):
        ok, body = await asyncio.to_thread(
            post_report, url, FLEET_TOKEN, "poste-01", agent_stats(cpu)
        )
        assert ok and json.loads(body) == {"ok": True}
    client = hub.client(ACTION_TOKEN)  # for the routes DashFleet protects with it
    admin = await hub.login()

    async def listed() -> dict | None:
        fleet = (await admin.get("/api/fleet")).json()
        return (
            fleet
            if fleet["count"] == 1 and fleet["data"][0]["report"]["cpu_percent"] == 30.0
            else None
        )

    fleet = await until(listed, 10)
    (entry,) = fleet["data"]  # type: ignore[index]
    assert entry["id"] == "poste-01" and entry["report"]["disk_total_gib"] == 237.9
    status = (await admin.get("/api/status")).json()
    assert status["ram_percent"] == 61.5 and status["health"]["status"] == "ok"
    assert status["uptime_hms"] == "02:03:04"
    history = (await admin.get("/api/history", params={"limit": 2})).json()
    assert history["count"] == 2
    assert [row["cpu_percent"] for row in history["data"]] == [20.0, 30.0]

    # A real Moorage agent that allows actions: /api/action runs collect_logs on it.
    token = (await admin.post("/api/v1/enrollment-tokens", json={"name": "a"})).json()["token"]
    (tmp_path / "agent").mkdir()
    agent = AgentProcess(tmp_path / "agent", hub)
    assert agent.enroll(token).returncode == 0
    agent.start("--allow-actions")
    try:
        nodes = (await admin.get("/api/v1/nodes")).json()
        (node,) = [n for n in nodes if n["name"] != "poste-01"]

        async def allowing() -> bool:
            return (await admin.get(f"/api/v1/nodes/{node['id']}")).json()["allow_actions"]

        await until(allowing, 20)
        off = await client.post(
            "/api/action", json={"action": "collect_logs", "machine_id": node["name"]}
        )
        assert off.status_code == 409 and off.json()["code"] == "action_not_enabled"
        enabled = await admin.put(
            "/api/v1/action-catalog/collect_logs", json={"nodes": [node["id"]]}
        )
        assert enabled.status_code == 200, enabled.text
        # DashFleet's client sends the token in the JSON body.
        queued = await hub.client().post(
            "/api/action",
            json={"action": "collect_logs", "machine_id": node["name"], "token": ACTION_TOKEN},
        )
        assert queued.status_code == 200, queued.text
        run_id = queued.json()["run"]["id"]

        async def finished() -> dict | None:
            runs = (await admin.get(f"/api/v1/nodes/{node['id']}/actions")).json()
            (run,) = [r for r in runs if r["id"] == run_id]
            return run if run["state"] not in ("queued", "sent") else None

        run = await until(finished, 120)
        assert run["state"] == "succeeded", run  # type: ignore[index]
        assert run["file"]["name"].endswith(".zip")  # type: ignore[index]
        download = await admin.get(f"/api/v1/nodes/{node['id']}/actions/{run_id}/file")
        assert download.status_code == 200
        with zipfile.ZipFile(io.BytesIO(download.content)) as zipped:
            names = set(zipped.namelist())
        assert names == {"journal.txt", "var-log.tar.gz"}
    finally:
        agent.stop()

    # DashFleet's entry expires when its agent stops reporting (the TTL is 3 s).
    async def expired() -> bool:
        return "poste-01" in (await admin.get("/api/fleet")).json()["expired"]

    await until(expired, 20)

    # A one-time link for the agent's installer, as DashFleet's README creates it.
    made = await client.post("/api/agent/link", json={"ttl": 3600, "path": "dist/fleet_agent.exe"})
    assert made.status_code == 200, made.text
    link = made.json()["link"]
    anonymous = httpx.AsyncClient(base_url=hub.base_url)
    first = await anonymous.get(link)
    assert first.status_code == 200 and "MOORAGE_TOKEN=" in first.text
    assert (await anonymous.get(link)).status_code == 410
    wrong = await anonymous.post("/api/fleet/report", json={"machine_id": "x", "report": {}})
    assert wrong.status_code in (401, 422)
    for opened in (anonymous, client, admin):
        await opened.aclose()
