"""Git stacks through the API on the in-process app: input checks, roles, the
webhook's answers, a failed fetch shown on the stack, and which stacks the poller picks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.models.environment import Environment
from moorage.models.git_stack import GitStack
from moorage.services.docker.git_stacks import WEBHOOK_CONTEXT
from moorage.services.docker.git_webhooks import sign_github

STACKS = "/api/v1/environments/local/stacks"
BODY = b'{"ref": "refs/heads/main"}'


async def _row(app, name: str, secret: str, **values) -> GitStack:
    context = app.context
    async with write_session(context.sessionmaker) as db:
        environment = await db.scalar(select(Environment).where(Environment.name == "local"))
        row = GitStack(
            id=new_id(),
            org_id=environment.org_id,
            environment_id=environment.id,
            name=name,
            url="https://127.0.0.1:9/none.git",
            ref="main",
            path="compose.yaml",
            policy="auto",
            health_timeout_seconds=30,
            stable_seconds=0,
            webhook_secret_sealed=context.keyring.seal(secret, WEBHOOK_CONTEXT),
            env_text="",
            **values,
        )
        db.add(row)
    return row


async def test_create_checks_and_roles(app, member):
    for git, field in (
        ({"url": "ext::sh -c id"}, "git.url"),
        ({"url": "file:///etc"}, "git.url"),
        ({"url": "https://h/r.git", "ref": "a..b"}, "git.ref"),
        ({"url": "https://h/r.git", "path": "../x.yaml"}, "git.path"),
    ):
        bad = await app.client.post(STACKS, json={"name": "g1", "git": git})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == field, bad.text
    both = await app.client.post(
        STACKS, json={"name": "g1", "compose": "services: {}", "git": {"url": "https://h/r"}}
    )
    assert both.status_code == 422
    short_poll = await app.client.post(
        STACKS, json={"name": "g1", "git": {"url": "https://h/r"}, "poll_seconds": 10}
    )
    assert short_poll.status_code == 422
    refused = await member.post(STACKS, json={"name": "g1", "git": {"url": "https://h/r"}})
    assert refused.status_code == 403


async def test_webhook_answers_and_a_failed_fetch_is_shown(app):
    row = await _row(app, "hooked", "the-secret")
    hook = f"/api/v1/stacks/webhooks/{row.id}"
    async with app.client.__class__(
        transport=app.client._transport, base_url="http://testserver"
    ) as stranger:
        unknown = await stranger.post("/api/v1/stacks/webhooks/nope", content=BODY)
        assert unknown.status_code == 404
        assert (await stranger.post(hook, content=BODY)).status_code == 401
        wrong = {"X-Hub-Signature-256": sign_github("other", BODY)}
        assert (await stranger.post(hook, content=BODY, headers=wrong)).status_code == 401
        good = {"X-Hub-Signature-256": sign_github("the-secret", BODY)}
        answer = await stranger.post(hook, content=BODY, headers=good)
        assert answer.status_code == 202 and answer.json()["format"] == "github"
    await asyncio.wait_for(app.context.docker.git_stacks.idle(), 60)
    stack = (await app.client.get(f"{STACKS}/hooked")).json()
    git = stack["git"]
    assert git["check"] == "fetch failed" and git["error"].startswith("fetching main failed")
    assert git["checked_at"] and git["commit"] is None
    assert stack["webhook_url"] == f"http://testserver{hook}"
    assert "webhook_secret" not in stack
    assert (await app.client.delete(f"{STACKS}/hooked")).status_code == 204
    assert (await app.client.get(f"{STACKS}/hooked")).status_code == 404


async def test_the_poller_picks_stacks_whose_interval_passed(app):
    now = utcnow()
    due = await _row(app, "due", "s", poll_seconds=60, checked_at=now - timedelta(seconds=61))
    fresh = await _row(app, "fresh", "s", poll_seconds=60, checked_at=now)
    never = await _row(app, "never", "s", poll_seconds=60)
    manual = await _row(app, "manual", "s")
    picked = set(await app.context.docker.git_stacks.deployer.due(now))
    assert picked == {due.id, never.id}
    assert fresh.id not in picked and manual.id not in picked
