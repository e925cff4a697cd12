"""The built-in catalog on the hub: off until enabled for a node or a tag, run only
where the agent allows actions, ``restart_service`` only for listed services, the
agent handed ``builtin`` with an empty argv, and ``collect_logs``' zip uploaded by
the agent and downloaded by an operator."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.fleet import Node

REPORT = {
    "agent_version": "1",
    "hostname": "unit",
    "allow_actions": True,
    "metrics": {"cpu_percent": 1.0, "load1": 0.1, "memory_percent": 10.0},
}


async def credential_node(app) -> tuple[Node, dict[str, str]]:
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    answer = (
        await app.client.post("/api/v1/agents/enroll", json={"token": token, "hostname": "unit"})
    ).json()
    headers = {"Authorization": f"Bearer {answer['credential']}"}
    async with app.context.sessionmaker() as db:
        node = await db.get(Node, answer["node_id"])
    assert node is not None
    return node, headers


async def report(app, headers) -> list[dict]:
    body = {**REPORT, "collected_at": datetime.now(UTC).isoformat()}
    answer = await app.client.post("/api/v1/agents/report", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    await app.context.ingest.flush()
    return answer.json()["actions"]


async def test_a_builtin_is_off_until_enabled_for_the_node_or_a_tag(app):
    node, headers = await credential_node(app)
    await report(app, headers)  # the agent allows actions
    catalog = (await app.client.get("/api/v1/action-catalog")).json()
    assert {e["name"] for e in catalog} >= {"flush_dns", "collect_logs", "restart_service"}
    assert all(e["enabled"] == [] for e in catalog)

    off = await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "flush_dns"})
    assert off.status_code == 409 and off.json()["error"]["code"] == "action_not_enabled"
    unknown = await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "nope"})
    assert unknown.status_code == 404

    await app.client.patch(f"/api/v1/nodes/{node.id}", json={"tags": ["lab"]})
    enabled = await app.client.put("/api/v1/action-catalog/flush_dns", json={"tags": ["lab"]})
    assert enabled.status_code == 200 and enabled.json()["enabled"] == [
        {"node": None, "tag": "lab", "services": []}
    ]
    queued = await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "flush_dns"})
    assert queued.status_code == 202, queued.text
    assert queued.json()["builtin"] is True and queued.json()["argv"] == []
    (handed,) = await report(app, headers)
    assert handed["action"] == "flush_dns" and handed["builtin"] is True and handed["argv"] == []

    # Switching it off (empty lists) refuses the next run.
    await app.client.put("/api/v1/action-catalog/flush_dns", json={})
    again = await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "flush_dns"})
    assert again.status_code == 409
    async with app.context.sessionmaker() as db:
        audited = list(
            await db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "action.enable"))
        )
    assert sorted(audited) == ["off", "tag:lab"]


async def test_restart_service_needs_a_listed_service(app):
    node, headers = await credential_node(app)
    await report(app, headers)
    no_services = await app.client.put(
        "/api/v1/action-catalog/restart_service", json={"nodes": ["unit"]}
    )
    assert no_services.status_code == 422 and no_services.json()["error"]["field"] == "services"
    stray = await app.client.put(
        "/api/v1/action-catalog/flush_dns", json={"nodes": ["unit"], "services": ["nginx"]}
    )
    assert stray.status_code == 422
    ok = await app.client.put(
        "/api/v1/action-catalog/restart_service", json={"nodes": ["unit"], "services": ["nginx"]}
    )
    assert ok.status_code == 200, ok.text
    path = f"/api/v1/nodes/{node.id}/actions"
    other = await app.client.post(path, json={"action": "restart_service", "service": "sshd"})
    assert other.status_code == 422 and other.json()["error"]["field"] == "service"
    bad = await app.client.post(path, json={"action": "restart_service", "service": "-x; y"})
    assert bad.status_code == 422
    run = await app.client.post(path, json={"action": "restart_service", "service": "nginx"})
    assert run.status_code == 202 and run.json()["params"] == {"service": "nginx"}
    (handed,) = await report(app, headers)
    assert handed["params"] == {"service": "nginx"}


async def test_collected_logs_are_uploaded_and_downloadable_once_per_run(app, member):
    node, headers = await credential_node(app)
    await report(app, headers)
    await app.client.put("/api/v1/action-catalog/collect_logs", json={"nodes": [node.name]})
    run = (
        await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "collect_logs"})
    ).json()
    upload = f"/api/v1/agents/actions/{run['id']}/file"
    early = await app.client.post(upload, content=b"PK", headers=headers)
    assert early.status_code == 409  # not handed to the agent yet
    await report(app, headers)
    bad_name = await app.client.post(
        upload, params={"name": "../x"}, content=b"PK", headers=headers
    )
    assert bad_name.status_code == 422
    stored = await app.client.post(
        upload, params={"name": "logs.zip"}, content=b"PK\x03\x04zip", headers=headers
    )
    assert stored.status_code == 204, stored.text
    stranger = await app.client.post(upload, content=b"PK", headers={"Authorization": "Bearer x"})
    assert stranger.status_code == 401
    result = await app.client.post(
        f"/api/v1/agents/actions/{run['id']}/result",
        json={"state": "succeeded", "exit_code": 0, "output": "uploaded"},
        headers=headers,
    )
    assert result.status_code == 204
    (listed,) = (await app.client.get(f"/api/v1/nodes/{node.id}/actions")).json()
    assert listed["file"] == {"name": "logs.zip", "size_bytes": 7}
    download = await app.client.get(f"/api/v1/nodes/{node.id}/actions/{run['id']}/file")
    assert download.status_code == 200 and download.content == b"PK\x03\x04zip"
    assert "logs.zip" in download.headers["content-disposition"]
    refused = await member.get(f"/api/v1/nodes/{node.id}/actions/{run['id']}/file")
    assert refused.status_code == 403
    late = await app.client.post(upload, content=b"PK", headers=headers)
    assert late.status_code == 409  # the run is finished


async def test_the_node_page_enables_a_builtin_here_and_links_collected_logs(app):
    node, headers = await credential_node(app)
    await report(app, headers)
    page = (await app.client.get(f"/fleet/nodes/{node.id}")).text
    assert "Built-in actions" in page and "flush_dns · off" in page
    enabled = await app.client.post(f"/api/v1/nodes/{node.id}/action-catalog/flush_dns", json={})
    assert enabled.status_code == 204
    await app.client.post(f"/api/v1/nodes/{node.id}/action-catalog/collect_logs", json={})
    (flush,) = [e for e in (await app.client.get("/api/v1/action-catalog")).json()
                if e["name"] == "flush_dns"]  # fmt: skip
    assert flush["enabled"] == [{"node": "unit", "tag": None, "services": []}]
    run = (
        await app.client.post(f"/api/v1/nodes/{node.id}/actions", json={"action": "collect_logs"})
    ).json()
    await report(app, headers)
    await app.client.post(
        f"/api/v1/agents/actions/{run['id']}/file",
        params={"name": "collect_logs-1.zip"},
        content=b"PK",
        headers=headers,
    )
    page = (await app.client.get(f"/fleet/nodes/{node.id}")).text
    assert "flush_dns · enabled" in page
    assert f"/api/v1/nodes/{node.id}/actions/{run['id']}/file" in page
