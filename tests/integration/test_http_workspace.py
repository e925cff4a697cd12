"""Workspaces of kind http: Jupyter (Debian's packages) behind Moorage's reverse proxy."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import websockets

from tests.integration.conftest import assert_secret_not_in_environment, session_containers
from tests.live_server import free_port


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


JUPYTER = {
    "name": "jupyter-test",
    "display_name": "Jupyter notebook",
    "kind": "http",
    "image": "moorage/jupyter:latest",
    "memory_limit_mb": 1024,
}


async def test_single_origin_mode_sandboxes_jupyter_and_breaks_its_xsrf(server, admin, docker):
    """Without MOORAGE_WORKSPACE_DOMAIN/PORT the app shares Moorage's origin: every
    response is sandboxed and loses Set-Cookie (the browser side of what that breaks
    is tests/e2e/test_workspace_origin_in_browser.py); the app answers only requests
    that come through Moorage's proxy, which adds the session's token."""
    created = await admin.post("/api/v1/templates", json=JUPYTER)
    assert created.status_code == 201, created.text
    assert created.json()["port"] == 8888
    launched = await admin.post("/api/v1/sessions", json={"template": "jupyter-test"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    app = session["urls"]["app"]
    assert app == f"{server.base_url}/s/{session['id']}/"

    page = await admin.get(app, follow_redirects=True)
    assert page.status_code == 200 and "Jupyter" in page.text
    # Jupyter's own policy stays; a browser enforces both.
    assert "sandbox allow-scripts allow-forms allow-popups allow-downloads" in (
        page.headers.get_list("content-security-policy")
    )
    assert "set-cookie" not in page.headers and "_xsrf" not in admin.cookies
    # A same-origin API client with the login cookie reaches the app's API through
    # the proxy (Jupyter skips its XSRF check for token-authenticated requests).
    kernel = await admin.post(f"{app}api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
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

    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.json()["state"] == "released"
    assert (await admin.get(app)).status_code == 404


async def test_web_app_on_its_own_port_is_proxied_streamed_and_private(fresh_server, docker):
    """MOORAGE_WORKSPACE_PORT: Jupyter works fully on the workspace origin (its own
    cookies, XSRF, kernels over websockets), reached through a one-time ticket."""
    workspace_port = free_port()
    fresh_server.extra_env["MOORAGE_WORKSPACE_PORT"] = str(workspace_port)
    fresh_server.start(timeout=120)
    admin = await fresh_server.login()
    assert (await admin.post("/api/v1/templates", json=JUPYTER)).status_code == 201
    launched = await admin.post("/api/v1/sessions", json={"template": "jupyter-test"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    origin = f"http://127.0.0.1:{workspace_port}"
    app = session["urls"]["app"]
    assert app == f"{origin}/s/{session['id']}/"

    # The workspace origin sends a browser without its cookie to Moorage for a ticket.
    browser = httpx.AsyncClient(timeout=60)
    browser.cookies.update(admin.cookies)
    page = await browser.get(app, follow_redirects=True)
    assert page.status_code == 200 and "Jupyter" in page.text
    assert "sandbox" not in page.headers.get("content-security-policy", "")
    assert f"moorage_ws_{session['id']}" in browser.cookies
    assert any("moorage_ticket" in str(r.url) for r in page.history)

    # Other people get 404 at Moorage (no ticket for them).
    await admin.post("/api/v1/users", json={"username": "eve", "password": "eve-password"})
    eve = await fresh_server.login("eve", "eve-password")
    assert (await eve.get(f"{fresh_server.base_url}/s/{session['id']}/")).status_code == 404
    await eve.aclose()

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
    async with browser.stream("GET", f"{app}files/big.bin", headers={"Referer": app}) as response:
        assert response.status_code == 200, (await response.aread()).decode()[-1500:]
        async for chunk in response.aiter_raw():
            size += len(chunk)
    assert size == 20 * 1024 * 1024

    # Websockets: run code in a kernel through the proxy.
    if not browser.cookies.get("_xsrf"):
        await browser.get(f"{app}tree")
    xsrf = browser.cookies.get("_xsrf")
    assert xsrf, "Jupyter's _xsrf cookie reaches the browser on the workspace origin"
    kernel = await browser.post(
        f"{app}api/kernels",
        json={"name": "python3"},
        headers={"X-XSRFToken": xsrf, "Origin": origin},
    )
    assert kernel.status_code == 201, kernel.text
    ws_url = app.replace("http://", "ws://") + f"api/kernels/{kernel.json()['id']}/channels"
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
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
    # A socket opened from Moorage's origin (or any other) is refused at the
    # handshake (closed before accept: uvicorn answers 403).
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(
            ws_url, additional_headers={"Cookie": cookie, "Origin": fresh_server.base_url}
        ):
            pass
    assert refused.value.response.status_code == 403

    ended = await admin.delete(f"/api/v1/sessions/{session['id']}")
    assert ended.json()["state"] == "released"
    assert (await browser.get(app)).status_code in (401, 303, 404)
    await browser.aclose()
    await admin.aclose()
