"""Signing in and out, API tokens and sign-in locks are audited by the users service,
so the API and the login page record the same events, once each; a failed sign-in
records the username tried and why, never the password."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.org import DEFAULT_ORG, Org
from moorage.services.audit import COMMAND_LINE
from moorage.services.users import create_api_token, create_user, find_user
from tests.unit.conftest import ADMIN_PASSWORD, BASE_URL, SAME_ORIGIN

CLIENT = "127.0.0.1"  # httpx's ASGI transport's client address


async def events(app, prefix: str = "user.") -> list[tuple[str, str, str, str | None, str | None]]:
    """``(action, username, object_id, source, detail)`` of the events whose action
    starts with ``prefix``, oldest first."""
    async with app.context.sessionmaker() as db:
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return [(r.action, r.username, r.object_id, r.source, r.detail) for r in rows]


def anonymous(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    )


async def test_api_sign_in_and_sign_out_are_audited_once_each(app):
    # The fixture's own admin sign-in is the first event.
    assert await events(app) == [("user.sign_in", "admin", "admin", CLIENT, None)]
    async with anonymous(app) as client:
        answer = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert answer.status_code == 200
        assert (await client.post("/api/v1/auth/logout")).status_code == 204
    assert (await events(app))[1:] == [
        ("user.sign_in", "admin", "admin", CLIENT, None),
        ("user.sign_out", "admin", "admin", CLIENT, None),
    ]


async def test_a_failed_api_sign_in_records_the_username_tried_and_why_not_the_password(app):
    async with anonymous(app) as client:
        wrong = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "secret-guess-1"}
        )
        unknown = await client.post(
            "/api/v1/auth/login", json={"username": "mallory", "password": "secret-guess-2"}
        )
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert (await events(app, "user.sign_in_failed")) == [
        ("user.sign_in_failed", "admin", "admin", CLIENT, "wrong password"),
        ("user.sign_in_failed", "mallory", "mallory", CLIENT, "unknown user"),
    ]
    async with app.context.sessionmaker() as db:
        rows = list(await db.scalars(select(AuditEvent)))
        default_org = await db.scalar(select(Org.id).where(Org.name == DEFAULT_ORG))
    assert not [r for r in rows if "secret-guess" in f"{r.detail} {r.object_id} {r.username}"]
    assert {r.org_id for r in rows} == {default_org}


async def test_a_username_with_a_nul_is_refused_and_recorded_storably(app):
    async with anonymous(app) as client:
        refused = await client.post(
            "/login", data={"username": "ad\x00min", "password": "whatever1", "next": "/"}
        )
    assert refused.status_code == 401
    assert await events(app, "user.sign_in_failed") == [
        ("user.sign_in_failed", "ad\\0min", "ad\\0min", CLIENT, "unknown user")
    ]


async def test_the_login_page_audits_sign_in_failure_and_sign_out_like_the_api(app):
    async with anonymous(app) as client:
        failed = await client.post(
            "/login", data={"username": "admin", "password": "nope-nope", "next": "/"}
        )
        assert failed.status_code == 401
        signed_in = await client.post(
            "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/"}
        )
        assert signed_in.status_code == 303
        assert (await client.post("/logout")).status_code == 303
    assert (await events(app))[1:] == [
        ("user.sign_in_failed", "admin", "admin", CLIENT, "wrong password"),
        ("user.sign_in", "admin", "admin", CLIENT, None),
        ("user.sign_out", "admin", "admin", CLIENT, None),
    ]


async def test_a_disabled_account_is_refused_and_its_attempt_recorded(app, member):
    async with app.context.sessionmaker() as db:
        alice = await find_user(db, "alice")
        alice.is_active = False
        await db.commit()
    async with anonymous(app) as client:
        refused = await client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "alice-password"}
        )
    assert refused.status_code == 401
    assert (await events(app, "user.sign_in_failed")) == [
        ("user.sign_in_failed", "alice", "alice", CLIENT, "account disabled")
    ]


async def test_api_tokens_users_and_sign_in_locks_are_audited(app):
    made = await app.client.post("/api/v1/tokens", json={"name": "ci"})
    assert made.status_code == 201
    prefix = made.json()["token"].split("_")[1]
    created = await app.client.post(
        "/api/v1/users", json={"username": "bob", "password": "bob-password", "role": "member"}
    )
    assert created.status_code == 201
    assert (await app.client.delete("/api/v1/users/bob/sign-in-lock")).status_code == 204
    assert (await app.client.delete("/api/v1/users/nobody/sign-in-lock")).status_code == 404
    token = ("token.create", "admin", prefix, CLIENT, "ci for admin")
    assert await events(app, "token.") == [token]
    assert (await events(app))[1:] == [
        ("user.create", "admin", "bob", CLIENT, "member"),
        ("user.unlock_sign_in", "admin", "bob", CLIENT, None),
    ]


async def test_the_command_line_is_recorded_as_its_own_actor(app):
    async with app.context.sessionmaker() as db:
        admin = await find_user(db, "admin")
        await create_user(
            db,
            org_id=admin.org_id,
            username="carol",
            password="carol-password",
            actor=COMMAND_LINE,
        )
        carol = await find_user(db, "carol")
        await create_api_token(db, carol, name="cli", actor=COMMAND_LINE)
        # The first start creates its admin with no actor: nothing is recorded.
        await create_user(db, org_id=admin.org_id, username="dave", password="dave-password")
        await db.commit()
    assert (await events(app))[1:] == [("user.create", COMMAND_LINE, "carol", None, "member")]
    assert [e[:2] for e in await events(app, "token.")] == [("token.create", COMMAND_LINE)]
