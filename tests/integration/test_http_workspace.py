"""Workspaces of kind http: Jupyter (Debian's packages) behind Moorage's reverse proxy."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import websockets

from tests.integration.conftest import assert_secret_not_in_environment, session_containers


async def container_of(docker, session_id: str):
    (container,) = [
        c
        for c in await session_containers(docker)
        if c._container["Labels"]["moorage.session"] == session_id
    ]
    return container


def execute_request(code: str) -> str:
    """A Jupyter messaging protocol v5 execute_request on the shell channel."""
    return json.dumps(
        {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": "test",
                "session": uuid.uuid4().hex,
                "msg_type": "execute_request",
                "version": "5.3",
                "date": datetime.now(UTC).isoformat(),
            },
            "parent_header": {},
            "metadata": {},
            "buffers": [],
            "channel": "shell",
            "content": {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        }
    )


async def test_web_app_is_proxied_streamed_and_private(server, admin, docker):
    created = await admin.post(
        "/api/v1/templates",
        json={
            "name": "jupyter",
            "display_name": "Jupyter notebook",
            "kind": "http",
            "image": "moorage/jupyter:latest",
            "memory_limit_mb": 1024,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["port"] == 8888
    launched = await admin.post("/api/v1/sessions", json={"template": "jupyter"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    app = session["urls"]["app"]
    assert app.endswith(f"/s/{session['id']}/")

    page = await admin.get(app, follow_redirects=True)
    assert page.status_code == 200 and "Jupyter" in page.text
    listed = await admin.get(f"{app}api/contents")
    assert listed.status_code == 200, listed.text

    # Straight to the published port, without the token only Moorage's proxy sends,
    # Jupyter refuses (anyone on the host could reach 127.0.0.1).
    await assert_secret_not_in_environment(docker, session["id"])
    container = await container_of(docker, session["id"])
    published = (await container.show())["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
    async with httpx.AsyncClient() as direct:
        refused = await direct.get(f"http://127.0.0.1:{published}/s/{session['id']}/api/contents")
        assert refused.status_code in (401, 403), refused.text
        written = await direct.put(
            f"http://127.0.0.1:{published}/s/{session['id']}/api/contents/x.txt",
            json={"type": "file", "format": "text", "content": "x"},
        )
        assert written.status_code in (401, 403), written.text

    # Other people get 404, as if the session did not exist.
    await admin.post("/api/v1/users", json={"username": "eve", "password": "eve-password"})
    eve = await server.login("eve", "eve-password")
    assert (await eve.get(app)).status_code == 404
    await eve.aclose()
    anonymous = server.client()
    assert (await anonymous.get(app)).status_code == 404
    await anonymous.aclose()

    # A large file streams through unchanged.
    container = await container_of(docker, session["id"])
    exec_ = await container.exec(
        ["dd", "if=/dev/urandom", "of=/home/user/big.bin", "bs=1M", "count=20"], user="user"
    )
    async with exec_.start(detach=False) as stream:
        while await stream.read_out() is not None:
            pass
    size = 0
    # Jupyter wants a same-origin Referer on file downloads (XSSI protection), as a browser sends.
    async with admin.stream("GET", f"{app}files/big.bin", headers={"Referer": app}) as response:
        assert response.status_code == 200, (await response.aread()).decode()[-1500:]
        async for chunk in response.aiter_raw():
            size += len(chunk)
    assert size == 20 * 1024 * 1024

    # Websockets: run code in a kernel through the proxy.
    xsrf = admin.cookies.get("_xsrf") or (await admin.get(f"{app}tree")).cookies.get("_xsrf")
    kernel = await admin.post(
        f"{app}api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf or ""}
    )
    assert kernel.status_code == 201, kernel.text
    ws_url = app.replace("http://", "ws://") + f"api/kernels/{kernel.json()['id']}/channels"
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    origin = str(admin.base_url).rstrip("/")
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": origin}
    ) as ws:
        await ws.send(execute_request("print(6 * 7)"))
        output = ""
        async with asyncio.timeout(30):
            while "42" not in output:
                message = json.loads(await ws.recv())
                if message.get("msg_type") == "stream":
                    output += message["content"]["text"]
    assert output.strip() == "42"

    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.json()["state"] == "released"
    assert (await admin.get(app)).status_code == 404
