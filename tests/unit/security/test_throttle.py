"""Sign-in throttling: free attempts, growing delays, then 429 with Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from moorage.errors import TooManyAttempts
from moorage.security.throttle import SignInPolicy, SignInThrottle


def throttle(waits: list[float]) -> SignInThrottle:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return SignInThrottle(
        account=SignInPolicy(free_attempts=2, lock_after=5, window_minutes=15),
        address=SignInPolicy(free_attempts=100, lock_after=200, window_minutes=15),
        sleep=sleep,
    )


async def test_free_attempts_then_doubling_delays_then_locked():
    waits: list[float] = []
    guard = throttle(waits)
    for _ in range(5):
        await guard.admit("bob", "10.0.0.1")
    assert waits == [1.0, 2.0, 4.0]
    with pytest.raises(TooManyAttempts) as locked:
        await guard.admit("bob", "10.0.0.2")
    assert 1 <= locked.value.retry_after_seconds <= 15 * 60
    await guard.admit("carol", "10.0.0.1")  # another account is not locked


async def test_success_resets_and_admin_unlock_lifts_the_lock():
    guard = throttle([])
    async with guard.attempt("bob", "a"):
        pass
    for _ in range(5):
        with pytest.raises(ValueError):
            async with guard.attempt("bob", "a"):
                raise ValueError("wrong password")
    with pytest.raises(TooManyAttempts):
        await guard.admit("bob", "a")
    await guard.unlock("bob")
    async with guard.attempt("bob", "b"):
        pass
    await guard.admit("bob", "b")  # counting starts again


async def test_concurrent_attempts_cannot_all_slip_in():
    guard = throttle([])
    results = await asyncio.gather(
        *(guard.admit("bob", "a") for _ in range(50)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 5
    assert all(isinstance(r, TooManyAttempts) for r in results if r is not None)


async def test_api_sign_in_is_429_with_retry_after_then_unlocked_by_an_admin(app):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app.client._transport.app.state.sign_in_throttle.sleep = sleep
    bad = {"username": "admin", "password": "wrong-password"}
    statuses = [
        (await app.client.post("/api/v1/auth/login", json=bad)).status_code for _ in range(10)
    ]
    assert statuses == [401] * 10
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    locked = await app.client.post("/api/v1/auth/login", json=bad)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) >= 1
    unlock = await app.client.delete("/api/v1/users/admin/sign-in-lock")
    assert unlock.status_code == 204
    assert (await app.client.post("/api/v1/auth/login", json=bad)).status_code == 401


async def test_members_cannot_unlock(app, member):
    assert (await member.delete("/api/v1/users/admin/sign-in-lock")).status_code == 403


async def test_enrolment_token_guessing_is_throttled_per_address(app):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app.client._transport.app.state.sign_in_throttle.sleep = sleep
    guess = {"token": "moorage_enrol_not-a-real-token", "hostname": "probe"}
    statuses = [
        (await app.client.post("/api/v1/agents/enroll", json=guess)).status_code for _ in range(10)
    ]
    assert statuses == [401] * 10
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    locked = await app.client.post("/api/v1/agents/enroll", json=guess)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
