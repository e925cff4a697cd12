"""CORS for the seeds' browser clients (Winux's static page on another origin):
allowed origins on the seed API paths only, no credentials, nothing elsewhere."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from moorage.api.compat._cors import CompatCors
from moorage.app import create_app
from moorage.config import Settings

STATIC = "http://static.example"


async def ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def client(root_path: str = "") -> httpx.AsyncClient:
    inner = Starlette(
        routes=[Route(p, ok, methods=["GET", "POST"]) for p in ("/api/winux/sessions", "/api/v1/x")]
    )
    app = CompatCors(inner, origins=[STATIC], paths=["/api/winux"])
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_static_client_origin_may_call_the_seed_api_and_preflights_are_answered():
    async with client() as c:
        preflight = await c.options(
            "/api/winux/sessions",
            headers={
                "Origin": STATIC,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == STATIC
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers
        listed = await c.get("/api/winux/sessions", headers={"Origin": STATIC})
        assert listed.headers["access-control-allow-origin"] == STATIC


async def test_other_origins_and_other_paths_get_no_cors_headers():
    async with client() as c:
        other = await c.get("/api/winux/sessions", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        moorage = await c.get("/api/v1/x", headers={"Origin": STATIC})
        assert "access-control-allow-origin" not in moorage.headers
    async with client("/winux") as c:  # behind a sub-path (MOORAGE_ROOT_PATH)
        under = await c.get("/winux/api/winux/sessions", headers={"Origin": STATIC})
        assert under.headers["access-control-allow-origin"] == STATIC


def test_the_app_adds_cors_only_with_origins_and_a_seed_api_switched_on():
    def has_cors(settings: Settings) -> bool:
        application = create_app(settings, announce=lambda message: None)
        return any(m.cls is CompatCors for m in application.user_middleware)

    assert has_cors(Settings(compat="winux", compat_cors_origins=STATIC))
    assert not has_cors(Settings(compat="winux"))
    assert not has_cors(Settings(compat_cors_origins=STATIC))
