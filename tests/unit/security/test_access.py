"""The authorization matrix over the whole route table: every route (API, ``/ui``
forms, pages, websockets, ``/s/``) declares exactly one :class:`Access`, the
declarations equal the table below, and callers of each of the six roles
(anonymous, viewer, member, instructor, operator, admin) are refused below the
declared role and let through at or above it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute

from moorage.models.user import Role, User
from moorage.security.access import declarations_of
from moorage.security.rbac import has_role
from tests.unit.conftest import BASE_URL, SAME_ORIGIN, App
from tests.unit.security.test_csrf import fill, flat_routes

# (method, path) -> who may call it: "public", "agent" (the handler checks the
# agent's token), "owner" (any user; the service or gateway checks the object is
# theirs), "shared" (the gateway admits the owner or a share grant's holder), or
# the least role. "WS" marks a websocket.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/api/openapi.json"): "public",
    ("GET", "/api/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/static"): "public",
    ("GET", "/favicon.ico"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/logout"): "viewer",
    ("GET", "/api/v1/auth/me"): "viewer",
    ("GET", "/api/v1/health"): "public",
    ("GET", "/api/v1/reconciler"): "admin",
    ("GET", "/metrics"): "admin",
    ("POST", "/api/v1/sessions"): "member",
    ("GET", "/api/v1/sessions"): "viewer",
    ("GET", "/api/v1/sessions/{session_id}"): "owner",
    ("POST", "/api/v1/sessions/{session_id}/extend"): "owner",
    ("POST", "/api/v1/sessions/{session_id}/stop"): "owner",
    ("POST", "/api/v1/sessions/{session_id}/start"): "owner",
    ("DELETE", "/api/v1/sessions/{session_id}"): "owner",
    ("GET", "/api/v1/sessions/{session_id}/rdp"): "owner",
    ("POST", "/api/v1/sessions/{session_id}/keep"): "owner",
    # Any user may ask; services.watching.may_watch then lets the owner, the org's
    # operators and admins, and the instructor of the session's workshop see it,
    # and answers 404 to everyone else.
    ("GET", "/api/v1/sessions/{session_id}/thumbnail"): "owner",
    ("GET", "/api/v1/recordings"): "viewer",
    ("GET", "/api/v1/recordings/{recording_id}"): "owner",
    ("GET", "/api/v1/recordings/{recording_id}/file"): "owner",
    ("GET", "/api/v1/recording-policy"): "admin",
    ("PATCH", "/api/v1/recording-policy"): "admin",
    ("GET", "/api/v1/templates"): "viewer",
    ("GET", "/api/v1/templates/{ref}"): "viewer",
    ("POST", "/api/v1/templates"): "admin",
    ("PATCH", "/api/v1/templates/{ref}"): "admin",
    ("DELETE", "/api/v1/templates/{ref}"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("POST", "/api/v1/tokens"): "viewer",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("DELETE", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/{user_id}/password-reset"): "admin",
    ("GET", "/api/v1/tokens"): "viewer",
    ("DELETE", "/api/v1/tokens/{token_id}"): "owner",
    ("POST", "/api/v1/account/password"): "viewer",
    # Two-factor: everyone manages only their own (the service takes the caller, no
    # id in the path); resetting another user's is for admins of their org.
    ("POST", "/api/v1/account/two-factor"): "viewer",
    ("POST", "/api/v1/account/two-factor/confirm"): "viewer",
    ("POST", "/api/v1/account/two-factor/recovery-codes"): "viewer",
    ("DELETE", "/api/v1/account/two-factor"): "viewer",
    ("DELETE", "/api/v1/users/{user_id}/two-factor"): "admin",
    # OpenID Connect providers (issue 13): an org's admins only (another org's get 404,
    # tests/unit/api/test_directory_oidc.py); the sign-in routes are the login page's.
    ("GET", "/api/v1/directory/oidc"): "admin",
    ("POST", "/api/v1/directory/oidc"): "admin",
    ("PATCH", "/api/v1/directory/oidc/{name}"): "admin",
    ("DELETE", "/api/v1/directory/oidc/{name}"): "admin",
    ("GET", "/admin/directory"): "admin",
    ("POST", "/admin/directory/oidc"): "admin",
    ("POST", "/admin/directory/oidc/{name}"): "admin",
    ("POST", "/admin/directory/oidc/{name}/delete"): "admin",
    ("GET", "/login/oidc/{name}"): "public",
    ("GET", "/login/oidc/{name}/callback"): "public",
    ("GET", "/login/oidc/{name}/logout"): "public",
    # LDAP settings of the caller's own org (no org in the path): admins only.
    ("GET", "/api/v1/directory/ldap"): "admin",
    ("PUT", "/api/v1/directory/ldap"): "admin",
    ("POST", "/api/v1/directory/ldap/test"): "admin",
    ("POST", "/api/v1/directory/ldap/sync"): "admin",
    ("PATCH", "/api/v1/orgs/{name}"): "admin",
    ("GET", "/api/v1/orgs/{name}"): "admin",
    ("DELETE", "/api/v1/orgs/{name}"): "admin",
    ("GET", "/api/v1/orgs"): "admin",
    ("POST", "/api/v1/orgs/{name}/api-keys/rotate"): "admin",
    ("GET", "/api/v1/groups"): "admin",
    ("POST", "/api/v1/groups"): "admin",
    ("GET", "/api/v1/groups/{name}"): "admin",
    ("PATCH", "/api/v1/groups/{name}"): "admin",
    ("DELETE", "/api/v1/groups/{name}"): "admin",
    ("GET", "/api/v1/templates/{ref}/groups"): "admin",
    ("PUT", "/api/v1/templates/{ref}/groups"): "admin",
    ("GET", "/api/v1/pools/{name}/groups"): "admin",
    ("PUT", "/api/v1/pools/{name}/groups"): "admin",
    ("GET", "/api/v1/orgs/{name}/quota"): "admin",
    ("PATCH", "/api/v1/orgs/{name}/quota"): "admin",
    ("GET", "/admin/users"): "admin",
    ("POST", "/admin/users"): "admin",
    ("POST", "/admin/users/{user_id}"): "admin",
    ("POST", "/admin/users/{user_id}/disable"): "admin",
    ("POST", "/admin/users/{user_id}/enable"): "admin",
    ("POST", "/admin/users/{user_id}/reset-password"): "admin",
    ("POST", "/admin/users/{user_id}/delete"): "admin",
    ("GET", "/admin/groups"): "admin",
    ("POST", "/admin/groups"): "admin",
    ("POST", "/admin/groups/{name}"): "admin",
    ("GET", "/admin/orgs"): "admin",
    ("POST", "/admin/orgs"): "admin",
    ("POST", "/admin/orgs/{name}"): "admin",
    ("POST", "/admin/orgs/{name}/rotate-key"): "admin",
    ("POST", "/admin/orgs/{name}/delete"): "admin",
    ("POST", "/admin/groups/{name}/delete"): "admin",
    ("POST", "/admin/quota"): "admin",
    ("POST", "/admin/templates/{ref}/groups"): "admin",
    ("POST", "/admin/pools/{name}/groups"): "admin",
    ("GET", "/account"): "viewer",
    ("POST", "/account/password"): "viewer",
    ("POST", "/account/tokens"): "viewer",
    ("POST", "/account/tokens/{token_id}/revoke"): "owner",
    ("POST", "/account/two-factor"): "viewer",
    ("POST", "/account/two-factor/confirm"): "viewer",
    ("POST", "/account/two-factor/recovery-codes"): "viewer",
    ("POST", "/account/two-factor/disable"): "viewer",
    ("POST", "/admin/two-factor-policy"): "admin",
    ("POST", "/admin/directory"): "admin",
    ("POST", "/admin/directory/test"): "admin",
    ("POST", "/admin/directory/sync"): "admin",
    ("POST", "/admin/users/{user_id}/reset-two-factor"): "admin",
    ("GET", "/signup"): "public",
    ("POST", "/signup"): "public",
    ("POST", "/api/v1/orgs"): "admin",
    ("GET", "/api/droplets"): "viewer",
    ("GET", "/api/droplets/stats"): "viewer",
    ("POST", "/api/instance/request"): "member",
    ("GET", "/api/instances"): "viewer",
    ("POST", "/api/instances/{instance_id}/start"): "member",
    ("POST", "/api/instances/{instance_id}/stop"): "member",
    ("GET", "/api/instance/{instance_id}/destroy"): "viewer",
    ("GET", "/api/winux/health"): "public",
    ("GET", "/api/winux/sessions"): "viewer",
    ("POST", "/api/winux/sessions"): "member",
    ("GET", "/api/winux/sessions/{session_id}"): "viewer",
    ("DELETE", "/api/winux/sessions/{session_id}"): "viewer",
    ("POST", "/api/winux/cleanup"): "operator",
    ("GET", "/healthz"): "public",
    ("GET", "/available"): "viewer",
    ("POST", "/machines"): "operator",
    ("DELETE", "/machines/{name}"): "operator",
    ("GET", "/reserve"): "member",
    ("GET", "/release_all"): "admin",
    ("POST", "/api/fleet/report"): "agent",
    ("GET", "/api/fleet"): "operator",
    ("GET", "/api/stats"): "operator",
    ("GET", "/api/status"): "operator",
    ("GET", "/api/history"): "operator",
    ("POST", "/api/action"): "agent",
    ("POST", "/api/agent/link"): "agent",
    ("GET", "/download/agent/{token}"): "agent",
    ("POST", "/api/orgs"): "admin",
    ("POST", "/api/v1/orgs/{name}/api-keys"): "admin",
    ("DELETE", "/api/v1/users/{username}/sign-in-lock"): "admin",
    ("GET", "/api/v1/machines"): "operator",
    ("POST", "/api/v1/machines"): "operator",
    ("POST", "/api/v1/machines/import"): "operator",
    ("GET", "/api/v1/machines/{name}"): "operator",
    ("PATCH", "/api/v1/machines/{name}"): "operator",
    ("DELETE", "/api/v1/machines/{name}"): "operator",
    ("GET", "/api/v1/pools"): "viewer",
    ("PATCH", "/api/v1/pools/{name}"): "operator",
    ("GET", "/api/v1/playbooks"): "operator",
    ("POST", "/api/v1/pools/{name}/provision"): "operator",
    ("GET", "/api/v1/pools/{name}/provision-runs"): "operator",
    ("GET", "/api/v1/provision-runs/{run_id}"): "operator",
    ("GET", "/api/v1/availability"): "viewer",
    ("POST", "/api/v1/reservations"): "member",
    ("GET", "/api/v1/reservations"): "viewer",
    ("POST", "/api/v1/reservations/release-all"): "owner",
    ("GET", "/api/v1/reservations/{reservation_id}"): "owner",
    ("POST", "/api/v1/reservations/{reservation_id}/extend"): "owner",
    ("DELETE", "/api/v1/reservations/{reservation_id}"): "owner",
    ("GET", "/api/v1/environments"): "operator",
    ("POST", "/api/v1/environments"): "operator",
    ("GET", "/api/v1/environments/{env}"): "operator",
    ("PATCH", "/api/v1/environments/{env}"): "operator",
    ("DELETE", "/api/v1/environments/{env}"): "operator",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/environments/{env}/containers"): "operator",
    ("POST", "/api/v1/environments/{env}/containers"): "operator",
    ("GET", "/api/v1/environments/{env}/containers/{ref}"): "operator",
    ("POST", "/api/v1/environments/{env}/containers/{ref}/rename"): "operator",
    ("POST", "/api/v1/environments/{env}/containers/{ref}/{action}"): "operator",
    ("DELETE", "/api/v1/environments/{env}/containers/{ref}"): "operator",
    ("GET", "/api/v1/environments/{env}/containers/{ref}/logs"): "operator",
    ("GET", "/api/v1/environments/{env}/containers/{ref}/stats"): "operator",
    ("WS", "/api/v1/environments/{env}/containers/{ref}/exec"): "operator",
    ("GET", "/api/v1/environments/{env}/image-updates"): "operator",
    ("GET", "/api/v1/environments/{env}/image-updates/{kind}/{name}"): "operator",
    ("PUT", "/api/v1/environments/{env}/image-updates/{kind}/{name}"): "operator",
    ("DELETE", "/api/v1/environments/{env}/image-updates/{kind}/{name}"): "operator",
    ("POST", "/api/v1/environments/{env}/image-updates/{kind}/{name}/check"): "operator",
    ("GET", "/api/v1/environments/{env}/events"): "operator",
    ("GET", "/api/v1/environments/{env}/images"): "operator",
    ("GET", "/api/v1/environments/{env}/images/{ref:path}"): "operator",
    ("DELETE", "/api/v1/environments/{env}/images/{ref:path}"): "operator",
    ("POST", "/api/v1/environments/{env}/images/pull"): "operator",
    ("POST", "/api/v1/environments/{env}/images/tag"): "operator",
    ("GET", "/api/v1/registries"): "operator",
    ("PUT", "/api/v1/registries/{host}"): "operator",
    ("DELETE", "/api/v1/registries/{host}"): "operator",
    ("GET", "/api/v1/environments/{env}/volumes"): "operator",
    ("POST", "/api/v1/environments/{env}/volumes"): "operator",
    ("DELETE", "/api/v1/environments/{env}/volumes/{name}"): "operator",
    ("GET", "/api/v1/environments/{env}/volumes/{name}/files"): "operator",
    ("GET", "/api/v1/environments/{env}/volumes/{name}/file"): "operator",
    ("POST", "/api/v1/environments/{env}/volumes/{name}/files"): "operator",
    ("DELETE", "/api/v1/environments/{env}/volumes/{name}/files"): "operator",
    ("POST", "/api/v1/environments/{env}/{kind}/prune"): "operator",
    ("GET", "/api/v1/environments/{env}/networks"): "operator",
    ("GET", "/api/v1/environments/{env}/networks/{ref}"): "operator",
    ("POST", "/api/v1/environments/{env}/networks"): "operator",
    ("DELETE", "/api/v1/environments/{env}/networks/{ref}"): "operator",
    ("POST", "/api/v1/environments/{env}/networks/{ref}/{action}"): "operator",
    ("GET", "/api/v1/environments/{env}/stacks"): "operator",
    ("POST", "/api/v1/environments/{env}/stacks"): "operator",
    ("PUT", "/api/v1/environments/{env}/stacks/{name}"): "operator",
    ("GET", "/api/v1/environments/{env}/stacks/{name}"): "operator",
    ("GET", "/api/v1/environments/{env}/stacks/{name}/logs"): "operator",
    ("POST", "/api/v1/environments/{env}/stacks/{name}/adopt"): "operator",
    ("DELETE", "/api/v1/environments/{env}/stacks/{name}"): "operator",
    ("POST", "/api/v1/environments/{env}/stacks/{name}/{action}"): "operator",
    ("POST", "/api/v1/environments/{env}/stacks/{name}/git/check"): "operator",
    ("POST", "/api/v1/environments/{env}/stacks/{name}/git/approve"): "operator",
    ("POST", "/api/v1/stacks/webhooks/{stack_id}"): "public",
    ("POST", "/api/v1/agents/enroll"): "agent",
    ("POST", "/api/v1/agents/report"): "agent",
    ("WS", "/api/v1/agents/tunnel"): "agent",
    ("POST", "/api/v1/agents/actions/{run_id}/result"): "agent",
    ("POST", "/api/v1/agents/actions/{run_id}/file"): "agent",
    ("POST", "/api/v1/install-links"): "operator",
    ("GET", "/api/v1/install/{token}"): "agent",
    ("GET", "/api/v1/agent.py"): "public",
    ("GET", "/api/v1/agent.service"): "public",
    ("POST", "/api/v1/enrollment-tokens"): "operator",
    ("GET", "/api/v1/enrollment-tokens"): "operator",
    ("DELETE", "/api/v1/enrollment-tokens/{token_id}"): "operator",
    ("GET", "/api/v1/nodes"): "operator",
    ("GET", "/api/v1/nodes/stream"): "operator",
    ("GET", "/api/v1/nodes/{ref}"): "operator",
    ("PATCH", "/api/v1/nodes/{ref}"): "operator",
    ("DELETE", "/api/v1/nodes/{ref}"): "operator",
    ("GET", "/api/v1/nodes/{ref}/metrics"): "operator",
    ("GET", "/api/v1/actions"): "operator",
    ("PUT", "/api/v1/actions/{name}"): "operator",
    ("DELETE", "/api/v1/actions/{name}"): "operator",
    ("POST", "/api/v1/nodes/{ref}/actions"): "operator",
    ("GET", "/api/v1/nodes/{ref}/actions"): "operator",
    ("GET", "/api/v1/nodes/{ref}/actions/{run_id}/file"): "operator",
    ("POST", "/api/v1/nodes/{ref}/action-catalog/{name}"): "operator",
    ("GET", "/api/v1/action-catalog"): "operator",
    ("PUT", "/api/v1/action-catalog/{name}"): "operator",
    ("GET", "/api/v1/alert-rules"): "operator",
    ("POST", "/api/v1/alert-rules"): "operator",
    ("PUT", "/api/v1/alert-rules/{rule_id}"): "operator",
    ("PATCH", "/api/v1/alert-rules/{rule_id}"): "operator",
    ("DELETE", "/api/v1/alert-rules/{rule_id}"): "operator",
    ("GET", "/api/v1/alerts"): "operator",
    ("GET", "/api/v1/notification-channels"): "operator",
    ("POST", "/api/v1/notification-channels"): "operator",
    ("DELETE", "/api/v1/notification-channels/{channel_id}"): "operator",
    ("POST", "/api/v1/notification-channels/{channel_id}/test"): "operator",
    ("WS", "/api/v1/sessions/{session_id}/guacamole"): "owner",
    ("WS", "/api/v1/sessions/{session_id}/vnc"): "shared",
    ("WS", "/api/v1/sessions/{session_id}/terminal"): "shared",
    ("DELETE", "/s/{session_id}/{path:path}"): "shared",
    ("GET", "/s/{session_id}/{path:path}"): "shared",
    ("OPTIONS", "/s/{session_id}/{path:path}"): "shared",
    ("PATCH", "/s/{session_id}/{path:path}"): "shared",
    ("POST", "/s/{session_id}/{path:path}"): "shared",
    ("PUT", "/s/{session_id}/{path:path}"): "shared",
    ("WS", "/s/{session_id}/{path:path}"): "shared",
    ("POST", "/api/v1/sessions/{session_id}/shares"): "owner",
    ("GET", "/api/v1/sessions/{session_id}/shares"): "owner",
    ("DELETE", "/api/v1/sessions/{session_id}/shares/{link_id}"): "owner",
    ("GET", "/api/v1/sessions/{session_id}/connections"): "owner",
    ("DELETE", "/api/v1/sessions/{session_id}/connections/{connection_id}"): "owner",
    ("POST", "/api/v1/workshops"): "instructor",
    ("GET", "/api/v1/workshops"): "instructor",
    ("POST", "/api/v1/workshops/join"): "public",
    ("GET", "/api/v1/workshops/{workshop_id}"): "instructor",
    ("GET", "/api/v1/workshops/{workshop_id}/participants"): "instructor",
    ("POST", "/api/v1/workshops/{workshop_id}/participants/{participant_id}/reset"): "instructor",
    ("POST", "/api/v1/workshops/{workshop_id}/participants/{participant_id}/observe"): (
        "instructor"
    ),
    ("POST", "/api/v1/workshops/{workshop_id}/extend"): "instructor",
    ("POST", "/api/v1/workshops/{workshop_id}/end"): "instructor",
    ("POST", "/api/v1/workshops/{workshop_id}/broadcast"): "instructor",
    ("GET", "/join"): "public",
    ("GET", "/join/{code}"): "public",
    ("POST", "/join/{code}"): "public",
    ("GET", "/ui/sessions/{session_id}/workshop"): "owner",
    ("GET", "/workshops"): "instructor",
    ("POST", "/ui/workshops"): "instructor",
    ("GET", "/workshops/{workshop_id}"): "instructor",
    ("GET", "/share/{token}"): "public",
    ("POST", "/share/{token}"): "public",
    ("GET", "/shared/{session_id}"): "shared",
    ("GET", "/ui/shared/{session_id}/state"): "shared",
    ("GET", "/ui/sessions/{session_id}/sharing"): "owner",
    ("POST", "/ui/sessions/{session_id}/shares"): "owner",
    ("POST", "/ui/sessions/{session_id}/shares/{link_id}/revoke"): "owner",
    ("POST", "/ui/sessions/{session_id}/connections/{connection_id}/disconnect"): "owner",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/language"): "public",
    ("POST", "/logout"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/ui/sessions"): "viewer",
    ("GET", "/ui/sessions/events"): "viewer",
    ("POST", "/ui/sessions"): "member",
    ("GET", "/sessions/{session_id}"): "owner",
    ("GET", "/sessions/{session_id}/app"): "owner",
    ("GET", "/ui/sessions/{session_id}/ended"): "owner",
    ("POST", "/ui/sessions/{session_id}/extend"): "owner",
    ("POST", "/ui/sessions/{session_id}/stop"): "owner",
    ("POST", "/ui/sessions/{session_id}/start"): "owner",
    ("POST", "/ui/sessions/{session_id}/end"): "owner",
    ("GET", "/admin/templates"): "admin",
    ("POST", "/admin/templates"): "admin",
    ("POST", "/admin/templates/{ref}"): "admin",
    ("POST", "/admin/templates/{ref}/delete"): "admin",
    ("GET", "/reservations"): "viewer",
    ("POST", "/ui/reservations"): "member",
    ("POST", "/ui/reservations/{reservation_id}/extend"): "owner",
    ("POST", "/ui/reservations/{reservation_id}/release"): "owner",
    ("GET", "/machines"): "operator",
    ("POST", "/ui/machines/import"): "operator",
    ("POST", "/ui/machines/{name}/maintenance"): "operator",
    ("POST", "/ui/machines/{name}/delete"): "operator",
    ("GET", "/provisioning"): "operator",
    ("POST", "/ui/provisioning"): "operator",
    ("GET", "/provisioning/{run_id}"): "operator",
    ("GET", "/environments"): "operator",
    ("GET", "/environments/{env}/containers"): "operator",
    ("POST", "/ui/environments/{env}/containers/{ref}/{action}"): "operator",
    ("POST", "/ui/environments/{env}/image-updates/{kind}/{name}/check"): "operator",
    ("GET", "/environments/{env}/containers/{ref}/logs"): "operator",
    ("GET", "/environments/{env}/containers/{ref}/exec"): "operator",
    ("GET", "/environments/{env}/images"): "operator",
    ("GET", "/environments/{env}/volumes"): "operator",
    ("GET", "/environments/{env}/networks"): "operator",
    ("GET", "/environments/{env}/stacks"): "operator",
    ("GET", "/environments/{env}/events"): "operator",
    ("GET", "/admin/audit"): "admin",
    ("GET", "/admin/sessions"): "admin",
    ("GET", "/admin/recordings"): "admin",
    ("POST", "/ui/recording-policy"): "admin",
    ("GET", "/recordings/{recording_id}"): "owner",
    ("GET", "/fleet"): "operator",
    ("GET", "/fleet/nodes/{ref}"): "operator",
    ("GET", "/fleet/alerts"): "operator",
    ("GET", "/fleet/enroll"): "operator",
}
ROLES = ["viewer", "member", "instructor", "operator", "admin"]
# Streams that never end; their guard is the same dependency, checked by refusals.
ENDLESS = {"/api/v1/nodes/stream", "/ui/sessions/events"}


def declared_table(application) -> dict[tuple[str, str], list[str]]:
    table: dict[tuple[str, str], list[str]] = {}
    for route, path, methods in flat_routes(application):
        if isinstance(route, APIWebSocketRoute):
            keys = ["WS"]
        else:
            keys = sorted(methods - {"HEAD"}) or ["GET"]
        for method in keys:
            table[(method, path)] = [str(access) for access in declarations_of(route, path)]
    return table


def test_every_route_declares_exactly_one_access(app: App):
    table = declared_table(app.client._transport.app)
    assert len(table) > 150  # the table was really walked
    wrong = {key: found for key, found in table.items() if len(found) != 1}
    assert wrong == {}


def test_the_declarations_match_the_expected_matrix(app: App):
    table = declared_table(app.client._transport.app)
    declared = {key: found[0] for key, found in table.items() if found}
    missing = sorted(set(declared) - set(EXPECTED))
    assert missing == [], "routes missing from the matrix"
    assert sorted(set(EXPECTED) - set(declared)) == [], "matrix rows without a route"
    assert {key: declared[key] for key in EXPECTED if declared[key] != EXPECTED[key]} == {}


@pytest.fixture
async def clients(app: App) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One client per role (cookie login) and an anonymous one."""
    made = {
        "anonymous": httpx.AsyncClient(
            transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
        )
    }
    for role in ROLES:
        name = f"{role}-matrix"
        response = await app.client.post(
            "/api/v1/users", json={"username": name, "password": f"{name}-pw", "role": role}
        )
        assert response.status_code == 201, response.text
        made[role] = await app.login(name, f"{name}-pw")
        # As from Moorage's own pages (seed API routes that change something on GET
        # take the cookie only then: moorage.api.compat._auth).
        made[role].headers["Sec-Fetch-Site"] = "same-origin"
    yield made
    for client in made.values():
        await client.aclose()


def may(role: str, required: str) -> bool:
    if required in ("public", "agent", "shared"):
        return True
    if role == "anonymous":
        return False
    least = Role.VIEWER if required == "owner" else Role(required)
    return has_role(User(role=role), least)


def refused(role: str, response: httpx.Response) -> bool:
    if role == "anonymous":
        location = response.headers.get("location", "")
        to_login = response.status_code in (302, 303, 307) and location.startswith("/login")
        return response.status_code == 401 or to_login
    return response.status_code == 403


def enforced_by_route(method: str, path: str) -> bool:
    """Websockets, the ``/s/`` proxy, the shared session's page and framework routes
    are checked elsewhere (tests/unit/services/test_shares.py and the gateway's)."""
    elsewhere = ("/s/", "/shared/", "/ui/shared/", "/api/openapi", "/api/docs", "/docs", "/static")
    return method != "WS" and not path.startswith(elsewhere)


async def test_callers_below_the_declared_role_are_refused(app: App, clients):
    checked = 0
    for (method, path), required in EXPECTED.items():
        if not enforced_by_route(method, path):
            continue
        for role, client in clients.items():
            if may(role, required):
                continue
            response = await client.request(method, fill(path))
            assert refused(role, response), (role, method, path, response.status_code)
            checked += 1
    assert checked > 300


async def test_callers_at_or_above_the_declared_role_get_past_the_guard(app: App, clients):
    checked = 0
    for (method, path), required in EXPECTED.items():
        if method != "GET" or path in ENDLESS or not enforced_by_route(method, path):
            continue
        for role, client in clients.items():
            if not may(role, required):
                continue
            response = await client.get(fill(path))
            assert response.status_code not in (401, 403), (role, path, response.status_code)
            assert response.status_code < 500, (role, path, response.text)
            checked += 1
    assert checked > 150


@pytest.mark.parametrize("role", ROLES)
async def test_launching_needs_a_member_and_a_viewer_launches_nothing(app: App, clients, role):
    client = clients[role]
    session = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
    reservation = await client.post("/api/v1/reservations", json={"pool": "none", "count": 1})
    if role == "viewer":
        assert (session.status_code, reservation.status_code) == (403, 403)
    else:
        assert session.status_code == 201, session.text
        assert reservation.status_code not in (401, 403), reservation.text


async def test_an_owner_route_hides_another_users_session(app: App, clients):
    made = await clients["member"].post("/api/v1/sessions", json={"template": "debian-shell"})
    session_id = made.json()["id"]
    other = await clients["instructor"].get(f"/api/v1/sessions/{session_id}")
    mine = await clients["member"].get(f"/api/v1/sessions/{session_id}")
    admin = await clients["admin"].get(f"/api/v1/sessions/{session_id}")
    assert (other.status_code, mine.status_code, admin.status_code) == (404, 200, 200)
