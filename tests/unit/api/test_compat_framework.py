"""The seed APIs' common parts: settings, who the caller is (cookie, bearer, org API
key, anonymous mapping), the start-up refusal, and routes shared with pages."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError

from moorage.api.compat import ApiClientRoute, exposure_error
from moorage.api.compat._auth import Compat, compat_user
from moorage.config import Settings
from moorage.models.user import Role, User
from tests.unit.conftest import BASE_URL, App


def test_unknown_routers_and_bad_mappings_are_refused_by_name():
    with pytest.raises(ValidationError, match=r"unknown router.*winix"):
        Settings(compat="winux,winix")
    with pytest.raises(ValidationError, match="router=username"):
        Settings(compat="winux", compat_anonymous_users="winux")
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(trusted_proxies="10.0.0.0/33")
    assert Settings(compat="all").compat_router_list == ["winux", "iac", "flowcase", "dashfleet"]
    assert Settings(compat=" Winux , iac").compat_router_list == ["winux", "iac"]


def test_anonymous_mapping_needs_loopback_or_trusted_proxies():
    mapped = Settings(compat="winux", compat_anonymous_users="winux=kiosk")
    assert exposure_error(mapped, "127.0.0.1") is None
    assert exposure_error(mapped, "::1") is None
    assert exposure_error(mapped, "localhost") is None
    refusal = exposure_error(mapped, "0.0.0.0")
    assert refusal is not None and "winux=kiosk" in refusal and "0.0.0.0" in refusal
    behind_proxy = Settings(
        compat="winux", compat_anonymous_users="winux=kiosk", trusted_proxies="10.0.0.5"
    )
    assert exposure_error(behind_proxy, "0.0.0.0") is None
    # A mapping for a router that is switched off exposes nothing.
    off = Settings(compat="iac", compat_anonymous_users="winux=kiosk")
    assert exposure_error(off, "0.0.0.0") is None


async def test_a_route_shared_with_a_page_answers_api_clients_and_leaves_browsers_to_the_page():
    application = FastAPI()
    api = APIRouter(route_class=ApiClientRoute)

    @api.get("/machines")
    async def machines_json() -> dict[str, str]:
        return {"from": "api"}

    @application.get("/machines")
    async def machines_page() -> dict[str, str]:
        return {"from": "page"}

    application.include_router(api)
    application.router.routes.insert(0, application.router.routes.pop())
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        as_curl = await client.get("/machines", headers={"accept": "*/*"})
        as_browser = await client.get(
            "/machines", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        )
    assert as_curl.json() == {"from": "api"}
    assert as_browser.json() == {"from": "page"}


def _probe(app: App) -> None:
    router = APIRouter()

    @router.get("/compat-probe", dependencies=[Compat("winux", Role.MEMBER)])
    async def probe(user: User = compat_user) -> dict[str, str]:
        return {"user": user.username}

    @router.get("/compat-probe/changes", dependencies=[Compat("winux", Role.MEMBER, cookie=False)])
    async def changes(user: User = compat_user) -> dict[str, str]:
        return {"user": user.username}

    @router.get("/compat-probe/operators", dependencies=[Compat("winux", Role.OPERATOR)])
    async def operators(user: User = compat_user) -> dict[str, str]:
        return {"user": user.username}

    app.client._transport.app.include_router(router)


async def test_callers_by_cookie_bearer_org_key_and_anonymous_mapping(app: App, member):
    _probe(app)
    anonymous = httpx.AsyncClient(transport=app.client._transport, base_url=BASE_URL)
    # Cookie: accepted, except on routes that change something on GET.
    assert (await member.get("/compat-probe")).json() == {"user": "alice"}
    refused = await member.get("/compat-probe/changes", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 401 and "X-API-Key" in refused.json()["error"]["message"]
    assert (await member.get("/compat-probe/changes")).status_code == 401
    own_page = await member.get("/compat-probe/changes", headers={"Sec-Fetch-Site": "same-origin"})
    assert own_page.json() == {"user": "alice"}
    # A member is below an operator route.
    assert (await member.get("/compat-probe/operators")).status_code == 403

    # An org API key, as X-API-Key or as a bearer token, is the org's service user.
    created = await app.client.post("/api/v1/orgs", json={"name": "lab", "display_name": "Lab"})
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        answer = await anonymous.get("/compat-probe/changes", headers=headers)
        assert answer.json() == {"user": "lab-api"}, answer.text
        assert (await anonymous.get("/compat-probe/operators", headers=headers)).status_code == 200
    bad = await anonymous.get("/compat-probe", headers={"X-API-Key": key[:-2] + "xx"})
    assert bad.status_code == 401

    # No credential: 401 until the operator maps the router's anonymous callers.
    assert (await anonymous.get("/compat-probe")).status_code == 401
    app.context.settings.compat_anonymous_users = "winux=alice"
    assert (await anonymous.get("/compat-probe")).json() == {"user": "alice"}
    app.context.settings.compat_anonymous_users = "winux=nobody"
    missing = await anonymous.get("/compat-probe")
    assert missing.status_code == 401 and "'nobody'" in missing.json()["error"]["message"]
    await anonymous.aclose()


async def test_org_keys_are_for_admins_and_names_are_checked(app: App, member):
    assert (await member.post("/api/v1/orgs", json={"name": "x"})).status_code == 403
    bad = await app.client.post("/api/v1/orgs", json={"name": "Bad Name"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
    assert (await app.client.post("/api/v1/orgs", json={"name": "lab"})).status_code == 201
    again = await app.client.post("/api/v1/orgs", json={"name": "lab"})
    assert again.status_code == 409
    # A platform admin (the default org's) issues keys of any org; an org's own admin
    # only of theirs (tests/unit/api/test_orgs.py).
    other = await app.client.post("/api/v1/orgs/lab/api-keys", json={})
    assert other.status_code == 201
    own = await app.client.post("/api/v1/orgs/default/api-keys", json={"name": "scripts"})
    assert own.status_code == 201 and own.json()["api_key"].startswith("mrg_")
    me = await app.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {own.json()['api_key']}"}
    )
    assert me.json()["username"] == "default-api" and me.json()["role"] == "operator"
    audit = await app.client.get("/api/v1/audit", params={"action": "org.create"})
    assert [event["object_id"] for event in audit.json()] == ["lab"]


def test_serve_refuses_an_anonymous_mapping_off_loopback(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from moorage.cli.main import app as cli

    monkeypatch.setenv("MOORAGE_COMPAT", "winux")
    monkeypatch.setenv("MOORAGE_COMPAT_ANONYMOUS_USERS", "winux=kiosk")
    monkeypatch.delenv("MOORAGE_TRUSTED_PROXIES", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "MOORAGE_COMPAT_ANONYMOUS_USERS (winux=kiosk)" in result.output
