"""Placement over several environments (issue 15), with the fake driver: spread
and pack, cordoning, template labels, the clear 503 when nothing has room, and
launches racing for the last room."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.unit.conftest import App

TEMPLATE = {
    "name": "one-core",
    "display_name": "One core",
    "kind": "terminal",
    "image": "shell:1",
    "cpu_limit": 1.0,
    "memory_limit_mb": 1024,
    "max_sessions_per_user": 100,
}
ROOM = {"cpu_cores": 4, "memory_mb": 4096}  # four sessions of TEMPLATE each


@pytest.fixture
async def three(app: App) -> list[str]:
    """Three environments with room for four sessions of TEMPLATE each."""
    app.driver.images.add("shell:1")
    assert (await app.client.post("/api/v1/templates", json=TEMPLATE)).status_code == 201
    local = (await app.client.get("/api/v1/environments")).json()[0]["name"]
    names = [local]
    for name in ("lab-b", "lab-c"):
        added = await app.client.post(
            "/api/v1/environments", json={"name": name, "url": "unix:///var/run/docker.sock"}
        )
        assert added.status_code == 201, added.text
        names.append(name)
    for name in names:
        patched = await app.client.patch(f"/api/v1/environments/{name}", json={"capacity": ROOM})
        assert patched.status_code == 200, patched.text
    return names


async def launch(client: httpx.AsyncClient, template: str = "one-core") -> httpx.Response:
    return await client.post("/api/v1/sessions", json={"template": template})


async def test_spread_places_evenly_then_answers_a_clear_503(app: App, three):
    placed = Counter()
    for _ in range(12):
        response = await launch(app.client)
        assert response.status_code == 201, response.text
        placed[response.json()["environment"]] += 1
    assert placed == {name: 4 for name in three}

    full = await launch(app.client)
    assert full.status_code == 503
    error = full.json()["error"]
    assert error["code"] == "no_room"
    assert error["message"] == "no environment has 1024 MB of memory free for template one-core"

    environment = (await app.client.get(f"/api/v1/environments/{three[1]}")).json()
    assert environment["capacity"] == {"cpu_cores": 4.0, "memory_mb": 4096}
    assert environment["used"] == {"cpu_cores": 4.0, "memory_mb": 4096, "sessions": 4}
    assert environment["state"] == "active" and environment["labels"] == {}


async def test_a_cordoned_environment_gets_no_new_sessions(app: App, three):
    cordoned = await app.client.patch(
        f"/api/v1/environments/{three[0]}", json={"state": "cordoned"}
    )
    assert cordoned.status_code == 200 and cordoned.json()["state"] == "cordoned"
    placed = Counter()
    for _ in range(8):
        response = await launch(app.client)
        assert response.status_code == 201, response.text
        placed[response.json()["environment"]] += 1
    assert placed == {three[1]: 4, three[2]: 4}
    assert (await launch(app.client)).status_code == 503
    audit = await app.client.get("/api/v1/audit", params={"action": "environment.update"})
    assert any(event["detail"] == "state cordoned" for event in audit.json())


async def test_pack_fills_one_environment_before_the_next(app: App, three):
    assert (
        await app.client.patch("/api/v1/orgs/default", json={"placement_policy": "pack"})
    ).json()["placement_policy"] == "pack"
    first = [(await launch(app.client)).json()["environment"] for _ in range(5)]
    assert len(set(first[:4])) == 1 and first[4] != first[0]


async def test_templates_run_only_where_their_labels_are(app: App, three):
    labelled = await app.client.patch(
        f"/api/v1/environments/{three[2]}", json={"labels": {"site": "lab-2", "gpu": "true"}}
    )
    assert labelled.json()["labels"] == {"site": "lab-2", "gpu": "true"}
    assert (
        await app.client.patch(
            "/api/v1/templates/one-core", json={"environment_labels": {"site": "lab-2"}}
        )
    ).json()["environment_labels"] == {"site": "lab-2"}
    for _ in range(4):
        assert (await launch(app.client)).json()["environment"] == three[2]
    full = await launch(app.client)
    assert full.status_code == 503
    assert "labelled site=lab-2 has 1024 MB of memory free" in full.json()["error"]["message"]

    await app.client.patch("/api/v1/templates/one-core", json={"environment_labels": {"site": "x"}})
    nowhere = await launch(app.client)
    assert nowhere.status_code == 503 and nowhere.json()["error"]["code"] == "no_environment"
    assert "labelled site=x" in nowhere.json()["error"]["message"]


async def test_bad_placement_input_names_the_field(app: App, three):
    bad_label = await app.client.patch(
        f"/api/v1/environments/{three[0]}", json={"labels": {"site": "lab 2"}}
    )
    assert bad_label.status_code == 422 and bad_label.json()["error"]["field"] == "labels"
    bad_state = await app.client.patch(f"/api/v1/environments/{three[0]}", json={"state": "off"})
    assert bad_state.status_code == 422 and bad_state.json()["error"]["field"] == "state"
    bad_room = await app.client.patch(
        f"/api/v1/environments/{three[0]}", json={"capacity": {"cpu_cores": -1}}
    )
    assert bad_room.status_code == 422
    bad_policy = await app.client.patch("/api/v1/orgs/default", json={"placement_policy": "x"})
    assert (
        bad_policy.status_code == 422 and bad_policy.json()["error"]["field"] == "placement_policy"
    )


async def test_launches_racing_for_the_last_room_never_both_get_it(app: App, three):
    for name in three[1:]:
        await app.client.patch(f"/api/v1/environments/{name}", json={"state": "draining"})
    answers = await asyncio.gather(*(launch(app.client) for _ in range(10)))
    codes = Counter(response.status_code for response in answers)
    assert codes == {201: 4, 503: 6}, [r.text for r in answers if r.status_code not in (201, 503)]
    used = (await app.client.get(f"/api/v1/environments/{three[0]}")).json()["used"]
    assert used["sessions"] == 4 and len(app.driver.containers) == 4


async def test_the_environments_page_shows_room_state_and_labels(app: App, three):
    await app.client.patch(
        f"/api/v1/environments/{three[1]}", json={"state": "draining", "labels": {"site": "b"}}
    )
    for _ in range(2):
        assert (await launch(app.client)).status_code == 201
    page = await app.client.get("/environments")
    assert page.status_code == 200
    row = page.text.split(f'data-environment="{three[1]}"')[1].split("</tr>")[0]
    assert "draining" in row and "site=b" in row
    others = page.text.split(f'data-environment="{three[0]}"')[1].split("</tr>")[0]
    assert "CPU 1 / 4 · memory 1024 / 4096 MB" in others and "1 live session" in others


async def test_sessions_go_only_where_the_gateway_reaches_them(app: App, three):
    # An engine on another host serves Docker management; its workspaces' ports would
    # be published there, out of the gateway's reach.
    remote = await app.client.post(
        "/api/v1/environments", json={"name": "far", "url": "tcp://192.0.2.10:2376"}
    )
    assert remote.status_code == 201, remote.text
    for name in three:
        await app.client.patch(f"/api/v1/environments/{name}", json={"state": "cordoned"})
    refused = await launch(app.client)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_environment"
    loopback = await app.client.post(
        "/api/v1/environments", json={"name": "near", "url": "tcp://127.0.0.1:2375"}
    )
    assert loopback.status_code == 201
    assert (await launch(app.client)).json()["environment"] == "near"


async def test_warm_workspaces_hold_room_and_are_claimed_when_it_is_full(app: App, three):
    from tests.unit.services.test_warm_pools import keeper, set_warm

    for name in three[1:]:
        await app.client.patch(f"/api/v1/environments/{name}", json={"state": "cordoned"})
    await set_warm(app, "one-core", 4)
    await keeper(app).run()
    used = (await app.client.get(f"/api/v1/environments/{three[0]}")).json()["used"]
    assert used == {"cpu_cores": 4.0, "memory_mb": 4096, "sessions": 0}  # all warm
    claimed = [await launch(app.client) for _ in range(4)]
    assert [r.status_code for r in claimed] == [201] * 4, [r.text for r in claimed]
    await set_warm(app, "one-core", 0)
    await keeper(app).run()
    assert (await launch(app.client)).status_code == 503  # four live sessions fill it


async def test_two_environments_on_one_engine_leave_each_others_sessions_alone(app: App, three):
    # The three environments share one (fake) engine, as a socket and TCP on loopback
    # reach the same dockerd: each sees the others' containers.
    launched = [(await launch(app.client)).json() for _ in range(3)]
    assert {s["environment"] for s in launched} == set(three)
    await app.context.reconciler.reconcile_once()
    for session in launched:
        now = (await app.client.get(f"/api/v1/sessions/{session['id']}")).json()
        assert now["state"] == "ready", now
    assert len(app.driver.containers) == 3
