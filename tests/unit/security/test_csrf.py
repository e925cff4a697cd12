"""The CSRF guard over the whole route table: every unsafe route and every
websocket refuses a cookie-authenticated request from another origin, and lets
Moorage's own origin and bearer-only clients through."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from moorage.security.csrf import UNSAFE_METHODS, normalise_origin
from tests.unit.conftest import BASE_URL

EVIL = "http://evil.example"


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def flat_routes(application) -> list[tuple[object, str, set[str]]]:
    """``(route, full path, methods)`` of every route. FastAPI >= 0.165 keeps
    included routers as nodes of ``app.routes`` that list their effective routes
    (with the prefixes applied); older versions flatten them into ``app.routes``."""
    flat = []
    for node in application.routes:
        if hasattr(node, "effective_route_contexts"):
            for effective in node.effective_route_contexts():
                route = effective.original_route
                full = getattr(effective.starlette_route, "path", None) or effective.path
                flat.append((route, full, set(getattr(route, "methods", None) or ())))
        else:
            flat.append(
                (node, getattr(node, "path", ""), set(getattr(node, "methods", None) or ()))
            )
    assert all(path.startswith("/") for _, path, _ in flat)
    return flat


def unsafe_routes(application) -> list[tuple[str, str]]:
    found = [
        (method, fill(path))
        for route, path, methods in flat_routes(application)
        if isinstance(route, APIRoute)
        for method in sorted(methods & UNSAFE_METHODS)
    ]
    assert len(found) > 50  # the table was really walked
    return found


def websocket_paths(application) -> list[str]:
    paths = [
        fill(path)
        for route, path, _ in flat_routes(application)
        if isinstance(route, APIWebSocketRoute)
    ]
    assert len(paths) >= 3
    return paths


def refused(response: httpx.Response) -> bool:
    if response.status_code != 403:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["error"]["code"] == "csrf_refused"
    return "Request refused" in response.text


async def test_every_unsafe_route_refuses_a_cookie_request_from_another_origin(app):
    application = app.client._transport.app
    for method, path in unsafe_routes(application):
        response = await app.client.request(method, path, headers={"Origin": EVIL})
        assert refused(response), (method, path, response.status_code)
        no_proof = {"Origin": "", "Sec-Fetch-Site": "cross-site"}
        response = await app.client.request(method, path, headers=no_proof)
        assert refused(response), (method, path)
    for method, path in unsafe_routes(application):
        response = await app.client.request(method, path, headers={"Origin": BASE_URL})
        assert not refused(response), (method, path)


async def test_sec_fetch_site_same_origin_stands_in_for_a_missing_origin(app):
    client = httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)
    client.cookies = app.client.cookies
    async with client:
        bare = await client.post("/api/v1/tokens", json={"name": "t"})
        assert refused(bare)
        same = await client.post(
            "/api/v1/tokens", json={"name": "t"}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert same.status_code == 201


async def test_page_form_posts_need_proof_even_without_a_cookie(app):
    async with httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL) as client:
        form = {"username": "admin", "password": "x"}
        assert refused(await client.post("/login", data=form))
        assert refused(await client.post("/login", data=form, headers={"Origin": EVIL}))
        own = await client.post("/login", data=form, headers={"Origin": BASE_URL})
        assert own.status_code == 401  # reached the form handler


async def test_bearer_clients_without_cookie_are_not_checked(app):
    token = (await app.client.post("/api/v1/tokens", json={"name": "ci"})).json()["token"]
    async with httpx.AsyncClient(
        transport=app.client._transport,
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}", "Origin": EVIL},
    ) as bearer:
        made = await bearer.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert made.status_code == 201, made.text
        for method, path in unsafe_routes(app.client._transport.app):
            if path.startswith(("/api/", "/s/")):
                assert not refused(await bearer.request(method, path)), (method, path)


async def handshake(application, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    """Open a websocket on the ASGI app; return what the server sent."""
    sent: list[dict] = []
    incoming: asyncio.Queue[dict] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})

    async def receive() -> dict:
        return await incoming.get()

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            await incoming.put({"type": "websocket.disconnect", "code": message.get("code")})

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "subprotocols": [],
        "app": application,
    }
    await asyncio.wait_for(application(scope, receive, send), 10)
    return sent


def closed_for_csrf(sent: list[dict]) -> bool:
    return any(m["type"] == "websocket.close" and m.get("reason") == "csrf_refused" for m in sent)


async def test_every_websocket_refuses_a_cookie_handshake_from_another_origin(app):
    application = app.client._transport.app
    cookie = "; ".join(f"{k}={v}" for k, v in app.client.cookies.items()).encode()
    for path in websocket_paths(application):
        evil = await handshake(application, path, [(b"cookie", cookie), (b"origin", EVIL.encode())])
        assert closed_for_csrf(evil), path
        assert evil[-1]["code"] == 4403
        bare = await handshake(application, path, [(b"cookie", cookie)])
        assert closed_for_csrf(bare), path
        own = await handshake(
            application, path, [(b"cookie", cookie), (b"origin", BASE_URL.encode())]
        )
        assert not closed_for_csrf(own), path
        assert own, path  # the route answered (a close naming why, e.g. no such session)
        bearer = await handshake(
            application, path, [(b"authorization", b"Bearer x"), (b"origin", EVIL.encode())]
        )
        assert not closed_for_csrf(bearer), path


@pytest.mark.parametrize(
    "given,expected",
    [
        ("HTTP://Example.org:80", "http://example.org"),
        ("https://example.org:443/", "https://example.org"),
        ("https://example.org:8443", "https://example.org:8443"),
        ("null", None),
        ("ftp://example.org", None),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origins_compare_without_case_or_default_port(given, expected):
    assert normalise_origin(given) == expected


async def test_trusted_origins_setting_is_accepted(tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from moorage.security.csrf import CsrfGuard

    async def ok(request):
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/api/v1/x", ok, methods=["POST"])])
    guarded = CsrfGuard(inner, trusted_origins=["https://moorage.example.org"])
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as c:
        c.cookies.set("moorage_login", "t")
        trusted = {"Origin": "https://moorage.example.org"}
        assert (await c.post("/api/v1/x", headers=trusted)).status_code == 200
        assert (await c.post("/api/v1/x", headers={"Origin": EVIL})).status_code == 403
