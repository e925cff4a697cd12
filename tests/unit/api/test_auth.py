"""Login, logout and token revocation."""

from __future__ import annotations

import asyncio

import httpx

from moorage.security.tokens import hash_token, parse_prefix
from moorage.services.users import revoke_token
from tests.unit.conftest import BASE_URL, SAME_ORIGIN


async def test_logout_needs_the_login_it_ends(app):
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as anonymous:
        assert (await anonymous.post("/api/v1/auth/logout")).status_code == 401
        anonymous.cookies.set("moorage_login", "mrg_0123456789_forged")
        assert (await anonymous.post("/api/v1/auth/logout")).status_code == 401
    assert (await app.client.post("/api/v1/auth/logout")).status_code == 204
    assert (await app.client.get("/api/v1/auth/me")).status_code == 401


async def test_revoking_needs_the_whole_token_not_only_its_prefix(app):
    token = (await app.client.post("/api/v1/tokens", json={"name": "ci"})).json()["token"]
    prefix = parse_prefix(token)
    forged = f"mrg_{prefix}_{'A' * 43}"
    assert hash_token(forged) != hash_token(token)
    async with app.context.sessionmaker() as db:
        assert await revoke_token(db, forged) is False
        await db.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app.client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    async with app.context.sessionmaker() as db:
        assert await revoke_token(db, token) is True
        await db.commit()
    assert (await app.client.get("/api/v1/auth/me", headers=bearer)).status_code == 401


async def test_concurrent_wrong_sign_ins_are_401_or_429_never_500(app):
    throttle = app.client._transport.app.state.sign_in_throttle

    async def no_wait(seconds: float) -> None:
        return None

    throttle.sleep = no_wait
    bad = {"username": "admin", "password": "wrong-password"}
    answers = await asyncio.gather(
        *(app.client.post("/api/v1/auth/login", json=bad) for _ in range(30))
    )
    statuses = sorted({a.status_code for a in answers})
    assert statuses == [401, 429]
