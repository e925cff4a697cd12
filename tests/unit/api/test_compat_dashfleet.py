"""The DashFleet API (seed 004) in process: its agent's report as ``fleet_agent.py``
sends it, the fleet, status, history, actions, install links and orgs, with
DashFleet's tokens (settings) and org API keys."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from moorage.models.audit import AuditEvent
from moorage.models.fleet import ActionRun, Node
from tests.unit.conftest import BASE_URL, App

FLEET_TOKEN = "ton_token_long_et_secret"
ACTION_TOKEN = "action-token-long-and-secret"


def seed_report(machine_id: str = "poste-01", cpu: float = 12.5) -> dict:
    """The body ``fleet_agent.py``'s ``post_report`` sends."""
    return {
        "machine_id": machine_id,
        "report": {
            "timestamp": "2026-12-06T21:00:00",
            "cpu_percent": cpu,
            "ram_percent": 41.0,
            "ram_used_gib": 3.2,
            "ram_total_gib": 7.8,
            "disk_percent": 52.0,
            "disk_used_gib": 52.0,
            "disk_total_gib": 100.0,
            "uptime_seconds": 3725.0,
            "uptime_hms": "01:02:05",
            "health": {"score": 100, "status": "ok", "components": {"cpu": 100}},
        },
    }


@pytest.fixture
def tokens(app: App) -> App:
    app.context.settings.compat_fleet_token = SecretStr(FLEET_TOKEN)
    app.context.settings.compat_action_token = SecretStr(ACTION_TOKEN)
    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def anonymous(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)


async def report(app: App, body: dict, token: str = FLEET_TOKEN) -> httpx.Response:
    client = await anonymous(app)
    try:
        return await client.post("/api/fleet/report", json=body, headers=bearer(token))
    finally:
        await client.aclose()


async def test_the_agents_report_registers_a_node_and_fills_status_stats_and_history(tokens):
    app = tokens
    answer = await report(app, seed_report())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True}
    await app.context.ingest.flush()
    second = await report(app, seed_report(cpu=30.0))
    assert second.status_code == 200
    await app.context.ingest.flush()

    async with app.context.sessionmaker() as db:
        node = await db.scalar(select(Node).where(Node.name == "poste-01"))
        registered = await db.scalar(select(AuditEvent).where(AuditEvent.action == "node.register"))
    assert node is not None and node.tags == ["dashfleet"] and node.agent_version == "dashfleet"
    assert registered is not None and registered.username == "dashfleet:fleet-token"

    fleet = (await app.client.get("/api/fleet")).json()
    assert fleet["count"] == 1 and fleet["expired"] == []
    (entry,) = fleet["data"]
    assert entry["id"] == "poste-01" and entry["hostname"] == "poste-01"
    assert entry["report"]["cpu_percent"] == 30.0 and entry["report"]["ram_percent"] == 41.0
    assert entry["report"]["health"]["status"] == "ok" and isinstance(entry["ts"], float)

    # With one node, /api/stats and /api/status need no machine_id.
    stats = (await app.client.get("/api/stats")).json()
    assert stats["disk_percent"] == 52.0 and stats["disk_total_gib"] == 100.0
    assert stats["uptime_hms"] == "01:02:05" and stats["alerts"] == {"cpu": False, "ram": False}
    assert "health" not in stats
    status = (await app.client.get("/api/status", params={"machine_id": "poste-01"})).json()
    assert status["health"]["score"] == 100 and status["health"]["status"] == "ok"

    history = (await app.client.get("/api/history", params={"limit": "1"})).json()
    assert history["count"] == 1 and history["data"][0]["cpu_percent"] == 30.0
    full = (await app.client.get("/api/history", params={"limit": "x"})).json()
    assert [row["cpu_percent"] for row in full["data"]] == [12.5, 30.0]


async def test_an_org_api_key_reports_into_its_org(app: App):
    created = await app.client.post("/api/orgs", json={"name": "Acme Corp"})
    assert created.status_code == 200, created.text
    org = created.json()
    assert org["name"] == "acme-corp" and org["api_key"].startswith("mrg_")
    answer = await report(app, seed_report("pc-acme"), token=org["api_key"])
    assert answer.status_code == 200, answer.text
    await app.context.ingest.flush()
    async with app.context.sessionmaker() as db:
        node = await db.scalar(select(Node).where(Node.name == "pc-acme"))
    assert node is not None and node.org_id == org["org_id"]
    # The default org's admin does not see another org's node.
    assert (await app.client.get("/api/fleet")).json()["data"] == []
    client = await anonymous(app)
    theirs = await client.get("/api/fleet", headers={"X-API-Key": org["api_key"]})
    await client.aclose()
    assert [entry["id"] for entry in theirs.json()["data"]] == ["pc-acme"]


async def test_bad_reports_and_tokens_are_refused_without_a_node(tokens):
    app = tokens
    assert (await report(app, seed_report(), token="wrong")).status_code == 401
    client = await anonymous(app)
    no_token = await client.post("/api/fleet/report", json=seed_report())
    assert no_token.status_code == 401 and "error" in no_token.json()
    # The token may come in the JSON body, as DashFleet's server also reads it.
    in_body = await client.post("/api/fleet/report", json={**seed_report(), "token": FLEET_TOKEN})
    assert in_body.status_code == 200
    await client.aclose()
    bad = seed_report()
    bad["report"]["cpu_percent"] = 140
    refused = await report(app, bad)
    assert refused.status_code == 422 and refused.json()["field"] == "report.cpu_percent"
    nameless = await report(app, {"report": seed_report()["report"]})
    assert nameless.status_code == 422 and nameless.json()["field"] == "machine_id"
    odd = await report(app, seed_report("../etc"))
    assert odd.status_code == 422 and odd.json()["field"] == "machine_id"
    garbage = await anonymous(app)
    broken = await garbage.post(
        "/api/fleet/report", content=b"{not json", headers=bearer(FLEET_TOKEN)
    )
    await garbage.aclose()
    assert broken.status_code == 422
    async with app.context.sessionmaker() as db:
        names = list(await db.scalars(select(Node.name)))
    assert names == ["poste-01"]


async def test_offline_nodes_are_listed_as_expired(tokens):
    app = tokens
    await report(app, seed_report("old-pc"))
    await report(app, seed_report("new-pc"))
    await app.context.ingest.flush()
    async with app.context.sessionmaker() as db:
        long_ago = (await db.scalar(select(Node.last_seen_at))) - timedelta(hours=2)
        await db.execute(update(Node).where(Node.name == "old-pc").values(last_seen_at=long_ago))
        await db.commit()
    fleet = (await app.client.get("/api/fleet")).json()
    assert fleet["expired"] == ["old-pc"]
    assert [entry["id"] for entry in fleet["data"]] == ["new-pc"] and fleet["count"] == 1
    # Two nodes: the status routes need machine_id.
    ambiguous = await app.client.get("/api/status")
    assert ambiguous.status_code == 422 and ambiguous.json()["field"] == "machine_id"
    assert (await app.client.get("/api/stats", params={"machine_id": "nope"})).status_code == 404


async def test_actions_take_the_action_token_or_an_operators_and_run_allow_listed_only(tokens):
    app = tokens
    await report(app, seed_report("poste-01"))
    await app.context.ingest.flush()
    defined = await app.client.put(
        "/api/v1/actions/uptime", json={"name": "uptime", "argv": ["uptime"]}
    )
    assert defined.status_code == 204
    client = await anonymous(app)
    # DashFleet's agents do not run actions: the node's agent does not allow them.
    refused = await client.post(
        "/api/action", json={"action": "uptime", "token": ACTION_TOKEN, "machine_id": "poste-01"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "actions_not_allowed"
    async with app.context.sessionmaker() as db:
        await db.execute(update(Node).values(allow_actions=True))
        await db.commit()
    queued = await client.post(
        "/api/action", json={"action": "uptime"}, headers=bearer(ACTION_TOKEN)
    )
    assert queued.status_code == 200, queued.text
    assert queued.json()["action"] == "uptime" and queued.json()["run"]["state"] == "queued"
    unknown = await client.post(
        "/api/action", json={"action": "rm_rf"}, headers=bearer(ACTION_TOKEN)
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "action_not_found"
    wrong = await client.post("/api/action", json={"action": "uptime", "token": "nope"})
    assert wrong.status_code == 401
    await client.aclose()
    async with app.context.sessionmaker() as db:
        runs = list(await db.scalars(select(ActionRun)))
        audited = await db.scalar(select(AuditEvent).where(AuditEvent.action == "action.run"))
    assert [run.requested_by for run in runs] == ["dashfleet:action"]
    assert audited is not None and audited.username == "dashfleet:action"


async def test_a_member_may_not_run_actions_or_read_the_fleet(tokens, member):
    app = tokens
    token = (await member.post("/api/v1/tokens", json={"name": "t"})).json()["token"]
    client = await anonymous(app)
    action = await client.post("/api/action", json={"action": "x", "token": token})
    assert action.status_code == 403
    assert (await client.get("/api/fleet", headers=bearer(token))).status_code == 403
    assert (await report(app, seed_report(), token=token)).status_code == 403
    await client.aclose()


async def test_an_agent_link_downloads_the_install_script_once(tokens):
    app = tokens
    client = await anonymous(app)
    made = await client.post(
        "/api/agent/link",
        json={"ttl": 3600, "path": "dist/fleet_agent.exe"},
        headers=bearer(ACTION_TOKEN),
    )
    assert made.status_code == 200, made.text
    link = made.json()["link"]
    assert link.startswith("/download/agent/") and made.json()["expires_in"] == 3600
    first = await client.get(link)
    assert first.status_code == 200 and "MOORAGE_TOKEN=" in first.text
    again = await client.get(link)
    assert again.status_code == 410 and "error" in again.json()
    assert (await client.get("/download/agent/mrg_nope_nope")).status_code == 404
    short = await client.post("/api/agent/link", json={"ttl": 1}, headers=bearer(ACTION_TOKEN))
    assert short.status_code == 422 and short.json()["field"] == "ttl"
    assert (await client.post("/api/agent/link", json={})).status_code == 401
    await client.aclose()


async def test_orgs_are_for_admins_and_names_must_leave_something(app: App, member):
    assert (await member.post("/api/orgs", json={"name": "x"})).status_code == 403
    empty = await app.client.post("/api/orgs", json={"name": "!!!"})
    assert empty.status_code == 422 and empty.json()["field"] == "name"
    assert (await app.client.post("/api/orgs", json={"name": "Lab"})).status_code == 200
    taken = await app.client.post("/api/orgs", json={"name": "lab"})
    assert taken.status_code == 409


async def test_a_report_cannot_write_into_an_enrolled_agents_node(tokens):
    app = tokens
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    enrolled = await app.client.post(
        "/api/v1/agents/enroll", json={"token": token, "hostname": "srv-1"}
    )
    assert enrolled.status_code == 201
    taken = await report(app, seed_report("srv-1"))
    assert taken.status_code == 409 and taken.json()["code"] == "node_name_taken"
