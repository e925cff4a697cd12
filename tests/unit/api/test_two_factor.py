"""Two-factor sign-in through the API and the pages: set-up, the login step, the
throttle counting wrong codes, the org's per-role requirement, an admin's reset."""

from __future__ import annotations

import asyncio

import httpx
import pyotp
import pytest

from moorage.security.throttle import SignInPolicy, SignInThrottle
from moorage.services import two_factor
from tests.unit.conftest import ADMIN_PASSWORD, BASE_URL, SAME_ORIGIN

T0 = 1_900_000_020.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(two_factor, "clock", fake)
    return fake


async def _enable(client, clock: Clock) -> tuple[pyotp.TOTP, list[str]]:
    setup = await client.post("/api/v1/account/two-factor")
    assert setup.status_code == 200, setup.text
    body = setup.json()
    assert body["qr_svg"].startswith("<svg") and body["otpauth_uri"].startswith("otpauth://")
    totp = pyotp.TOTP(body["secret"])
    confirmed = await client.post(
        "/api/v1/account/two-factor/confirm", json={"code": totp.at(clock.now)}
    )
    assert confirmed.status_code == 200, confirmed.text
    return totp, confirmed.json()["recovery_codes"]


async def _login(app, username: str, password: str, code: str | None = None):
    """A sign-in from a client of its own (the admin's cookie stays as it is)."""
    body = {"username": username, "password": password}
    if code is not None:
        body["code"] = code
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as client:
        return await client.post("/api/v1/auth/login", json=body)


async def test_sign_in_needs_the_code_after_a_right_password(app, clock):
    totp, codes = await _enable(app.client, clock)
    me = (await app.client.get("/api/v1/auth/me")).json()
    assert me["two_factor"] == {"enabled": True, "recovery_codes_left": 10, "required": False}

    wrong_password = await _login(app, "admin", "not-it")
    assert wrong_password.json()["error"]["code"] == "bad_credentials"
    wrong_password_right_code = await _login(app, "admin", "not-it", totp.at(clock.now + 30))
    assert wrong_password_right_code.json()["error"]["code"] == "bad_credentials"
    no_code = await _login(app, "admin", ADMIN_PASSWORD)
    assert (no_code.status_code, no_code.json()["error"]["code"]) == (
        401,
        "second_factor_required",
    )
    wrong = await _login(app, "admin", ADMIN_PASSWORD, "000000")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "second_factor_invalid")
    replayed = await _login(app, "admin", ADMIN_PASSWORD, totp.at(clock.now))
    assert replayed.json()["error"]["code"] == "second_factor_invalid"

    clock.now += 30
    good = await _login(app, "admin", ADMIN_PASSWORD, totp.at(clock.now))
    assert good.status_code == 200, good.text
    recovery = await _login(app, "admin", ADMIN_PASSWORD, codes[3])
    assert recovery.status_code == 200
    again = await _login(app, "admin", ADMIN_PASSWORD, codes[3])
    assert again.json()["error"]["code"] == "second_factor_invalid"
    me = (await app.client.get("/api/v1/auth/me")).json()
    assert me["two_factor"]["recovery_codes_left"] == 9


async def test_wrong_codes_stay_counted_by_the_throttle_then_429(app, clock):
    await _enable(app.client, clock)

    async def no_wait(seconds: float) -> None:
        return None

    app.client._transport.app.state.sign_in_throttle = SignInThrottle(
        account=SignInPolicy(free_attempts=2, lock_after=4, window_minutes=15),
        sleep=no_wait,
    )
    statuses = [
        (await _login(app, "admin", ADMIN_PASSWORD, "000000")).status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]


async def test_regenerate_and_disable_need_a_code_and_the_password(app, clock):
    totp, old = await _enable(app.client, clock)
    clock.now += 30
    wrong = await app.client.post("/api/v1/account/two-factor/recovery-codes", json={"code": "1"})
    assert (wrong.status_code, wrong.json()["error"]["field"]) == (422, "code")
    new = await app.client.post(
        "/api/v1/account/two-factor/recovery-codes", json={"code": totp.at(clock.now)}
    )
    assert new.status_code == 200 and set(new.json()["recovery_codes"]).isdisjoint(old)

    bad = await app.client.request(
        "DELETE", "/api/v1/account/two-factor", json={"password": "nope", "code": old[0]}
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "password")
    code = new.json()["recovery_codes"][0]
    off = await app.client.request(
        "DELETE", "/api/v1/account/two-factor", json={"password": ADMIN_PASSWORD, "code": code}
    )
    assert off.status_code == 204
    assert (await _login(app, "admin", ADMIN_PASSWORD)).status_code == 200


async def test_an_admin_resets_a_users_second_factor(app, member, clock):
    await _enable(member, clock)
    users = (await app.client.get("/api/v1/users")).json()
    alice = next(u for u in users if u["username"] == "alice")
    refused = await member.delete(f"/api/v1/users/{alice['id']}/two-factor")
    assert refused.status_code == 403
    reset = await app.client.delete(f"/api/v1/users/{alice['id']}/two-factor")
    assert reset.status_code == 204
    assert (await _login(app, "alice", "alice-password")).status_code == 200
    audit = (await app.client.get("/api/v1/audit", params={"action": "two_factor.reset"})).json()
    assert "two_factor.reset" in str(audit)
    missing = await app.client.delete("/api/v1/users/nobody/two-factor")
    assert missing.status_code == 404


async def test_a_required_role_without_a_second_factor_gets_only_the_set_up(app, clock):
    made = await app.client.post(
        "/api/v1/users", json={"username": "olga", "password": "olga-password", "role": "operator"}
    )
    assert made.status_code == 201
    olga = await app.login("olga", "olga-password")
    token = (await olga.post("/api/v1/tokens", json={"name": "before"})).json()["token"]

    bad = await app.client.patch("/api/v1/orgs/default", json={"two_factor_required_roles": ["x"]})
    assert (bad.status_code, bad.json()["error"]["field"]) == (
        422,
        "two_factor_required_roles.0",
    )
    patched = await app.client.patch(
        "/api/v1/orgs/default", json={"two_factor_required_roles": ["operator"]}
    )
    assert patched.json()["two_factor_required_roles"] == ["operator"]

    refused = await olga.get("/api/v1/machines")
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        403,
        "second_factor_setup_required",
    )
    page = await olga.get("/")
    assert (page.status_code, page.headers["location"]) == (303, "/account#two-factor")
    assert (await olga.get("/account")).status_code == 200
    me = (await olga.get("/api/v1/auth/me")).json()
    assert me["two_factor"] == {"enabled": False, "recovery_codes_left": 0, "required": True}
    # A token made before the rule keeps working (README, "Two-factor sign-in").
    scripted = await app.client.get(
        "/api/v1/machines", headers={"Authorization": f"Bearer {token}"}
    )
    assert scripted.status_code == 200

    await _enable(olga, clock)
    assert (await olga.get("/api/v1/machines")).status_code == 200
    kept = await olga.request(
        "DELETE", "/api/v1/account/two-factor", json={"password": "olga-password", "code": "x"}
    )
    assert (kept.status_code, kept.json()["error"]["code"]) == (403, "two_factor_required")


async def test_the_login_page_asks_for_the_code_after_the_password(app, clock):
    totp, _ = await _enable(app.client, clock)
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as browser:
        form = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/"}
        asked = await browser.post("/login", data=form)
        assert asked.status_code == 401 and 'name="code"' in asked.text
        assert asked.headers["cache-control"] == "no-store"
        wrong = await browser.post("/login", data={**form, "code": "000000"})
        assert wrong.status_code == 401 and "the code is not right" in wrong.text
        clock.now += 30
        done = await browser.post("/login", data={**form, "code": totp.at(clock.now)})
        assert (done.status_code == 303 and "moorage_login" in str(done.cookies)) or done.cookies


async def test_one_code_sent_twice_at_once_signs_in_once(app, clock):
    totp, _ = await _enable(app.client, clock)
    clock.now += 30
    code = totp.at(clock.now)
    first, second = await asyncio.gather(
        _login(app, "admin", ADMIN_PASSWORD, code), _login(app, "admin", ADMIN_PASSWORD, code)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 401]
