"""An environment's kind: ``swarm`` when asked (its transport still from the URL),
else the URL's transport; changing it is refused while sessions live there."""

from __future__ import annotations

import pytest

from moorage.errors import InvalidInput
from moorage.models.environment import Environment
from moorage.services.docker.environments import swarm_or_transport
from tests.unit.conftest import App

SOCKET = "unix:///var/run/docker.sock"


def test_the_kind_is_swarm_when_asked_else_the_transport_of_the_url():
    assert swarm_or_transport(SOCKET, None) == "socket"
    assert swarm_or_transport("ssh://ops@lab-2", "swarm") == "swarm"
    assert swarm_or_transport("tcp://127.0.0.1:2376", "engine", current="swarm") == "tcp"
    assert swarm_or_transport("tcp://127.0.0.1:2376", None, current="swarm") == "swarm"
    with pytest.raises(InvalidInput) as caught:
        swarm_or_transport("http://nowhere", "swarm")
    assert caught.value.details == {"field": "url"}


def test_the_transport_comes_from_the_url_whatever_the_kind():
    for url, transport in [
        (SOCKET, "socket"),
        ("tcp://127.0.0.1:2376", "tcp"),
        ("ssh://ops@lab-2", "ssh"),
        ("agent://node-1", "agent"),
        ("http://x", ""),
    ]:
        assert Environment(url=url, kind="swarm").transport == transport


async def test_a_swarm_environment_is_added_and_switched_back_over_the_api(app: App):
    added = await app.client.post(
        "/api/v1/environments", json={"name": "swarm-1", "url": SOCKET, "kind": "swarm"}
    )
    assert added.status_code == 201, added.text
    assert (added.json()["kind"], added.json()["transport"]) == ("swarm", "socket")
    moved = await app.client.patch("/api/v1/environments/swarm-1", json={"url": SOCKET + "2"})
    assert moved.json()["kind"] == "swarm"  # a new address keeps the kind
    plain = await app.client.patch("/api/v1/environments/swarm-1", json={"kind": "engine"})
    assert plain.status_code == 200 and plain.json()["kind"] == "socket", plain.text
    bad = await app.client.post(
        "/api/v1/environments", json={"name": "swarm-2", "url": SOCKET, "kind": "cluster"}
    )
    assert bad.status_code == 422


async def test_the_kind_cannot_change_while_sessions_live_there(app: App):
    app.driver.images.add("shell:1")
    template = {"name": "one", "display_name": "One", "image": "shell:1"}
    assert (await app.client.post("/api/v1/templates", json=template)).status_code == 201
    session = await app.client.post("/api/v1/sessions", json={"template": "one"})
    assert session.status_code == 201, session.text
    where = session.json()["environment"]
    refused = await app.client.patch(f"/api/v1/environments/{where}", json={"kind": "swarm"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "environment_in_use"
    assert (await app.client.get(f"/api/v1/environments/{where}")).json()["kind"] == "socket"
