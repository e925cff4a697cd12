"""The fleet pages check the operator role as the API does: they read through the fleet
services, which refuse other roles."""

from __future__ import annotations

import pytest

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
