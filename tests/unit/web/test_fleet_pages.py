"""The fleet pages check the operator role as the API does: they read through the fleet
services, which refuse other roles."""

from __future__ import annotations

import pytest

from moorage.models.fleet import Node

PAGES = ["/fleet", "/fleet/nodes/unit", "/fleet/alerts", "/fleet/enroll"]


@pytest.mark.parametrize("path", PAGES)
async def test_a_member_is_refused_every_fleet_page(app, member, path):
    assert (await member.get(path)).status_code == 403


async def test_an_operator_sees_the_fleet_pages(app):
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    enrolled = await app.client.post(
        "/api/v1/agents/enroll", json={"token": token, "hostname": "unit"}
    )
    assert enrolled.status_code == 201
    for path in PAGES:
        answer = await app.client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
    assert "unit" in (await app.client.get("/fleet")).text


@pytest.mark.parametrize(
    ("os", "shown", "hidden"),
    [
        ("Windows 10 (10.0.19045)", "restart_spooler", "restart_service"),
        ("Linux 6.1.0 (debian 12)", "restart_service", "restart_spooler"),
    ],
)
async def test_a_node_page_offers_the_builtins_of_its_system(app, os, shown, hidden):
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    enrolled = await app.client.post(
        "/api/v1/agents/enroll", json={"token": token, "hostname": "unit"}
    )
    async with app.context.sessionmaker() as db:
        node = await db.get(Node, enrolled.json()["node_id"])
        assert node is not None
        node.os = os
        await db.commit()
    page = (await app.client.get("/fleet/nodes/unit")).text
    assert f'<option value="{shown}"' in page
    assert f'<option value="{hidden}"' not in page
