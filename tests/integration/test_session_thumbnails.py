"""Session thumbnails on real workspaces through a real ``moorage serve``: a
debian-shell terminal's screen after typing in it, and a linux-desktop's frame read
from its VNC server."""

from __future__ import annotations

import asyncio
import io
import time
import xml.etree.ElementTree as ElementTree

from PIL import Image

from tests.integration.terminal_client import TerminalClient, terminal

SVG_NS = "{http://www.w3.org/2000/svg}"
DESKTOP_SIZE = (1280, 800)
"""The desktop image's default geometry (images/desktop/start-desktop.sh)."""


def _lines(svg: bytes) -> list[str]:
    return [e.text or "" for e in ElementTree.fromstring(svg).iter(f"{SVG_NS}text")]


async def test_a_terminal_thumbnail_shows_what_was_typed_and_printed(admin):
    launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    path = f"/api/v1/sessions/{session['id']}/thumbnail"

    before = await admin.get(path)
    assert before.status_code == 200
    assert _lines(before.content) == ["terminal", "no terminal open"]

    token = (await admin.post("/api/v1/tokens", json={"name": "thumbs"})).json()["token"]
    async with terminal(session["urls"]["terminal"] + "?cols=100&rows=30", token) as ws:
        client = TerminalClient(ws)
        await client.expect("$", timeout_seconds=20)
        await client.send("echo THUMB-MARK\r")
        await client.expect("THUMB-MARK\r\n", timeout_seconds=20)
        await asyncio.sleep(0.3)  # the prompt after it
        deadline = time.monotonic() + 10
        while True:
            shot = await admin.get(path)
            assert shot.status_code == 200
            lines = _lines(shot.content)
            if "THUMB-MARK" in lines or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)  # a thumbnail made before the output is kept ~3 s
    assert shot.headers["content-type"].startswith("image/svg+xml")
    assert shot.headers["cache-control"] == "private, no-store"
    assert "THUMB-MARK" in lines, lines  # the output line
    assert any(line.endswith("echo THUMB-MARK") for line in lines), lines  # the command
    root = ElementTree.fromstring(shot.content)
    assert root.get("width") == "480"
    assert root.get("viewBox", "").startswith("0 0 600 ")  # 100 columns of 6 units


async def test_a_desktop_thumbnail_is_a_scaled_png_of_the_screen(admin):
    launched = await admin.post("/api/v1/sessions", json={"template": "linux-desktop"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    path = f"/api/v1/sessions/{session['id']}/thumbnail"
    started = time.monotonic()
    shot = await admin.get(path)
    took = time.monotonic() - started
    assert shot.status_code == 200
    assert shot.headers["content-type"] == "image/png", shot.text[:300]
    image = Image.open(io.BytesIO(shot.content))
    width, height = DESKTOP_SIZE
    assert image.format == "PNG"
    assert image.size == (480, round(height * 480 / width))
    assert took < 3.5, f"the first desktop thumbnail took {took:.2f} s"
    # A second look within the cache's seconds is the same image, and fast.
    started = time.monotonic()
    again = await admin.get(path)
    assert again.content == shot.content and time.monotonic() - started < 0.5
    # The desktop draws its terminal a moment after Xvnc answers: look until it shows.
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    deadline = time.monotonic() + 30
    while (colours is not None and len(colours) <= 10) and time.monotonic() < deadline:
        await asyncio.sleep(1)
        shot = await admin.get(path)
        assert shot.headers["content-type"] == "image/png"
        colours = Image.open(io.BytesIO(shot.content)).convert("RGB").getcolors(1 << 16)
    assert colours is None or len(colours) > 10, f"the frame is (almost) one colour: {colours}"
