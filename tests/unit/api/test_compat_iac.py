"""The Projet-IAC API (seed 002) on the fake connector: the requests of its README
(register, list, available, reserve, reservations, release_all, delete) get the
answers it describes; its short example password gets a 422 naming the rule."""

from __future__ import annotations

import httpx

from tests.unit.conftest import BASE_URL, App

# Projet-IAC's README: curl -X POST -d '{"name":"alpine-1",...}' https://localhost/machines
ALPINE = '{"name":"alpine-1","host":"localhost","port":2221,"user":"root","password":"test"}'
JSON = {"Content-Type": "application/json"}
SAME_ORIGIN_PAGE = {"Sec-Fetch-Site": "same-origin"}


async def register(app: App, name: str, port: int) -> httpx.Response:
    body = ALPINE.replace("alpine-1", name).replace("2221", str(port))
    return await app.client.post("/machines", content=body, headers=JSON)


async def test_machines_are_registered_listed_and_counted_as_projet_iac_does(app: App):
    assert (await app.client.get("/healthz")).json() == {"status": "ok"}
    created = await app.client.post("/machines", content=ALPINE, headers=JSON)
    assert created.status_code == 201, created.text
    machine = created.json()
    assert machine["name"] == "alpine-1" and machine["host"] == "localhost"
    assert machine["port"] == 2221 and machine["status"] == "online"
    assert machine["pool"] == "default" and "password" not in machine
    assert (await register(app, "alpine-2", 2222)).status_code == 201

    listed = await app.client.get("/machines")
    assert listed.status_code == 200
    assert [m["name"] for m in listed.json()] == ["alpine-1", "alpine-2"]
    available = (await app.client.get("/available")).json()
    assert available["pool"] == "default"
    assert (available["total"], available["available"], available["reserved"]) == (2, 2, 0)

    taken = await app.client.post("/machines", content=ALPINE, headers=JSON)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "machine_exists"
    deleted = await app.client.delete("/machines/alpine-2")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "alpine-2"}
    missing = await app.client.delete("/machines/alpine-2")
    assert missing.status_code == 404


async def test_a_browser_asking_for_html_still_gets_the_machines_page(app: App):
    page = await app.client.get("/machines", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


async def test_reserve_lists_time_remaining_and_release_all_frees_the_pool(app: App, member):
    for index in (1, 2, 3):
        assert (await register(app, f"alpine-{index}", 2220 + index)).status_code == 201

    reserved = await member.get(
        "/reserve?username=alice&password=alice-secret&count=2&duration=60",
        headers=SAME_ORIGIN_PAGE,
    )
    assert reserved.status_code == 201, reserved.text
    body = reserved.json()
    assert body["username"] == "alice" and body["password"] == "alice-secret"
    assert body["duration"] == 60 and body["count"] == 2
    assert [m["name"] for m in body["machines"]] == ["alpine-1", "alpine-2"]
    assert body["machines"][0]["ssh"] == "ssh -p 2221 alice@localhost"
    assert app.connector.accounts["alpine-1"] == {"alice"}
    assert (await member.get("/available")).json()["reserved"] == 2

    (mine,) = (await member.get("/reservations")).json()
    assert mine["id"] == body["id"] and mine["password"] == "alice-secret"
    assert 59 * 60 < mine["remaining_seconds"] <= 3600 and mine["remaining_minutes"] in (59, 60)
    (seen,) = (await app.client.get("/reservations")).json()  # an admin sees everyone's
    assert seen["owner"] == "alice" and "password" not in seen

    # Projet-IAC's own example asks for password=test: Moorage's rule is named.
    short = await member.get(
        "/reserve?username=bob&password=test&count=1&duration=60", headers=SAME_ORIGIN_PAGE
    )
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "password"
    assert "8-128 characters" in short.json()["error"]["message"]
    too_many = await member.get(
        "/reserve?username=carol&password=carol-secret&count=2", headers=SAME_ORIGIN_PAGE
    )
    assert too_many.status_code == 409
    assert too_many.json()["error"]["code"] == "not_enough_machines"

    in_use = await app.client.delete("/machines/alpine-1")
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "machine_in_use"
    assert (await member.get("/release_all", headers=SAME_ORIGIN_PAGE)).status_code == 403
    released = await app.client.get("/release_all", headers=SAME_ORIGIN_PAGE)
    assert released.status_code == 200 and released.json() == {"released": 1}
    assert app.connector.accounts["alpine-1"] == set()
    assert (await member.get("/reservations")).json() == []
    assert (await member.get("/available")).json()["available"] == 3


async def test_bad_reserve_parameters_are_422_naming_the_parameter(app: App, member):
    missing = await member.get("/reserve?username=alice", headers=SAME_ORIGIN_PAGE)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "password"
    word = await member.get(
        "/reserve?username=alice&password=alice-secret&count=two", headers=SAME_ORIGIN_PAGE
    )
    assert word.status_code == 422 and word.json()["error"]["field"] == "count"
    zero = await member.get(
        "/reserve?username=alice&password=alice-secret&count=0", headers=SAME_ORIGIN_PAGE
    )
    assert zero.status_code == 422 and zero.json()["error"]["field"] == "count"


async def test_a_reserve_link_from_another_site_does_not_carry_the_login_cookie(app: App, member):
    await register(app, "alpine-1", 2221)
    cross = await member.get(
        "/reserve?username=alice&password=alice-secret", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 401
    assert app.connector.accounts.get("alpine-1", set()) == set()
    anonymous = httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)
    assert (await anonymous.get("/available")).status_code == 401
    assert (await anonymous.get("/healthz")).status_code == 200
    await anonymous.aclose()


async def test_the_pool_is_the_setting_when_set(app: App):
    app.context.settings.compat_iac_pool = "lab"
    created = await app.client.post("/machines", content=ALPINE, headers=JSON)
    assert created.json()["pool"] == "lab"
    assert (await app.client.get("/available")).json()["pool"] == "lab"
    app.context.settings.compat_iac_pool = None
    # With no "default" pool, the org's first pool is Projet-IAC's.
    assert (await app.client.get("/available")).json()["pool"] == "lab"
