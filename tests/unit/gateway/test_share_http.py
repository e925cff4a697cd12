"""Share grants on web apps (kind ``http``): an observer's unsafe methods never reach
the app, on Moorage's own origin and on the workspace origin; a peer's do; the grant
cookie never reaches the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from moorage.gateway.workspace_app import workspace_app
from moorage.services.shares import grant_cookie_name
from tests.unit.gateway.test_workspace_origin import MOORAGE, WORKSPACES, moorage, ticket_of


@pytest.fixture
async def recording_app() -> AsyncIterator[tuple[int, list[tuple[str, str, str]]]]:
    """A web app that records (method, path, cookie header) of every request it gets."""
    seen: list[tuple[str, str, str]] = []

    async def page(request: web.Request) -> web.Response:
        seen.append((request.method, request.path, request.headers.get("Cookie", "")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1], seen  # type: ignore[union-attr]
    await runner.cleanup()


async def _guest(admin: httpx.AsyncClient, session_id: str, role: str) -> httpx.AsyncClient:
    """A browser without login holding a grant of ``role`` to the session."""
    made = await admin.post(f"/api/v1/sessions/{session_id}/shares", json={"role": role})
    assert made.status_code == 201, made.text
    guest = httpx.AsyncClient(
        transport=admin._transport, base_url=MOORAGE, headers={"Origin": MOORAGE}
    )
    path = made.json()["url"].split(MOORAGE, 1)[1]
    opened = await guest.post(path, data={"display_name": role.title()})
    assert opened.status_code == 303, opened.text
    assert guest.cookies.get(grant_cookie_name(session_id))
    return guest


async def test_an_observer_only_gets_safe_methods_through_on_moorages_origin(
    tmp_path, recording_app, monkeypatch
):
    port, seen = recording_app
    async with moorage(tmp_path, port, monkeypatch) as (admin, session, _app):
        sid = session["id"]
        observer = await _guest(admin, sid, "observer")
        peer = await _guest(admin, sid, "peer")
        for method in ("GET", "HEAD", "OPTIONS"):
            assert (await observer.request(method, f"/s/{sid}/look")).status_code == 200
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            refused = await observer.request(method, f"/s/{sid}/act", content=b"rm -rf")
            assert refused.status_code == 403
            assert "read_only" in refused.text
        assert (await peer.post(f"/s/{sid}/act", content=b"ok")).status_code == 200
        assert [(m, p) for m, p, _ in seen] == [
            ("GET", f"/s/{sid}/look"),
            ("HEAD", f"/s/{sid}/look"),
            ("OPTIONS", f"/s/{sid}/look"),
            ("POST", f"/s/{sid}/act"),  # the peer's
        ]
        assert all("moorage_share_" not in cookies for _, _, cookies in seen)
        # Revoked: the app is gone for the observer, as if there were no session.
        links = (await admin.get(f"/api/v1/sessions/{sid}/shares")).json()
        for link in links:
            await admin.delete(f"/api/v1/sessions/{sid}/shares/{link['id']}")
        assert (await observer.get(f"/s/{sid}/look")).status_code == 404
        assert (await peer.post(f"/s/{sid}/act")).status_code == 404
        assert len(seen) == 4
        await observer.aclose()
        await peer.aclose()


async def test_an_observer_on_the_workspace_origin_keeps_its_role(
    tmp_path, recording_app, monkeypatch
):
    port, seen = recording_app
    async with moorage(tmp_path, port, monkeypatch, workspace_port=9000) as (
        admin,
        session,
        app,
    ):
        sid = session["id"]
        observer = await _guest(admin, sid, "observer")
        entry = await observer.get(f"/s/{sid}/tree")
        assert entry.status_code == 303
        origin, ticket = ticket_of(entry)
        assert origin == WORKSPACES
        ws_app = workspace_app(app, app.state.context.settings, moorage_origin=MOORAGE)
        workspace = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ws_app), base_url=WORKSPACES
        )
        redeemed = await workspace.get(f"/s/{sid}/tree?moorage_ticket={ticket}")
        assert redeemed.status_code == 303
        assert (await workspace.get(f"/s/{sid}/tree")).status_code == 200
        posted = await workspace.post(f"/s/{sid}/api/contents", content=b"{}")
        assert posted.status_code == 403
        assert [(m, p) for m, p, _ in seen] == [("GET", f"/s/{sid}/tree")]
        # Revoking the link closes the workspace origin to it too (its cookie outlives it).
        (link,) = (await admin.get(f"/api/v1/sessions/{sid}/shares")).json()
        await admin.delete(f"/api/v1/sessions/{sid}/shares/{link['id']}")
        assert (await workspace.get(f"/s/{sid}/tree")).status_code == 410
        assert len(seen) == 1
        await workspace.aclose()
        await observer.aclose()
