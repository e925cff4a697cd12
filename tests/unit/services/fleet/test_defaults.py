"""Every org's "health turned critical" rule, and MOORAGE_WEBHOOK_URL's channel sending
the seed's {"text": "…"} to a real HTTP receiver on loopback, at most once per
MOORAGE_WEBHOOK_MIN_SECONDS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from moorage.errors import InvalidInput
from moorage.models.fleet import (
    HEALTH_CRITICAL,
    WEBHOOK_CHANNEL,
    Alert,
    AlertRule,
    Node,
    NotificationChannel,
    Sample,
)
from moorage.models.org import Org
from moorage.services.fleet.alerts import AlertEvaluator
from moorage.services.fleet.channels import CHANNEL_CONTEXT
from moorage.services.fleet.defaults import apply_defaults, webhook_apprise_url


class Receiver:
    """A webhook receiver on 127.0.0.1: the requests it got, as (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


async def _rules(app) -> list[AlertRule]:
    async with app.context.sessionmaker() as db:
        return list(await db.scalars(select(AlertRule).where(AlertRule.builtin.is_not(None))))


async def test_the_default_org_and_every_new_org_get_the_health_critical_rule(app):
    created = await app.client.post("/api/v1/orgs", json={"name": "lab"})
    assert created.status_code == 201, created.text
    async with app.context.sessionmaker() as db:
        orgs = {o.id: o.name for o in await db.scalars(select(Org))}
    rules = await _rules(app)
    assert sorted(orgs[r.org_id] for r in rules) == ["default", "lab"]
    assert {(r.name, r.metric, r.severity, r.builtin, r.enabled) for r in rules} == {
        ("Health turned critical", "critical", "critical", HEALTH_CRITICAL, True)
    }


async def test_start_up_adds_the_rule_to_orgs_without_it_once(app):
    async with app.context.sessionmaker() as db:
        db.add(Org(name="old", display_name="Predates the rule"))
        await db.commit()
    settings, keyring = app.context.settings, app.context.keyring
    await apply_defaults(app.context.sessionmaker, settings, keyring)
    await apply_defaults(app.context.sessionmaker, settings, keyring)
    rules = await _rules(app)
    assert len(rules) == 2 and len({r.org_id for r in rules}) == 2


async def test_an_operator_disables_and_enables_the_builtin_rule_but_cannot_remove_it(app):
    (rule,) = [r for r in (await app.client.get("/api/v1/alert-rules")).json() if r["builtin"]]
    off = await app.client.patch(f"/api/v1/alert-rules/{rule['id']}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    on = await app.client.patch(f"/api/v1/alert-rules/{rule['id']}", json={"enabled": True})
    assert on.json()["enabled"] is True
    removed = await app.client.delete(f"/api/v1/alert-rules/{rule['id']}")
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "builtin_rule"
    fields = ("name", "metric", "threshold", "duration_seconds", "severity", "tag", "enabled")
    body = {key: rule[key] for key in fields}
    kept = await app.client.put(f"/api/v1/alert-rules/{rule['id']}", json={**body, "tag": "lab"})
    assert kept.status_code == 200 and kept.json()["tag"] == "lab"
    changed = await app.client.put(
        f"/api/v1/alert-rules/{rule['id']}", json={**body, "metric": "cpu_percent"}
    )
    assert changed.status_code == 422 and changed.json()["error"]["field"] == "metric"
    bad = await app.client.patch(f"/api/v1/alert-rules/{rule['id']}", json={"enabled": "maybe"})
    assert bad.status_code == 422
    page = await app.client.get("/fleet/alerts")
    assert "Health turned critical" in page.text and "built-in" in page.text
    assert f'data-remove-rule="{rule["id"]}"' not in page.text


async def _critical(app, node_id: str, status: str, at: datetime) -> None:
    async with app.context.sessionmaker() as db:
        node = await db.get(Node, node_id)
        assert node is not None
        node.status, node.health, node.last_seen_at = status, 35 if status == "critical" else 95, at
        await db.commit()


async def test_the_rule_opens_an_alert_when_health_turns_critical_and_resolves_it(
    app, enrolled_node
):
    node = await enrolled_node(app)
    now = datetime.now(UTC)
    evaluator = AlertEvaluator(
        app.context.sessionmaker, app.context.keyring, ttl=timedelta(seconds=60), clock=lambda: now
    )
    await _critical(app, node.id, "warn", now)
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert not list(await db.scalars(select(Alert)))
    await _critical(app, node.id, "critical", now)
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        (alert,) = list(await db.scalars(select(Alert)))
    assert alert.state == "open" and alert.severity == "critical"
    assert "health turned critical" in alert.message and "35/100" in alert.message
    await _critical(app, node.id, "ok", now)
    await evaluator.run()
    async with app.context.sessionmaker() as db:
        assert [a.state for a in await db.scalars(select(Alert))] == ["resolved"]


def test_an_http_webhook_url_becomes_a_json_url_with_the_seeds_text_payload():
    url = webhook_apprise_url("https://user:pw@hooks.example.test:8443/services/T0/B0?k=a b")
    assert url.startswith("jsons://user:pw@hooks.example.test:8443/services/T0/B0?")
    assert "-k=a%20b" in url and ":message=text" in url and ":title=" in url
    assert webhook_apprise_url("http://127.0.0.1:9/h").startswith("json://127.0.0.1:9/h?")
    assert webhook_apprise_url("slack://T0/B0/C0") == "slack://T0/B0/C0"
    with pytest.raises(InvalidInput) as caught:
        webhook_apprise_url("nonsense://x")
    assert caught.value.details["field"] == "url"


async def _webhook_channels(app) -> list[NotificationChannel]:
    async with app.context.sessionmaker() as db:
        return list(
            await db.scalars(
                select(NotificationChannel).where(NotificationChannel.builtin == WEBHOOK_CHANNEL)
            )
        )


async def test_the_webhook_setting_manages_one_channel_bound_to_the_default_rule(app):
    settings = app.context.settings.model_copy(
        update={"webhook_url": SecretStr("http://127.0.0.1:9/a"), "webhook_min_seconds": 120}
    )
    await apply_defaults(app.context.sessionmaker, settings, app.context.keyring)
    await apply_defaults(app.context.sessionmaker, settings, app.context.keyring)
    (channel,) = await _webhook_channels(app)
    (rule,) = [r for r in await _rules(app) if r.org_id == channel.org_id]
    assert channel.rule_id == rule.id and channel.cooldown_seconds == 120
    removed = await app.client.delete(f"/api/v1/notification-channels/{channel.id}")
    assert removed.status_code == 409
    moved = settings.model_copy(update={"webhook_url": SecretStr("http://127.0.0.1:9/b")})
    await apply_defaults(app.context.sessionmaker, moved, app.context.keyring)
    (channel,) = await _webhook_channels(app)
    url = app.context.keyring.open(channel.url_sealed, CHANNEL_CONTEXT)
    assert url.startswith("json://127.0.0.1:9/b?")
    await apply_defaults(app.context.sessionmaker, app.context.settings, app.context.keyring)
    assert await _webhook_channels(app) == []
    async with app.context.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(NotificationChannel)) == 0


async def test_the_webhook_posts_the_seeds_text_payload_at_most_once_per_min_seconds(
    app, enrolled_node, receiver
):
    settings = app.context.settings.model_copy(
        update={
            "webhook_url": SecretStr(f"{receiver.url}/hook?team=ops"),
            "webhook_min_seconds": 300,
        }
    )
    await apply_defaults(app.context.sessionmaker, settings, app.context.keyring)
    node = await enrolled_node(app)
    async with app.context.sessionmaker() as db:
        db.add(  # another rule's alerts do not go to the webhook bound to the default rule
            AlertRule(org_id=node.org_id, name="any load", metric="load1", threshold=0)
        )
        row = await db.get(Node, node.id)
        assert row is not None
        row.latest = {"load1": 0.5}
        await db.commit()
    clock = [datetime.now(UTC)]
    evaluator = AlertEvaluator(
        app.context.sessionmaker,
        app.context.keyring,
        ttl=timedelta(seconds=600),
        clock=lambda: clock[0],
    )

    async def turn(status: str, after_seconds: float) -> None:
        clock[0] += timedelta(seconds=after_seconds)
        await _critical(app, node.id, status, clock[0])
        await evaluator.run()

    await turn("critical", 0)
    assert len(receiver.requests) == 1
    path, headers, _ = receiver.requests[0]
    assert path == "/hook?team=ops"
    assert headers["Content-Type"] == "application/json"
    (payload,) = receiver.payloads()
    assert list(payload) == ["text"]
    assert "health turned critical" in payload["text"] and "[CRITICAL]" in payload["text"]
    assert "any load" not in payload["text"]
    # Resolved and critical again within 300 s: kept in the history, not sent.
    await turn("ok", 60)
    await turn("critical", 60)
    assert len(receiver.requests) == 1
    async with app.context.sessionmaker() as db:
        critical = select(func.count()).select_from(Alert).where(Alert.severity == "critical")
        assert await db.scalar(critical) == 2
    # Past the cooldown, the next change is sent.
    await turn("ok", 300)
    assert len(receiver.requests) == 2
    assert "[RESOLVED]" in receiver.payloads()[1]["text"]


async def test_a_critical_rule_with_a_window_needs_every_sample_critical(app, enrolled_node):
    node = await enrolled_node(app)
    created = await app.client.post(
        "/api/v1/alert-rules",
        json={"name": "critical a minute", "metric": "critical", "duration_seconds": 60},
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    now = datetime.now(UTC)
    await _critical(app, node.id, "critical", now)
    evaluator = AlertEvaluator(
        app.context.sessionmaker, app.context.keyring, ttl=timedelta(seconds=60), clock=lambda: now
    )

    async def samples(cpus: list[tuple[int, float]]) -> None:
        async with app.context.sessionmaker() as db:
            db.add_all(
                Sample(node_id=node.id, at=now - timedelta(seconds=s), cpu_percent=cpu)
                for s, cpu in cpus
            )
            await db.commit()

    async def mine() -> list[Alert]:
        async with app.context.sessionmaker() as db:
            return list(await db.scalars(select(Alert).where(Alert.rule_id == rule_id)))

    await samples([(20, 97.0), (10, 98.0)])  # critical, but not for the whole minute
    await evaluator.run()
    assert await mine() == []
    await samples([(60, 99.0), (40, 96.0)])
    await evaluator.run()
    assert [a.state for a in await mine()] == ["open"]
    await samples([(5, 50.0)])  # one sample that is not critical
    await evaluator.run()
    assert [a.state for a in await mine()] == ["resolved"]
