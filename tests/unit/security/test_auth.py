"""Authentication: where the credential is read, which tokens are accepted, role guards."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.requests import HTTPConnection

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Forbidden, Unauthenticated
from moorage.models.token import TokenKind
from moorage.models.user import Role, User
from moorage.security.auth import COOKIE_NAME, authenticate_token, credential_of, require
from moorage.services.users import create_token, find_user


def connection(headers: dict[str, str]) -> HTTPConnection:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return HTTPConnection({"type": "http", "headers": raw})


def test_the_bearer_token_wins_over_the_login_cookie():
    both = {"Authorization": "Bearer mrg_token", "Cookie": f"{COOKIE_NAME}=mrg_cookie"}
    assert credential_of(connection(both)) == "mrg_token"
    assert credential_of(connection({"Cookie": f"{COOKIE_NAME}=mrg_cookie"})) == "mrg_cookie"
    assert credential_of(connection({"Authorization": "Basic abc"})) is None
    assert credential_of(connection({"Authorization": "Bearer   "})) is None


async def test_tokens_are_refused_when_malformed_unknown_expired_or_disabled(app):
    now = utcnow()
    async with write_session(app.context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        expiring = await create_token(db, admin, kind=TokenKind.LOGIN, ttl=timedelta(hours=1))
    async with app.context.sessionmaker() as db:
        assert (await authenticate_token(db, expiring, now=now)).username == "admin"
        codes = {}
        for name, token, at in [
            ("malformed", "not-a-token", now),
            ("unknown", expiring[:-4] + "AAAA", now),
            ("expired", expiring, now + timedelta(hours=2)),
        ]:
            with pytest.raises(Unauthenticated) as caught:
                await authenticate_token(db, token, now=at)
            codes[name] = caught.value.code
    assert codes == {"malformed": "bad_token", "unknown": "bad_token", "expired": "token_expired"}
    async with write_session(app.context.sessionmaker) as db:
        (await find_user(db, "admin")).is_active = False
    async with app.context.sessionmaker() as db:
        with pytest.raises(Unauthenticated):
            await authenticate_token(db, expiring, now=now)


async def test_a_bearer_token_is_used_even_with_another_users_cookie(app, member):
    token = (await app.client.post("/api/v1/tokens", json={"name": "script"})).json()["token"]
    me = await member.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "admin"
    assert (await member.get("/api/v1/auth/me")).json()["username"] == "alice"
    anonymous = httpx.AsyncClient(transport=app.client._transport, base_url="http://testserver")
    assert (await anonymous.get("/api/v1/auth/me")).status_code == 401


@pytest.mark.parametrize(
    "role,least,allowed",
    [
        (Role.VIEWER, Role.MEMBER, False),
        (Role.MEMBER, Role.MEMBER, True),
        (Role.MEMBER, Role.OPERATOR, False),
        (Role.INSTRUCTOR, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
async def test_require_lets_that_role_and_higher_ones_through(role, least, allowed):
    user = User(username="u", role=role.value)
    guard = require(least)
    if allowed:
        assert await guard(user) is user
    else:
        with pytest.raises(Forbidden):
            await guard(user)
