"""The CSRF guard behind a sub-path (``MOORAGE_ROOT_PATH``) and for API clients
that are not pages: seed API paths outside ``/api/`` and header-authenticated calls."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from moorage.security.csrf import CsrfGuard, route_path
from moorage.security.tokens import LOGIN_COOKIE_NAME

EVIL = "http://evil.example"


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def guarded(root_path: str = "") -> httpx.AsyncClient:
    inner = Starlette(
        routes=[
            Route(path, echo, methods=["POST", "DELETE"])
            for path in ("/api/x", "/machines", "/machines/{n}", "/login")
        ]
    )
    app = CsrfGuard(inner, api_paths=["/machines"])
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def test_route_path_drops_the_root_path_only_as_a_whole_segment():
    assert route_path({"path": "/winux/api/x", "root_path": "/winux"}) == "/api/x"
    assert route_path({"path": "/winux", "root_path": "/winux"}) == "/"
    assert route_path({"path": "/winuxes/api", "root_path": "/winux"}) == "/winuxes/api"
    assert route_path({"path": "/api/x"}) == "/api/x"


async def test_under_a_root_path_api_calls_pass_and_cross_site_cookies_are_refused():
    async with guarded("/winux") as client:
        assert (await client.post("/winux/api/x")).status_code == 200  # no cookie: an API call
        cookie = {"Cookie": f"{LOGIN_COOKIE_NAME}=t"}
        refused = await client.post("/winux/api/x", headers={**cookie, "Origin": EVIL})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_refused"
        own = await client.post("/winux/api/x", headers={**cookie, "Origin": "http://testserver"})
        assert own.status_code == 200
        # A page (the login form) still needs proof, root path or not.
        assert (await client.post("/winux/login")).status_code == 403


async def test_seed_paths_and_header_authenticated_calls_are_not_pages():
    async with guarded() as client:
        assert (await client.post("/machines")).status_code == 200
        assert (await client.delete("/machines/alpine-1")).status_code == 200
        assert (await client.post("/login")).status_code == 403
        bearer = await client.post("/login", headers={"Authorization": "Bearer t"})
        assert bearer.status_code == 200
        assert (await client.post("/login", headers={"X-API-Key": "k"})).status_code == 200
        # With the login cookie, a foreign origin is refused whatever else it sends.
        cookie = {"Cookie": f"{LOGIN_COOKIE_NAME}=t", "Authorization": "Bearer t"}
        refused = await client.delete("/machines/a", headers={**cookie, "Origin": EVIL})
        assert refused.status_code == 403
