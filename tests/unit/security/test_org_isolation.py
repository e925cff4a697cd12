"""Org isolation (issue 13): the admin of org B, calling every route that names an
object, with the ids and names of org A's objects, gets 404 everywhere, as for
objects that do not exist; and nothing of A changed.

The routes come from the access matrix (tests/unit/security/test_access.py), so a
new route with a path parameter is probed as soon as it is declared: it needs a
value below, or a reason in :data:`NOT_ORG_OBJECTS`.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from moorage.db.engine import write_session
from moorage.models.fleet import Node
from moorage.models.recording import Recording
from tests.unit.conftest import App
from tests.unit.security.test_access import EXPECTED

# Routes whose parameter is not an object of an org, with why.
NOT_ORG_OBJECTS = {
    # Secrets that are the credential themselves, checked by the handler (a token of
    # a removed or unknown org gives 401/404 there; tests of those routes).
    "/api/v1/stacks/webhooks/{stack_id}": "a webhook's secret authenticates it",
    "/api/v1/agents/actions/{run_id}/result": "the agent's credential",
    "/api/v1/agents/actions/{run_id}/file": "the agent's credential",
    "/api/v1/install/{token}": "a one-time install token",
    "/download/agent/{token}": "a one-time download token",
    "/join/{code}": "a workshop's join code is shared by design",
    "/share/{token}": "a share link's token is the grant",
    # Names in the caller's own namespace: B writing them makes B's own object.
    "/api/v1/registries/{host}": "B's own registry credential for that host",
    "/api/v1/actions/{name}": "B's own action definition",
    "/api/v1/action-catalog/{name}": "a built-in action B enables in its own org",
}
# The gateway's routes (websockets, /s/, the shared view) check the session's owner
# or a share grant themselves: tests/unit/gateway and tests/unit/services/test_shares.
GATEWAY = ("/s/", "/shared/", "/ui/shared/")


def probed_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for (method, path), who in EXPECTED.items()
        if "{" in path
        and method not in ("WS", "OPTIONS")
        and who not in ("public", "agent", "shared")
        and path not in NOT_ORG_OBJECTS
        and not path.startswith(GATEWAY)
    )


async def _post(client: httpx.AsyncClient, url: str, body=None, status: int = 201) -> dict:
    response = await client.post(url, json=body if body is not None else {})
    assert response.status_code == status, (url, response.text)
    return response.json() if response.content else {}


@pytest.fixture
async def org_a(app: App) -> dict[str, str]:
    """Objects of org A (the default org), made by its admin: their ids and names."""
    admin = app.client
    app.driver.images.add("shell:1")
    await _post(
        admin,
        "/api/v1/templates",
        {"name": "probe-shell", "display_name": "Probe", "kind": "terminal", "image": "shell:1"},
    )
    member = await _post(
        admin, "/api/v1/users", {"username": "amy", "password": "amy-pw-123", "role": "member"}
    )
    await _post(admin, "/api/v1/groups", {"name": "probe-group"})
    assert (
        await admin.post("/api/v1/machines/import", content="m1 127.0.0.1 22 root pw-1\n")
    ).is_success
    await app.context.prober.run()
    session = await _post(admin, "/api/v1/sessions", {"template": "probe-shell"})
    reservation = await _post(admin, "/api/v1/reservations", {"count": 1})
    link = await _post(admin, f"/api/v1/sessions/{session['id']}/shares", {"role": "observer"})
    token = await _post(admin, "/api/v1/tokens", {"name": "probe"})
    enrolment = await _post(admin, "/api/v1/enrollment-tokens", {})
    enrolled = await _post(
        admin, "/api/v1/agents/enroll", {"token": enrolment["token"], "hostname": "a-node"}
    )
    rules = (await admin.get("/api/v1/alert-rules")).json()
    channel = await _post(
        admin, "/api/v1/notification-channels", {"name": "probe", "url": "json://127.0.0.1:9/x"}
    )
    workshop = await _post(
        admin,
        "/api/v1/workshops",
        {"title": "Probe", "template": "probe-shell", "capacity": 2},
    )
    await _post(
        admin,
        "/api/v1/directory/oidc",
        {
            "name": "probe-idp",
            "display_name": "Probe IdP",
            "issuer": "http://127.0.0.1:9/probe",
            "client_id": "moorage",
        },
    )
    environments = (await admin.get("/api/v1/environments")).json()
    pools = (await admin.get("/api/v1/pools")).json()
    run = await _post(
        admin, f"/api/v1/pools/{pools[0]['name']}/provision", {"playbook": "motd.yml"}, 202
    )
    tokens = (await admin.get("/api/v1/tokens")).json()
    admin_id = (await app.client.get("/api/v1/auth/me")).json()["id"]
    # The app's own write lock: its background work (the provisioning run) writes too.
    async with write_session(app.context.sessionmaker) as db:
        node = await db.get(Node, enrolled["node_id"])
        assert node is not None
        recording = Recording(
            org_id=node.org_id, session_id=session["id"], user_id=admin_id, kind="terminal"
        )
        db.add(recording)
        await db.flush()
        recording_id = recording.id
    container = next(iter(app.driver.containers))
    return {
        "session_id": session["id"],
        "instance_id": session["id"],
        "reservation_id": reservation["id"],
        "recording_id": recording_id,
        "link_id": link["id"],
        "connection_id": str(uuid.uuid4()),
        "token_id": next(t["id"] for t in tokens if t["name"] == token["name"]),
        "user_id": member["id"],
        "username": "amy",
        "workshop_id": workshop["id"],
        "participant_id": str(uuid.uuid4()),
        "rule_id": rules[0]["id"],
        "channel_id": channel["id"],
        "run_id": run["id"],
        "env": environments[0]["name"],
        "template": "probe-shell",
        "group": "probe-group",
        "pool": pools[0]["name"],
        "machine": "m1",
        "node": "a-node",
        "enrolment_token_id": enrolment["id"],
        "container": container,
    }


def fill(path: str, a: dict[str, str]) -> str:
    """``path`` with org A's objects for its parameters."""
    by_prefix = {
        "/api/v1/templates/": {"ref": a["template"]},
        "/admin/templates/": {"ref": a["template"]},
        "/api/v1/groups/": {"name": a["group"]},
        "/admin/groups/": {"name": a["group"]},
        "/api/v1/pools/": {"name": a["pool"]},
        "/admin/pools/": {"name": a["pool"]},
        "/api/v1/orgs/": {"name": "default"},
        "/api/v1/machines/": {"name": a["machine"]},
        "/ui/machines/": {"name": a["machine"]},
        "/machines/": {"name": a["machine"]},
        "/api/v1/nodes/": {"ref": a["node"], "run_id": a["run_id"], "name": "flush_dns"},
        "/fleet/nodes/": {"ref": a["node"]},
        "/api/v1/enrollment-tokens/": {"token_id": a["enrolment_token_id"]},
        "/api/v1/directory/oidc/": {"name": "probe-idp"},
        "/admin/directory/oidc/": {"name": "probe-idp"},
    }
    values = {
        **a,
        "ref": a["container"],
        "name": "probe",
        "action": "start",
        "kind": "containers" if path.endswith("/prune") else "container",
        "code": "x",
    }
    for prefix, overrides in by_prefix.items():
        if path.startswith(prefix):
            values.update(overrides)
    if "/environments/" in path:
        values["env"] = a["env"]
        if "/images/" in path:
            values["ref:path"] = "shell:1"
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)


# Bodies (JSON, or a form for the pages' routes) and query parameters that pass
# validation, so that each request reaches the lookup of A's object.
ENV = "/api/v1/environments/{env}"
BODIES: dict[tuple[str, str], dict] = {
    ("PATCH", "/api/v1/alert-rules/{rule_id}"): {"enabled": False},
    ("PUT", "/api/v1/alert-rules/{rule_id}"): {"name": "r", "metric": "cpu_percent"},
    ("PATCH", "/api/v1/nodes/{ref}"): {"tags": ["b"]},
    ("POST", "/api/v1/nodes/{ref}/actions"): {"action": "flush_dns"},
    ("POST", f"{ENV}/containers"): {"image": "shell:1"},
    ("POST", f"{ENV}/images/pull"): {"image": "shell:1"},
    ("POST", f"{ENV}/images/tag"): {"image": "shell:1", "repository": "copy"},
    ("POST", f"{ENV}/networks"): {"name": "n"},
    ("POST", f"{ENV}/networks/{{ref}}/{{action}}"): {"container": "c"},
    ("POST", f"{ENV}/stacks"): {"name": "s", "compose": "services: {}\n"},
    ("PUT", f"{ENV}/stacks/{{name}}"): {"compose": "services: {}\n"},
    ("POST", f"{ENV}/stacks/{{name}}/git/approve"): {"commit": "0" * 40},
    ("POST", "/api/v1/pools/{name}/provision"): {"playbook": "motd.yml"},
    ("PUT", "/api/v1/pools/{name}/groups"): {"groups": []},
    ("PUT", "/api/v1/templates/{ref}/groups"): {"groups": []},
    ("POST", "/api/v1/reservations/{reservation_id}/extend"): {"minutes": 10},
    ("POST", "/api/v1/sessions/{session_id}/extend"): {"minutes": 10},
    ("POST", "/api/v1/workshops/{workshop_id}/extend"): {"minutes": 10},
    ("POST", "/api/v1/workshops/{workshop_id}/broadcast"): {"message": "hello"},
    ("POST", "/admin/users/{user_id}"): {"role": "member"},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", f"{ENV}/volumes/{{name}}/file"): {"path": "a"},
    ("DELETE", f"{ENV}/volumes/{{name}}/files"): {"path": "a"},
    ("POST", f"{ENV}/containers/{{ref}}/rename"): {"name": "renamed"},
    ("POST", f"{ENV}/volumes"): {"name": "v"},
}
# Answers the same to any session that is not the caller's seat of a workshop (an
# empty fragment), so it tells nothing: checked against a random id below.
SAME_AS_MISSING = {("GET", "/ui/sessions/{session_id}/workshop")}


async def _call(client: httpx.AsyncClient, method: str, path: str, url: str) -> httpx.Response:
    body = BODIES.get((method, path), {})
    params = QUERIES.get((method, path))
    if method in ("GET", "DELETE"):
        return await client.request(method, url, params=params)
    if not path.startswith("/api/"):  # the pages' forms
        return await client.request(method, url, data=body, params=params)
    return await client.request(method, url, json=body, params=params)


async def test_org_b_reaches_nothing_of_org_a(app: App, org_a):
    created = await _post(
        app.client,
        "/api/v1/orgs",
        {"name": "orgb", "admin": {"username": "bea", "password": "bea-pw-123"}},
    )
    assert created["api_key"]
    bea = await app.login("bea", "bea-pw-123")
    bea.headers["Sec-Fetch-Site"] = "same-origin"
    wrong = []
    for method, path in probed_routes():
        response = await _call(bea, method, path, fill(path, org_a))
        if (method, path) in SAME_AS_MISSING:
            missing = {**org_a, "session_id": str(uuid.uuid4())}
            nothing = await _call(bea, method, path, fill(path, missing))
            if (response.status_code, response.text) != (nothing.status_code, nothing.text):
                wrong.append((method, path, response.status_code, response.text[:160]))
        elif response.status_code != 404:
            wrong.append((method, path, response.status_code, response.text[:160]))
    assert wrong == [], "\n".join(map(str, wrong))
    assert len(probed_routes()) > 120  # the matrix was really walked
    await bea.aclose()

    # Nothing of A moved.
    session = await app.client.get(f"/api/v1/sessions/{org_a['session_id']}")
    assert session.json()["state"] == "ready"
    users = {u["username"]: u for u in (await app.client.get("/api/v1/users")).json()}
    assert users["amy"]["is_active"] and users["amy"]["role"] == "member"
    assert (await app.client.get("/api/v1/templates/probe-shell")).status_code == 200
    rules = {r["id"]: r for r in (await app.client.get("/api/v1/alert-rules")).json()}
    assert rules[org_a["rule_id"]]["enabled"]
    assert (await app.client.get(f"/api/v1/machines/{org_a['machine']}")).status_code == 200


# GETs where org A has no such object either: what the probe names there is a
# placeholder (the environment in the path is A's, so B's 404 still shows that).
A_HAS_NONE = [
    "/api/v1/environments/{env}/image-updates/{kind}/{name}",  # no update policy
    "/api/v1/environments/{env}/stacks/{name}",  # no stack
    "/api/v1/environments/{env}/stacks/{name}/logs",
    "/api/v1/nodes/{ref}/actions/{run_id}/file",  # a provision run's id, not an action's
    "/api/v1/recordings/{recording_id}/file",  # the row has no file
    "/api/v1/sessions/{session_id}/rdp",  # a terminal session
    "/sessions/{session_id}/app",  # a terminal session
]


async def test_the_probe_names_real_objects_of_org_a(app: App, org_a):
    """The same GETs as org A's admin find the objects (so the 404s above are B's)."""
    found, absent = [], []
    for method, path in probed_routes():
        if method != "GET" or (method, path) in SAME_AS_MISSING:
            continue
        response = await _call(app.client, method, path, fill(path, org_a))
        (absent if response.status_code == 404 else found).append(path)
    assert sorted(absent) == sorted(A_HAS_NONE)
    assert len(found) > 40
