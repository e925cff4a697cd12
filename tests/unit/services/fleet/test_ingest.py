"""Agent reports through the API: written in a batch with each node's latest values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


async def test_reports_are_written_in_a_batch_with_the_latest_values(app):
    token = (await app.client.post("/api/v1/enrollment-tokens", json={"max_uses": 2})).json()
    credentials = []
    for name in ("a", "b"):
        answer = await app.client.post(
            "/api/v1/agents/enroll", json={"token": token["token"], "hostname": name}
        )
        credentials.append(answer.json()["credential"])
    now = datetime.now(UTC)
    for credential in credentials:
        for seconds, cpu in ((20, 10.0), (10, 99.0)):
            report = {
                "agent_version": "1",
                "collected_at": (now - timedelta(seconds=seconds)).isoformat(),
                "hostname": "x",
                "metrics": {"cpu_percent": cpu, "load1": 0.5, "memory_percent": 30},
                "disks": [{"mount": "/", "percent": 40, "used_bytes": 4, "total_bytes": 10}],
            }
            answer = await app.client.post(
                "/api/v1/agents/report",
                json=report,
                headers={"Authorization": f"Bearer {credential}"},
            )
            assert answer.status_code == 200, answer.text
    await app.context.ingest.flush()  # the background writer may have written some already
    nodes = (await app.client.get("/api/v1/nodes", params={"sort": "name"})).json()
    assert [(n["name"], n["status"], n["health"]) for n in nodes] == [
        ("a", "critical", 40),
        ("b", "critical", 40),
    ]
    assert nodes[0]["metrics"]["cpu_percent"] == 99.0 and nodes[0]["metrics"]["disk_percent"] == 40
