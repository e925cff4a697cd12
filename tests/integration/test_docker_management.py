"""Docker management against the real engine: environments, containers, logs, audit."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import websockets

from tests.integration.terminal_client import TerminalClient, terminal
from tests.live_server import free_port

LABEL = {"moorage.test": "docker"}


async def test_container_lifecycle_logs_and_audit(admin):
    name = f"mgmt-{uuid.uuid4().hex[:8]}"
    created = await admin.post(
        "/api/v1/environments/local/containers",
        json={
            "image": "moorage/terminal:latest",
            "name": name,
            "labels": LABEL,
            "command": [
                "bash",
                "-c",
                "for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; sleep infinity",
            ],
            "ports": [{"container_port": 8000}],
            "memory_limit_mb": 64,
        },
    )
    assert created.status_code == 201, created.text
    try:
        listed = (
            await admin.get(
                "/api/v1/environments/local/containers", params={"label": "moorage.test=docker"}
            )
        ).json()
        (row,) = [c for c in listed if c["name"] == name]
        assert row["state"] == "running"
        assert row["ports"][0]["ip"] == "127.0.0.1"  # bound to loopback by default

        for _ in range(50):
            logs = await admin.get(f"/api/v1/environments/local/containers/{name}/logs")
            if "err-3" in logs.text:
                break
            await asyncio.sleep(0.1)
        assert "stdout out-1\n" in logs.text and "stderr err-3\n" in logs.text

        # Live follow over SSE: the lines come with their stream as the event name.
        events: list[tuple[str, str]] = []
        async with admin.stream(
            "GET",
            f"/api/v1/environments/local/containers/{name}/logs",
            params={"follow": "true", "tail": "all"},
        ) as response:
            event = None
            async for line in response.aiter_lines():
                print("LINE", repr(line))
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    events.append((event or "", line.split(":", 1)[1].strip()))
                if len(events) >= 6:
                    break
        assert ("stdout", "out-1") in events and ("stderr", "err-2") in events

        token = (await admin.post("/api/v1/tokens", json={"name": "exec"})).json()["token"]
        ws_url = str(admin.base_url).replace("http", "ws", 1)
        async with terminal(
            f"{ws_url}/api/v1/environments/local/containers/{name}/exec"
            "?shell=/bin/bash&user=root&cols=70&rows=20",
            token=token,
        ) as ws:
            term = TerminalClient(ws)
            await term.send("echo uid=$(id -u); stty size\n")
            await term.expect("uid=0")
            await term.expect("20 70")
        async with terminal(
            f"{ws_url}/api/v1/environments/local/containers/{name}/exec?shell=/usr/bin/python3",
            token=token,
        ) as ws:
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await ws.recv()
        assert refused.value.rcvd.code == 4422

        stats = (await admin.get(f"/api/v1/environments/local/containers/{name}/stats")).json()
        assert 0 < stats["memory_bytes"] <= stats["memory_limit_bytes"] == 64 * 1024 * 1024

        renamed = await admin.post(
            f"/api/v1/environments/local/containers/{name}/rename", params={"name": f"{name}-r"}
        )
        assert renamed.status_code == 204, renamed.text
        assert (
            await admin.post(
                f"/api/v1/environments/local/containers/{name}-r/rename", params={"name": name}
            )
        ).status_code == 204

        for action, state in (
            ("pause", "paused"),
            ("unpause", "running"),
            ("stop", "exited"),
            ("start", "running"),
        ):
            done = await admin.post(f"/api/v1/environments/local/containers/{name}/{action}")
            assert done.status_code == 204, done.text
            info = (await admin.get(f"/api/v1/environments/local/containers/{name}")).json()
            assert info["State"]["Status"] == state
        bad = await admin.post(f"/api/v1/environments/local/containers/{name}/explode")
        assert bad.status_code == 422
        missing = await admin.post("/api/v1/environments/local/containers/no-such-box/stop")
        assert missing.status_code == 404
    finally:
        removed = await admin.delete(
            f"/api/v1/environments/local/containers/{name}", params={"volumes": "true"}
        )
        assert removed.status_code == 204
    audit = (await admin.get("/api/v1/audit", params={"action": "container."})).json()
    actions = [e["action"] for e in audit if e["object_id"] == name]
    assert {"container.create", "container.stop", "container.remove"} <= set(actions)
    assert all(e["environment"] == "local" and e["source"] for e in audit if e["object_id"] == name)


async def test_an_unreachable_environment_is_listed_without_slowing_the_local_one(admin):
    port = free_port()  # nothing listens there
    added = await admin.post(
        "/api/v1/environments", json={"name": f"gone-{port}", "url": f"tcp://127.0.0.1:{port}"}
    )
    assert added.status_code == 201, added.text
    assert added.json()["status"] == "unreachable" and added.json()["last_error"]
    try:
        started = time.perf_counter()
        local = await admin.get("/api/v1/environments/local/containers")
        assert local.status_code == 200
        assert time.perf_counter() - started < 2
        listed = {e["name"]: e for e in (await admin.get("/api/v1/environments")).json()}
        assert listed["local"]["status"] == "reachable" and listed["local"]["engine_version"]
        gone = await admin.get(f"/api/v1/environments/gone-{port}/containers")
        assert gone.status_code == 503
        bad_url = await admin.post(
            "/api/v1/environments", json={"name": "bad", "url": "http://x:1"}
        )
        assert bad_url.status_code == 422 and bad_url.json()["error"]["field"] == "url"
    finally:
        await admin.delete(f"/api/v1/environments/gone-{port}")


async def test_volumes_and_networks_round_trip(admin):
    volume = f"mgmt-vol-{uuid.uuid4().hex[:6]}"
    network = f"mgmt-net-{uuid.uuid4().hex[:6]}"
    assert (
        await admin.post("/api/v1/environments/local/volumes", params={"name": volume})
    ).status_code == 201
    assert volume in [
        v["name"] for v in (await admin.get("/api/v1/environments/local/volumes")).json()
    ]
    assert (await admin.delete(f"/api/v1/environments/local/volumes/{volume}")).status_code == 204
    base = "/api/v1/environments/local/networks"
    created = await admin.post(base, json={"name": network, "labels": LABEL})
    assert created.status_code == 201, created.text
    assert (await admin.post(base, json={"name": network})).status_code == 409
    assert (await admin.post(base, json={"name": "../bad name"})).status_code == 422
    assert network in [n["name"] for n in (await admin.get(base)).json()]
    container = f"mgmt-netc-{uuid.uuid4().hex[:6]}"
    assert (
        await admin.post(
            "/api/v1/environments/local/containers",
            json={
                "image": "moorage/terminal:latest",
                "name": container,
                "labels": LABEL,
                "command": ["sleep", "infinity"],
            },
        )
    ).status_code == 201
    try:
        connected = await admin.post(
            f"{base}/{network}/connect", json={"container": container, "aliases": ["db"]}
        )
        assert connected.status_code == 204, connected.text
        inspected = (await admin.get(f"{base}/{network}")).json()
        assert [a["name"] for a in inspected["attached"]] == [container]
        assert inspected["subnets"] and inspected["subnets"][0]["subnet"]
        # While a container is attached the network cannot be removed.
        assert (await admin.delete(f"{base}/{network}")).status_code == 409
        assert (
            await admin.post(f"{base}/{network}/disconnect", json={"container": container})
        ).status_code == 204
        assert (await admin.get(f"{base}/{network}")).json()["attached"] == []
        assert (
            await admin.post(f"{base}/{network}/bogus", json={"container": container})
        ).status_code == 404
    finally:
        await admin.delete(f"/api/v1/environments/local/containers/{container}")
    assert (await admin.delete(f"{base}/{network}")).status_code == 204
    assert (await admin.get(f"{base}/{network}")).status_code == 404
    actions = [e["action"] for e in (await admin.get("/api/v1/audit")).json()]
    assert {"network.create", "network.connect", "network.disconnect", "network.remove"} <= set(
        actions
    )
    images = (await admin.get("/api/v1/environments/local/images")).json()
    assert any("moorage/terminal:latest" in i["tags"] for i in images)
    inspected = (
        await admin.get("/api/v1/environments/local/images/moorage/terminal:latest")
    ).json()
    assert "moorage/terminal:latest" in inspected["RepoTags"] and inspected["history"]
    missing = await admin.get("/api/v1/environments/local/images/moorage/none:latest")
    assert missing.status_code == 404


async def test_members_cannot_reach_docker_management(server, admin):
    await admin.post("/api/v1/users", json={"username": "mia", "password": "mia-password"})
    mia = await server.login("mia", "mia-password")
    assert (await mia.get("/api/v1/environments")).status_code == 403
    assert (await mia.get("/api/v1/environments/local/containers")).status_code == 403
    assert (await mia.get("/api/v1/audit")).status_code == 403
    await mia.aclose()


async def test_engine_events_stream_live(admin):
    name = f"evt-{uuid.uuid4().hex[:8]}"
    seen: list[dict] = []

    async def follow() -> None:
        async with admin.stream("GET", "/api/v1/environments/local/events") as response:
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "docker":
                    item = json.loads(line.split(":", 1)[1])
                    if item.get("name") == name:
                        seen.append(item)
                        if item["action"] == "destroy":
                            return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    created = await admin.post(
        "/api/v1/environments/local/containers",
        json={"image": "moorage/terminal:latest", "name": name, "labels": LABEL},
    )
    assert created.status_code == 201
    await admin.delete(f"/api/v1/environments/local/containers/{name}")
    await asyncio.wait_for(follower, 20)
    actions = [item["action"] for item in seen]
    assert actions[0] == "create" and "start" in actions and actions[-1] == "destroy"
    assert all(item["type"] == "container" for item in seen)


async def test_volume_browser_confines_every_path_to_the_volume(admin, docker):
    volume = f"browse-{uuid.uuid4().hex[:6]}"
    base = f"/api/v1/environments/local/volumes/{volume}"
    assert (
        await admin.post("/api/v1/environments/local/volumes", params={"name": volume})
    ).status_code == 201
    try:
        up = await admin.post(
            f"{base}/files", params={"path": "", "filename": "notes.txt"}, content=b"hello volume\n"
        )
        assert up.status_code == 201 and up.json()["path"] == "notes.txt"
        # A directory and two symlinks, made inside the volume by a container of the test.
        maker = await docker.containers.run(
            config={
                "Image": "moorage/terminal:latest",
                "User": "0",
                "Labels": LABEL,
                "Cmd": [
                    "sh",
                    "-c",
                    "mkdir -p /v/sub && echo deep > /v/sub/deep.txt && "
                    "ln -s /etc/passwd /v/escape && ln -s sub/deep.txt /v/inside",
                ],
                "HostConfig": {"Binds": [f"{volume}:/v"]},
            }
        )
        await maker.wait(timeout=30)
        await maker.delete(force=True)

        entries = {e["name"]: e["type"] for e in (await admin.get(f"{base}/files")).json()}
        assert entries == {
            "notes.txt": "file",
            "sub": "dir",
            "escape": "symlink",
            "inside": "symlink",
        }
        assert (await admin.get(f"{base}/files", params={"path": "sub"})).json()[0][
            "name"
        ] == "deep.txt"
        download = await admin.get(f"{base}/file", params={"path": "notes.txt"})
        assert download.content == b"hello volume\n"
        followed = await admin.get(f"{base}/file", params={"path": "inside"})
        assert followed.content == b"deep\n"

        for path in ("../etc/passwd", "/etc/passwd", "sub/../../x", "escape"):
            refused = await admin.get(f"{base}/file", params={"path": path})
            assert refused.status_code == 422, (path, refused.text)
            assert refused.json()["error"]["field"] == "path"
        assert (
            await admin.post(f"{base}/files", params={"path": "../", "filename": "x"}, content=b"x")
        ).status_code == 422
        assert (await admin.delete(f"{base}/files", params={"path": ""})).status_code == 422
        assert (await admin.get(f"{base}/file", params={"path": "nope"})).status_code == 404

        assert (
            await admin.delete(f"{base}/files", params={"path": "escape"})
        ).status_code == 204  # removes the link, never its target
        assert (await admin.delete(f"{base}/files", params={"path": "sub"})).status_code == 204
        entries = {e["name"] for e in (await admin.get(f"{base}/files")).json()}
        assert entries == {"notes.txt", "inside"}
    finally:
        await admin.delete(f"/api/v1/environments/local/volumes/{volume}")
