"""Image pull with live progress from a real registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

import asyncio
import json
import subprocess


async def docker_cli(*argv: str) -> None:
    result = await asyncio.to_thread(
        subprocess.run, ["docker", *argv], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


async def test_pull_from_a_local_registry_with_live_progress(admin, registry):
    image = f"{registry}/moorage-test/terminal:v1"
    await docker_cli("tag", "moorage/terminal:latest", image)
    await docker_cli("push", image)
    await docker_cli("rmi", image)

    stored = await admin.put(
        f"/api/v1/registries/{registry}", json={"username": "ci", "password": "registry-secret"}
    )
    assert stored.status_code == 204
    listed = await admin.get("/api/v1/registries")
    assert {"host": registry, "username": "ci"} in listed.json()
    assert "registry-secret" not in listed.text

    events: list[tuple[str, dict]] = []
    async with admin.stream(
        "POST", "/api/v1/environments/local/images/pull", json={"image": image}
    ) as response:
        assert response.status_code == 200
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event or "", json.loads(line.split(":", 1)[1])))
                if event in ("done", "error"):
                    break
    assert events[-1] == ("done", {"image": image}), events[-3:]
    assert any(kind == "progress" and "status" in body for kind, body in events)
    images = (await admin.get("/api/v1/environments/local/images")).json()
    assert any(image in i["tags"] for i in images)

    tagged = await admin.post(
        "/api/v1/environments/local/images/tag",
        json={"image": image, "repository": f"{registry}/moorage-test/renamed", "tag": "v2"},
    )
    assert tagged.status_code == 204
    removed = await admin.delete(
        f"/api/v1/environments/local/images/{registry}/moorage-test/renamed:v2"
    )
    assert removed.status_code == 204
    await admin.delete(f"/api/v1/environments/local/images/{image}")

    missing = []
    async with admin.stream(
        "POST",
        "/api/v1/environments/local/images/pull",
        json={"image": f"{registry}/moorage-test/absent:v9"},
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                missing.append(line.split(":", 1)[1].strip())
                if missing[-1] in ("done", "error"):
                    break
    assert missing[-1] == "error"
    await admin.delete(f"/api/v1/registries/{registry}")
