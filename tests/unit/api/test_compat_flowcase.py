"""The Flowcase API (seed 001) on the fake driver: the requests its dashboard
script sends, the answers it reads (``success``, ``droplets``, ``instances``,
``instance_id``, ``error``)."""

from __future__ import annotations

import httpx

from tests.unit.conftest import BASE_URL, App


async def test_droplets_request_list_and_destroy_as_flowcase_does(app: App, member):
    droplets = await member.get("/api/droplets")
    assert droplets.status_code == 200, droplets.text
    body = droplets.json()
    assert body["success"] is True
    (shell,) = [d for d in body["droplets"] if d["name"] == "debian-shell"]
    assert shell["droplet_type"] == "terminal"
    assert shell["container_memory"] == 512 and shell["container_cores"] == 1.0
    assert set(shell) >= {
        "id", "display_name", "description", "image_path", "container_docker_image",
        "container_docker_registry", "server_ip", "server_port",
    }  # fmt: skip

    # Flowcase's dashboard sends the droplet's id (and a resolution); a name works too.
    created = await member.post(
        "/api/instance/request", json={"droplet_id": shell["id"], "resolution": "1280x720"}
    )
    assert created.status_code == 200, created.text
    instance_id = created.json()["instance_id"]
    assert created.json()["success"] is True and created.json()["id"] == instance_id
    assert len(app.driver.containers) == 1

    listed = (await member.get("/api/instances")).json()
    assert listed["success"] is True
    (instance,) = listed["instances"]
    assert instance["id"] == instance_id and instance["status"] == "running"
    assert instance["droplet"]["id"] == shell["id"]
    assert instance["url"] == f"{BASE_URL}/sessions/{instance_id}"

    stats = (await member.get("/api/droplets/stats")).json()
    assert stats["instances"] == 1 and stats["running"] == 1
    assert {d["id"]: d["instances"] for d in stats["per_droplet"]}[shell["id"]] == 1

    # Destroy is a GET in Flowcase: the dashboard's fetch is same-origin.
    destroyed = await member.get(
        f"/api/instance/{instance_id}/destroy", headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert destroyed.json() == {"success": True}
    assert not app.driver.containers
    assert (await member.get("/api/instances")).json()["instances"] == []


async def test_errors_come_back_the_way_flowcase_reads_them(app: App, member):
    unknown = await member.post("/api/instance/request", json={"droplet_id": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["success"] is False and "nope" in unknown.json()["error"]
    missing = await member.post("/api/instance/request", json={})
    assert missing.status_code == 422 and missing.json()["field"] == "droplet_id"
    assert not app.driver.containers

    # Another user's instance is not found, and a destroy link followed from another
    # site does not carry the login cookie's authority.
    created = await app.client.post("/api/instance/request", json={"droplet_id": "debian-shell"})
    theirs = created.json()["instance_id"]
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    not_theirs = await member.get(f"/api/instance/{theirs}/destroy", headers=same_origin)
    assert not_theirs.status_code == 404
    cross_site = await app.client.get(
        f"/api/instance/{theirs}/destroy", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 401 and cross_site.json()["success"] is False
    assert len(app.driver.containers) == 1

    anonymous = httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)
    refused = await anonymous.get("/api/droplets")
    assert refused.status_code == 401 and refused.json()["success"] is False
    await anonymous.aclose()


async def test_stop_and_start_as_flowcase_does(app: App, member):
    created = await member.post("/api/instance/request", json={"droplet_id": "debian-shell"})
    instance_id = created.json()["instance_id"]
    stopped = await member.post(f"/api/instances/{instance_id}/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["success"] is True
    assert stopped.json()["instance"]["status"] == "stopped"
    (instance,) = (await member.get("/api/instances")).json()["instances"]
    assert instance["status"] == "stopped"
    stats = (await member.get("/api/droplets/stats")).json()
    assert stats["stopped"] == 1 and stats["running"] == 0 and stats["instances"] == 1

    again = await member.post(f"/api/instances/{instance_id}/stop")
    assert again.status_code == 409 and again.json()["success"] is False
    assert "only a ready session can be stopped" in again.json()["error"]

    started = await member.post(f"/api/instances/{instance_id}/start")
    assert started.status_code == 200 and started.json()["instance"]["status"] == "running"
    not_theirs = await app.client.post("/api/instance/request", json={"droplet_id": "debian-shell"})
    theirs = not_theirs.json()["instance_id"]
    assert (await member.post(f"/api/instances/{theirs}/stop")).status_code == 404
