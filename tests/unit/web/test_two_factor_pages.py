"""The two-factor forms of the account and users pages (htmx fragments)."""

from __future__ import annotations

import pyotp

from moorage.services import two_factor


async def test_the_account_card_sets_up_confirms_and_shows_codes_once(app, monkeypatch):
    monkeypatch.setattr(two_factor, "clock", lambda: 1_900_000_020.0)
    page = await app.client.get("/account")
    assert "Set up two-factor sign-in" in page.text
    setup = await app.client.post("/account/two-factor")
    assert setup.status_code == 200 and "<svg" in setup.text
    secret = setup.text.split('id="two-factor-secret" data-two-factor-secret>')[1].split("<")[0]
    wrong = await app.client.post("/account/two-factor/confirm", data={"code": "000000"})
    assert wrong.status_code == 422 and "the code is not right" in wrong.text
    code = pyotp.TOTP(secret).at(1_900_000_020.0)
    done = await app.client.post("/account/two-factor/confirm", data={"code": code})
    assert done.status_code == 200 and done.text.count("user-select-all") == 10
    again = await app.client.get("/account")
    assert "10</span> recovery codes left" in again.text and "data-recovery-codes" not in again.text


async def test_an_admin_sets_the_required_roles_and_resets_a_user(app, member):
    saved = await app.client.post(
        "/admin/two-factor-policy", data={"roles": ["operator"]}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 204, saved.text
    page = await app.client.get("/admin/users")
    assert 'value="operator" checked' in page.text and 'value="member" checked' not in page.text
    bad = await app.client.post("/admin/two-factor-policy", data={"roles": ["root"]})
    assert bad.status_code == 422
    refused = await member.post("/admin/two-factor-policy", data={"roles": []})
    assert refused.status_code == 403
    users = (await app.client.get("/api/v1/users")).json()
    alice = next(u for u in users if u["username"] == "alice")
    reset = await app.client.post(f"/admin/users/{alice['id']}/reset-two-factor")
    assert reset.status_code == 204
    assert (await member.post(f"/admin/users/{alice['id']}/reset-two-factor")).status_code == 403


async def test_requiring_it_of_admins_sends_the_admin_to_the_set_up(app):
    saved = await app.client.post("/admin/two-factor-policy", data={"roles": ["admin"]})
    assert saved.status_code == 303
    page = await app.client.get("/admin/users")
    assert (page.status_code, page.headers["location"]) == (303, "/account#two-factor")
    htmx = await app.client.get("/admin/users", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/account#two-factor"
    account = await app.client.get("/account")
    assert "requires two-factor sign-in for your role" in account.text
    assert "API tokens" not in account.text  # nothing but the set-up until it is on
