"""Share links on real workspaces: nothing an observer sends reaches the workspace
(the terminal's shell never runs its command; the real desktop image never gets its
keys, clicks or clipboard), while the owner's and a peer's input does."""

from __future__ import annotations

import asyncio
import struct
from urllib.parse import urlsplit

import httpx
import websockets

from moorage.services.shares import grant_cookie_name
from tests.integration.conftest import session_containers
from tests.integration.terminal_client import TerminalClient, terminal

RETURN = 0xFF0D


async def _exists(docker, session_id: str, path: str) -> bool:
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]
    exec_ = await container.exec(["test", "-e", path])
    async with exec_.start(detach=False) as stream:
        while await stream.read_out() is not None:
            pass
    return (await exec_.inspect())["ExitCode"] == 0


async def _eventually(check, seconds: float = 15) -> bool:
    for _ in range(int(seconds / 0.25)):
        if await check():
            return True
        await asyncio.sleep(0.25)
    return False


async def _grant(admin: httpx.AsyncClient, session_id: str, role: str) -> str:
    """Open a new ``role`` link as an anonymous browser; its Cookie header."""
    made = await admin.post(f"/api/v1/sessions/{session_id}/shares", json={"role": role})
    assert made.status_code == 201, made.text
    base = str(admin.base_url).rstrip("/")
    async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as guest:
        opened = await guest.post(urlsplit(made.json()["url"]).path, data={"display_name": role})
        assert opened.status_code == 303, opened.text
        name = grant_cookie_name(session_id)
        return f"{name}={guest.cookies[name]}"


async def test_an_observers_keys_never_reach_the_terminals_shell(admin, docker):
    launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    token = (await admin.post("/api/v1/tokens", json={"name": "share"})).json()["token"]
    cookie = await _grant(admin, session["id"], "observer")
    url = session["urls"]["terminal"]
    async with terminal(url, token=token) as mine, terminal(url, cookie=cookie) as theirs:
        owner, observer = TerminalClient(mine), TerminalClient(theirs)
        await observer.send("touch /tmp/observer-marker; echo OBSERVED\r")
        await observer.resize(20, 5)
        await owner.send("echo OWNER-$((6*7))\r")
        await owner.expect("OWNER-42")
        await observer.expect("OWNER-42")  # the observer sees the shell's output
        await owner.send("touch /tmp/owner-marker\r")
        assert await _eventually(lambda: _exists(docker, session["id"], "/tmp/owner-marker"))
        assert not await _exists(docker, session["id"], "/tmp/observer-marker")
        assert "OBSERVED" not in owner.output.decode(errors="replace").replace("echo OBSERVED", "")


async def _rfb_connect(url: str, headers: dict[str, str]):
    """An RFB client through the desktop gateway: handshake done, ClientInit sent,
    ServerInit read. Returns (websocket, width, height)."""
    ws = await websockets.connect(
        url, subprotocols=["binary"], additional_headers=headers, max_size=None
    )
    buffer = b""

    async def read(count: int) -> bytes:
        nonlocal buffer
        while len(buffer) < count:
            frame = await asyncio.wait_for(ws.recv(), 20)
            buffer += frame if isinstance(frame, bytes) else frame.encode()
        data, buffer = buffer[:count], buffer[count:]
        return data

    assert (await read(12)).startswith(b"RFB 003.")
    await ws.send(b"RFB 003.008\n")
    count = (await read(1))[0]
    assert 1 in await read(count)  # security type None
    await ws.send(b"\x01")
    assert await read(4) == b"\0\0\0\0"
    await ws.send(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", await read(4))
    await read(16)
    (name_length,) = struct.unpack(">I", await read(4))
    await read(name_length)
    return ws, width, height


def _keys(text: str) -> bytes:
    events = b""
    for ch in text:
        keysym = RETURN if ch == "\n" else ord(ch)
        events += struct.pack(">BBxxI", 4, 1, keysym) + struct.pack(">BBxxI", 4, 0, keysym)
    return events


def _click(x: int, y: int) -> bytes:
    return struct.pack(">BBHH", 5, 1, x, y) + struct.pack(">BBHH", 5, 0, x, y)


async def test_an_observers_keys_clicks_and_clipboard_never_reach_the_desktop(admin, docker):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "share-desktop",
            "display_name": "Shared desktop",
            "kind": "vnc",
            "image": "moorage/desktop:latest",
            "memory_limit_mb": 1024,
        },
    )
    assert created.status_code in (201, 409), created.text
    launched = await admin.post("/api/v1/sessions", json={"template": "share-desktop"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    url = session["urls"]["desktop"]
    base = str(admin.base_url).rstrip("/")
    peer_cookie = await _grant(admin, session["id"], "peer")
    observer_cookie = await _grant(admin, session["id"], "observer")
    peer, width, height = await _rfb_connect(url, {"Cookie": peer_cookie, "Origin": base})
    observer, _, _ = await _rfb_connect(url, {"Cookie": observer_cookie, "Origin": base})
    try:
        # The peer puts the focus in the desktop's terminal (top left), as a person would.
        x, y = width // 5, height * 3 // 10
        await asyncio.sleep(2)  # the terminal window maps a moment after Xvnc answers
        await peer.send(_click(x, y))
        # The observer types, clicks and pastes: all of it is dropped by the gateway.
        await observer.send(_click(x, y) + _keys("touch /tmp/observer-typed\n"))
        await observer.send(struct.pack(">BxxxI", 6, 9) + b"clipboard")
        await observer.send(struct.pack(">BBHH", 3, 1, 0, 0) + struct.pack(">HH", 8, 8))
        await asyncio.sleep(3)
        assert not await _exists(docker, session["id"], "/tmp/observer-typed")
        # The same keys from the peer do reach it: the test would see them if they arrived.
        await peer.send(_keys("touch /tmp/peer-typed\n"))
        assert await _eventually(lambda: _exists(docker, session["id"], "/tmp/peer-typed"))
        assert not await _exists(docker, session["id"], "/tmp/observer-typed")
        # Revoking the observer's link closes its desktop at once; the peer stays.
        links = (await admin.get(f"/api/v1/sessions/{session['id']}/shares")).json()
        (watching,) = [link for link in links if link["role"] == "observer"]
        await admin.delete(f"/api/v1/sessions/{session['id']}/shares/{watching['id']}")
        try:
            while True:
                await asyncio.wait_for(observer.recv(), 10)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4410
        await peer.send(_keys("touch /tmp/peer-again\n"))
        assert await _eventually(lambda: _exists(docker, session["id"], "/tmp/peer-again"))
    finally:
        await peer.close()
        await observer.close()
        await admin.delete(f"/api/v1/sessions/{session['id']}")
