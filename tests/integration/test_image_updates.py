"""Image updates against a real registry (Debian's docker-registry on loopback) and the
real engine: a new digest pushed under a container's tag is detected and notified,
applied with the container's configuration kept, and rolled back when the next
image fails its healthcheck. Images are built FROM the local base, never pulled."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

import aiodocker
from aiohttp import web

from tests.live_server import free_port

BASE = "moorage/base:bookworm"
NAME = "moorage-imgupd-web"
HEALTHY = "HEALTHCHECK --interval=1s --timeout=3s --retries=1 CMD test -f /etc/hostname"


async def docker_cli(*argv: str, stdin: str | None = None) -> str:
    result = await asyncio.to_thread(
        subprocess.run,
        ["docker", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def build(tag: str, *lines: str) -> str:
    """Build an image FROM the local base with ``lines``; its id."""
    dockerfile = "\n".join(
        [f"FROM {BASE}", "STOPSIGNAL SIGKILL", 'CMD ["sleep", "infinity"]', *lines]
    )
    await docker_cli("build", "-q", "-t", tag, "-", stdin=dockerfile)
    return await docker_cli("image", "inspect", "-f", "{{.Id}}", tag)


async def publish(image_id: str, reference: str) -> None:
    """Push ``image_id`` as ``reference`` from another machine, as it were: the local
    tag goes back to what it named before."""
    before = await docker_cli("image", "inspect", "-f", "{{.Id}}", reference)
    await docker_cli("tag", image_id, reference)
    await docker_cli("push", "-q", reference)
    await docker_cli("tag", before, reference)


async def test_new_digest_is_notified_applied_and_a_failing_one_rolled_back(
    admin, registry, docker: aiodocker.Docker
):
    reference = f"{registry}/moorage-test/app:1"
    suffix = uuid.uuid4().hex[:8]
    v1 = await build(f"moorage-imgupd:v1-{suffix}", HEALTHY, "LABEL build=1")
    v2 = await build(f"moorage-imgupd:v2-{suffix}", HEALTHY, "LABEL build=2", "ENV BUILD=2")
    broken = await build(
        f"moorage-imgupd:v3-{suffix}",
        "HEALTHCHECK --interval=1s --timeout=3s --retries=1 CMD false",
        "LABEL build=3",
    )
    await docker_cli("tag", v1, reference)
    await docker_cli("push", "-q", reference)
    network = f"moorage-imgupd-{suffix}"
    volume = f"moorage-imgupd-{suffix}"
    await docker_cli("network", "create", network)
    await docker_cli(
        "run", "-d", "--name", NAME, "--network", network, "--network-alias", "web",
        "-e", "GREETING=hello", "-l", "team=blue", "--restart", "unless-stopped",
        "-v", f"{volume}:/data", "-p", "127.0.0.1::8080", reference,
    )  # fmt: skip

    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    channel = await admin.post(
        "/api/v1/notification-channels",
        json={"name": f"updates-{suffix}", "url": f"json://127.0.0.1:{port}/hook"},
    )
    assert channel.status_code == 201, channel.text
    url = f"/api/v1/environments/local/image-updates/container/{NAME}"
    try:
        bad = await admin.put(url, json={"schedule": "every hour"})
        assert bad.status_code == 422 and "schedule" in bad.text
        # Yearly: the reconciler's job stays out of the way; the test checks on demand.
        body = {"policy": "notify", "schedule": "0 0 1 1 *"}
        assert (await admin.put(url, json=body)).status_code == 200
        first = (await admin.post(f"{url}/check")).json()
        assert first["status"] == "up_to_date", first
        assert first["current_digest"].startswith("sha256:")

        await publish(v2, reference)
        found = (await admin.post(f"{url}/check")).json()
        assert found["status"] == "update_available", found
        assert found["available_digest"] not in (None, first["current_digest"])
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.1)
        assert received and NAME in received[0]["title"], received
        listed = (await admin.get("/environments/local/containers")).text
        assert "update available" in listed

        body = {**body, "policy": "update", "health_timeout_seconds": 30, "stable_seconds": 2}
        assert (await admin.put(url, json=body)).status_code == 200
        updated = (await admin.post(f"{url}/check")).json()
        assert updated["status"] == "updated", updated
        assert updated["current_digest"] == found["available_digest"]
        info = await docker.containers.container(NAME).show()
        assert info["Image"] == v2
        assert info["State"]["Health"]["Status"] == "healthy"
        assert "GREETING=hello" in info["Config"]["Env"] and "BUILD=2" in info["Config"]["Env"]
        assert info["Config"]["Labels"]["team"] == "blue"
        assert info["Config"]["Labels"]["build"] == "2"  # the new image's, not the old one's
        assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert "web" in info["NetworkSettings"]["Networks"][network]["Aliases"]
        assert [m["Name"] for m in info["Mounts"]] == [volume]
        assert info["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
        left = await docker.containers.list(all=True, filters={"name": [f"{NAME}-moorage"]})
        assert left == []

        await publish(broken, reference)
        rolled = (await admin.post(f"{url}/check")).json()
        assert rolled["status"] == "rolled_back", rolled
        assert "unhealthy" in rolled["message"]
        info = await docker.containers.container(NAME).show()
        assert info["Image"] == v2 and info["State"]["Running"]
        assert info["Name"] == f"/{NAME}"
        assert await docker_cli("image", "inspect", "-f", "{{.Id}}", reference) == v2
        again = (await admin.post(f"{url}/check")).json()
        assert again["status"] == "rejected", again  # that digest is not tried twice

        # A crash between the swap and the health verdict leaves the previous container
        # renamed and stopped: the next check puts it back.
        await docker_cli("stop", NAME)
        await docker_cli("rename", NAME, f"{NAME}-moorage-previous")
        await docker_cli("run", "-d", "--name", NAME, v1)
        await admin.post(f"{url}/check")
        info = await docker.containers.container(NAME).show()
        assert info["Image"] == v2 and info["State"]["Running"]
        left = await docker.containers.list(all=True, filters={"name": [f"{NAME}-moorage"]})
        assert left == []

        audit = (await admin.get("/api/v1/audit", params={"object_id": NAME})).json()
        actions = [event["action"] for event in audit]
        assert "container.image_update" in actions and "container.image_rollback" in actions
        titles = [r["title"] for r in received]
        assert any("rolled back" in t for t in titles) and any("updated" in t for t in titles)
    finally:
        await admin.delete(url)
        await admin.delete(f"/api/v1/notification-channels/{channel.json()['id']}")
        await runner.cleanup()
        for name in (NAME, f"{NAME}-moorage-previous"):
            try:
                await docker.containers.container(name).delete(force=True)
            except aiodocker.DockerError:
                pass
        await docker_cli("network", "rm", network)
        await docker_cli("volume", "rm", "-f", volume)
        await docker_cli(
            "rmi", "-f", reference, v1, v2, broken,
            f"moorage-imgupd:v1-{suffix}", f"moorage-imgupd:v2-{suffix}",
            f"moorage-imgupd:v3-{suffix}",
        )  # fmt: skip


async def test_a_stack_is_updated_with_compose_and_rolled_back_to_its_old_images(
    admin, registry, docker: aiodocker.Docker
):
    reference = f"{registry}/moorage-test/stackapp:1"
    suffix = uuid.uuid4().hex[:8]
    stack = f"imgupd-{suffix}"
    v1 = await build(f"moorage-imgupd:s1-{suffix}", HEALTHY, "LABEL build=1")
    v2 = await build(f"moorage-imgupd:s2-{suffix}", HEALTHY, "LABEL build=2")
    broken = await build(
        f"moorage-imgupd:s3-{suffix}",
        "HEALTHCHECK --interval=1s --timeout=3s --retries=1 CMD false",
        "LABEL build=3",
    )
    await docker_cli("tag", v1, reference)
    await docker_cli("push", "-q", reference)
    compose = f"services:\n  app:\n    image: {reference}\n    environment:\n      MODE: test\n"
    created = await admin.post(
        "/api/v1/environments/local/stacks", json={"name": stack, "compose": compose, "env": ""}
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/environments/local/image-updates/stack/{stack}"

    async def app_image() -> str:
        (container,) = await docker.containers.list(
            filters={"label": [f"com.docker.compose.project={stack}"]}
        )
        return (await container.show())["Image"]

    try:
        deployed = await admin.post(f"/api/v1/environments/local/stacks/{stack}/deploy")
        assert deployed.status_code == 200, deployed.text
        body = {"policy": "update", "schedule": "0 0 1 1 *", "health_timeout_seconds": 30}
        assert (await admin.put(url, json={**body, "semver_range": "^1"})).status_code == 422
        assert (await admin.put(url, json=body)).status_code == 200
        assert (await admin.post(f"{url}/check")).json()["status"] == "up_to_date"

        await publish(v2, reference)
        updated = (await admin.post(f"{url}/check")).json()
        assert updated["status"] == "updated", updated
        assert await app_image() == v2

        await publish(broken, reference)
        rolled = (await admin.post(f"{url}/check")).json()
        assert rolled["status"] == "rolled_back", rolled
        assert await app_image() == v2
    finally:
        await admin.delete(url)
        await admin.post(f"/api/v1/environments/local/stacks/{stack}/down")
        await admin.delete(f"/api/v1/environments/local/stacks/{stack}")
        await docker_cli(
            "rmi", "-f", reference, v1, v2, broken, f"moorage-imgupd:s1-{suffix}",
            f"moorage-imgupd:s2-{suffix}", f"moorage-imgupd:s3-{suffix}",
        )  # fmt: skip
