"""Workspaces of kind vnc: a real VNC client (vncdotool) through Moorage's websocket gateway."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

import websockets
from PIL import Image

from tests.integration.conftest import assert_secret_not_in_environment, session_containers


async def bridge(ws_url: str, token: str) -> tuple[asyncio.Server, int]:
    """A local TCP port whose connections are piped to the desktop websocket, as a
    websockify would do, so that a plain VNC client can use it."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with websockets.connect(
            ws_url,
            subprotocols=["binary"],
            max_size=None,
            additional_headers={"Authorization": f"Bearer {token}"},
        ) as ws:

            async def up() -> None:
                while data := await reader.read(65536):
                    await ws.send(data)

            async def down() -> None:
                async for message in ws:
                    writer.write(message if isinstance(message, bytes) else message.encode())
                    await writer.drain()

            tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_vncdotool_captures_the_desktop_without_knowing_the_password(admin, docker, tmp_path):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "desktop",
            "display_name": "Linux desktop",
            "kind": "vnc",
            "image": "moorage/desktop:latest",
            "memory_limit_mb": 1024,
        },
    )
    assert created.status_code == 201, created.text
    launched = await admin.post("/api/v1/sessions", json={"template": "desktop"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    assert session["urls"]["desktop"].endswith(f"/api/v1/sessions/{session['id']}/vnc")
    assert "password" not in str(session.get("connection"))
    await assert_secret_not_in_environment(docker, session["id"])

    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session["id"]
    ]
    info = await container.show()
    assert info["HostConfig"]["PortBindings"]["5901/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": ""}
    ]

    token = (await admin.post("/api/v1/tokens", json={"name": "vnc"})).json()["token"]
    server, port = await bridge(session["urls"]["desktop"], token)
    shot = tmp_path / "desktop.png"
    colours: list | None = None
    async with server:
        # The desktop draws its terminal a moment after Xvnc answers: capture until it shows.
        for _ in range(20):
            result = await asyncio.to_thread(
                subprocess.run,
                [
                    str(Path(sys.executable).parent / "vncdo"),
                    "-s",
                    f"127.0.0.1::{port}",
                    "--nocursor",
                    "capture",
                    str(shot),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            with Image.open(shot) as image:
                assert image.size[0] >= 640 and image.size[1] >= 480
                colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            if colours is not None and len(colours) > 10:
                break
            await asyncio.sleep(0.5)
    assert colours is not None and len(colours) > 10, f"the screenshot is blank: {colours}"

    with contextlib.suppress(Exception):
        await admin.delete(f"/api/v1/sessions/{session['id']}")
