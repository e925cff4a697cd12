"""``GET /metrics``: who may scrape it, what it holds, and that Prometheus' own checker
(``promtool check metrics``, Debian's ``prometheus`` package) accepts it."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.unit.conftest import App


def families(text: str) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


async def test_an_admin_reads_the_metrics_and_others_are_refused(app: App, member):
    response = await app.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert (await member.get("/metrics")).status_code == 403
    async with app.client.__class__(transport=app.client._transport, base_url="http://t") as anon:
        assert (await anon.get("/metrics")).status_code == 401
        bad = await anon.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert bad.status_code == 401


async def test_the_metrics_token_is_accepted_without_a_user(app: App):
    app.context.settings.metrics_token = SecretStr("scrape-me-please-0123456789")
    async with app.client.__class__(transport=app.client._transport, base_url="http://t") as anon:
        response = await anon.get(
            "/metrics", headers={"Authorization": "Bearer scrape-me-please-0123456789"}
        )
    assert response.status_code == 200
    assert "moorage_live_leases" in response.text


async def test_launches_leases_logins_and_requests_are_counted(app: App, member):
    before = families((await app.client.get("/metrics")).text)
    launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    await member.get(f"/api/v1/sessions/{launched.json()['id']}")
    failed = await app.client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "wrong-password"}
    )
    assert failed.status_code == 401
    after = families((await app.client.get("/metrics")).text)

    def grew(family: str, name: str, **labels: str) -> float:
        return value(after[family], name, **labels) - value(before.get(family, []), name, **labels)

    assert (
        grew(
            "moorage_session_launch_seconds",
            "moorage_session_launch_seconds_count",
            kind="terminal",
            outcome="ready",
        )
        == 1
    )
    assert (
        value(after["moorage_live_leases"], "moorage_live_leases", lease="session", state="ready")
        >= 1
    )
    assert (
        grew("moorage_login_failures", "moorage_login_failures_total", reason="wrong_password") == 1
    )
    # Requests are counted by route template, never by raw path (bounded series).
    assert (
        grew(
            "moorage_http_requests",
            "moorage_http_requests_total",
            route="/api/v1/sessions/{session_id}",
            status="200",
        )
        == 1
    )
    raw = launched.json()["id"]
    assert all(raw not in s.labels.get("route", "") for s in after["moorage_http_requests"])
    assert value(after["moorage_environments"], "moorage_environments") >= 1


async def test_promtool_accepts_the_exposition(app: App, member, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing (Debian package prometheus, scripts/setup.sh --test)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    await member.post("/api/v1/sessions", json={"template": "debian-shell"})
    await app.client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
    body = (await app.client.get("/metrics")).content
    check = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await check.communicate(body)
    assert check.returncode == 0, output.decode()
    # promtool also lints (names, units, help); it prints nothing when all is well.
    assert output.decode().strip() == ""
