"""Where workspace web apps are served: sandboxed on Moorage's origin (no setting),
or on their own origin (MOORAGE_WORKSPACE_PORT / MOORAGE_WORKSPACE_DOMAIN) behind a
one-time ticket and a per-session cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from moorage.gateway import workspace_origin
from moorage.gateway.http_proxy import SANDBOX_CSP
from moorage.gateway.workspace_app import workspace_app
from moorage.models.session import WorkspaceSession
from moorage.services.kinds.http import HttpKind
from tests.databases import fresh_database

PASSWORD = "workspace-origin-admin-pw"
MOORAGE = "http://moorage.test:8000"
WORKSPACES = "http://moorage.test:9000"


@pytest.fixture
async def upstream() -> AsyncIterator[int]:
    """A web app that sets cookies (its own and one named like Moorage's login),
    forbids framing, and echoes the cookies it receives."""

    async def page(request: web.Request) -> web.Response:
        response = web.Response(text=f"cookies:{request.headers.get('Cookie', '')}")
        response.set_cookie("_xsrf", "app-token", path="/")
        response.set_cookie("moorage_login", "planted", path="/")
        # Its own framing rules, which Moorage replaces with its own.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'; img-src 'self'"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


@asynccontextmanager
async def moorage(tmp_path, upstream: int, monkeypatch, **settings: object):
    """Moorage (fake driver) with the admin logged in, an http template and a ready
    session whose app is ``upstream``; yields (admin client, session id, app)."""

    async def ready(self, started, timeout_seconds):
        return None

    monkeypatch.setattr(HttpKind, "wait_ready", ready)
    driver = FakeDriver(images={"web:1"})
    async with fresh_database(tmp_path) as url:
        config = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr(PASSWORD),
            reconcile_interval_seconds=3600,
            **settings,  # type: ignore[arg-type]
        )
        app = create_app(config, driver_factory=lambda env: driver, announce=lambda m: None)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url=MOORAGE, headers={"Origin": MOORAGE}
            ) as admin:
                login = {"username": "admin", "password": PASSWORD}
                assert (await admin.post("/api/v1/auth/login", json=login)).status_code == 200
                template = {"name": "web", "display_name": "Web", "kind": "http", "image": "web:1"}
                assert (await admin.post("/api/v1/templates", json=template)).status_code == 201
                launched = await admin.post("/api/v1/sessions", json={"template": "web"})
                assert launched.status_code == 201, launched.text
                session_id = launched.json()["id"]
                async with app.state.context.sessionmaker() as db:
                    row = await db.get(WorkspaceSession, session_id)
                    row.ports = {"8888": upstream}
                    await db.commit()
                yield admin, launched.json(), app


async def test_single_origin_mode_sandboxes_the_app_and_drops_its_cookies(
    tmp_path, upstream, monkeypatch
):
    async with moorage(tmp_path, upstream, monkeypatch) as (admin, session, _app):
        assert session["urls"]["app"] == f"{MOORAGE}/s/{session['id']}/"
        page = await admin.get(f"/s/{session['id']}/tree")
        assert page.status_code == 200
        policies = page.headers.get_list("content-security-policy")
        # The app's policy stays without its framing rule; only Moorage's page frames it.
        assert policies == ["img-src 'self'", SANDBOX_CSP, "frame-ancestors 'self'"]
        assert "x-frame-options" not in page.headers
        assert "allow-same-origin" not in SANDBOX_CSP
        assert "set-cookie" not in page.headers
        assert page.text == "cookies:"  # the login cookie is not forwarded


async def test_single_origin_websocket_refuses_another_origin(tmp_path, upstream, monkeypatch):
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    async with moorage(tmp_path, upstream, monkeypatch) as (_admin, session, app):
        # Without the login cookie, so the CSRF guard stays out of it: the /s/
        # socket itself checks Origin (a sandboxed page says null).
        client = TestClient(app, base_url="ws://testserver")
        for origin in ("null", "http://evil.test"):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect(
                    f"/s/{session['id']}/api/kernels/x/channels", headers={"Origin": origin}
                ),
            ):
                pass
            assert refused.value.code == 4403
        with (
            pytest.raises(WebSocketDisconnect) as unknown,
            client.websocket_connect(
                f"/s/{session['id']}/api/kernels/x/channels",
                headers={"Origin": "http://testserver"},
            ),
        ):
            pass
        assert unknown.value.code == 4404  # same origin, but not logged in


def ticket_of(response: httpx.Response) -> tuple[str, str]:
    location = response.headers["location"]
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["moorage_ticket"][0]


async def test_port_mode_ticket_flow_and_cookie_separation(tmp_path, upstream, monkeypatch):
    async with moorage(tmp_path, upstream, monkeypatch, workspace_port=9000) as (
        admin,
        session,
        app,
    ):
        sid = session["id"]
        assert session["urls"]["app"] == f"{WORKSPACES}/s/{sid}/"
        ws_app = workspace_app(app, app.state.context.settings, moorage_origin=MOORAGE)
        transport = httpx.ASGITransport(app=ws_app)
        workspace = httpx.AsyncClient(transport=transport, base_url=WORKSPACES)

        # Moorage checks the login, then redirects with a ticket; it proxies nothing.
        entry = await admin.get(f"/s/{sid}/tree?x=1")
        assert entry.status_code == 303
        origin, ticket = ticket_of(entry)
        assert origin == WORKSPACES and "x=1" in entry.headers["location"]
        assert (await admin.post(f"/s/{sid}/api/kernels")).status_code == 404
        assert (
            await httpx.AsyncClient(transport=admin._transport, base_url=MOORAGE).get(f"/s/{sid}/")
        ).status_code == 404  # anonymous

        # Moorage's login cookie is worth nothing on the workspace origin.
        login = admin.cookies.get("moorage_login")
        refused = await workspace.get(f"/s/{sid}/tree", cookies={"moorage_login": login})
        assert refused.status_code == 303 and refused.headers["location"].startswith(MOORAGE)
        posted = await workspace.post(f"/s/{sid}/api/x", cookies={"moorage_login": login})
        assert posted.status_code == 401

        # The ticket buys a cookie for this session only, then a clean URL.
        redeemed = await workspace.get(f"/s/{sid}/tree?x=1&moorage_ticket={ticket}")
        assert redeemed.status_code == 303
        assert redeemed.headers["location"] == f"/s/{sid}/tree?x=1"
        set_cookie = redeemed.headers["set-cookie"]
        assert set_cookie.startswith(f"moorage_ws_{sid}=")
        assert "HttpOnly" in set_cookie and f"Path=/s/{sid}/" in set_cookie
        cookie = workspace.cookies.get(f"moorage_ws_{sid}")
        assert cookie

        # Single use.
        again = await httpx.AsyncClient(transport=workspace._transport, base_url=WORKSPACES).get(
            f"/s/{sid}/tree?moorage_ticket={ticket}"
        )
        assert again.status_code == 401

        # With the cookie the app answers: no sandbox, its own cookies pass, Moorage's don't.
        both = f"moorage_ws_{sid}={cookie}; moorage_login={login}"
        page = await workspace.get(f"/s/{sid}/tree", headers={"Cookie": both})
        assert page.status_code == 200
        # No sandbox; Moorage's app page (and the app itself) may frame it, nobody else.
        assert page.headers.get_list("content-security-policy") == [
            "img-src 'self'",
            f"frame-ancestors 'self' {MOORAGE}",
        ]
        assert "x-frame-options" not in page.headers
        cookies = page.headers.get_list("set-cookie")
        assert any(c.startswith("_xsrf=") for c in cookies)
        assert not any(c.startswith("moorage_login=") for c in cookies)
        assert page.text == "cookies:"  # neither Moorage cookie reaches the app

        # Websockets: only from the workspace origin itself, and only with its cookie.
        from starlette.testclient import TestClient
        from starlette.websockets import WebSocketDisconnect

        sockets = TestClient(ws_app, base_url=WORKSPACES.replace("http", "ws"))
        path = f"/s/{sid}/api/kernels/k/channels"
        for origin, cookies, code in [
            (MOORAGE, {f"moorage_ws_{sid}": cookie}, 4403),
            ("null", {f"moorage_ws_{sid}": cookie}, 4403),
            (WORKSPACES, {"moorage_login": login}, 4401),
        ]:
            sockets.cookies.clear()
            sockets.cookies.update(cookies)
            with (
                pytest.raises(WebSocketDisconnect) as closed,
                sockets.websocket_connect(
                    path, headers={"Origin": origin, "Host": "moorage.test:9000"}
                ),
            ):
                pass
            assert closed.value.code == code, origin

        # The workspace cookie is not a login on Moorage's API.
        api = httpx.AsyncClient(transport=admin._transport, base_url=MOORAGE)
        users = await api.get("/api/v1/users", cookies={f"moorage_ws_{sid}": cookie})
        assert users.status_code == 401
        await api.aclose()
        await workspace.aclose()


async def test_tickets_expire_and_name_one_session(tmp_path):
    from moorage.errors import Unauthenticated
    from moorage.security.crypto import load_keyring

    keyring = load_keyring(tmp_path, None, None)
    ticket = workspace_origin.issue_ticket(keyring, "s1", "u1", now=1000.0)
    with pytest.raises(Unauthenticated):
        workspace_origin.redeem_ticket(keyring, ticket, "s1", now=1061.0)
    with pytest.raises(Unauthenticated):
        workspace_origin.redeem_ticket(keyring, ticket, "s2", now=1001.0)
    cookie = workspace_origin.issue_cookie(keyring, "s1", "u1", now=1000.0)
    with pytest.raises(Unauthenticated):  # a cookie is not a ticket
        workspace_origin.redeem_ticket(keyring, cookie, "s1", now=1001.0)
    with pytest.raises(Unauthenticated):  # nor a ticket a cookie
        workspace_origin.read_cookie(keyring, ticket, "s1", now=1001.0)
    granted = workspace_origin.redeem_ticket(keyring, ticket, "s1", now=1059.0)
    assert granted.user_id == "u1"
    with pytest.raises(Unauthenticated):
        workspace_origin.redeem_ticket(keyring, ticket, "s1", now=1059.5)


async def test_domain_mode_serves_one_host_per_session(tmp_path, upstream, monkeypatch):
    async with moorage(tmp_path, upstream, monkeypatch, workspace_domain="ws.test") as (
        admin,
        session,
        _app,
    ):
        sid = session["id"]
        assert session["urls"]["app"] == f"http://{sid}.ws.test:8000/s/{sid}/"
        entry = await admin.get(f"/s/{sid}/")
        origin, ticket = ticket_of(entry)
        assert origin == f"http://{sid}.ws.test:8000"
        host = httpx.AsyncClient(transport=admin._transport, base_url=origin)
        redeemed = await host.get(f"/s/{sid}/?moorage_ticket={ticket}")
        assert redeemed.status_code == 303
        page = await host.get(f"/s/{sid}/")
        assert page.status_code == 200 and page.text == "cookies:"
        other = httpx.AsyncClient(transport=admin._transport, base_url="http://other.ws.test:8000")
        assert (await other.get(f"/s/{sid}/")).status_code in (401, 404)
        await host.aclose()
        await other.aclose()
