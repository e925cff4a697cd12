"""Helpers of the fleet service tests: a node enrolled through the API, raw samples."""

from __future__ import annotations

from datetime import datetime

import pytest

from moorage.models.fleet import RAW, Node, Sample


@pytest.fixture
def enrolled_node():
    """``await enrolled_node(app)``: a node enrolled with a fresh token."""
    return _node


@pytest.fixture
def add_samples():
    """``await add_samples(app, node, [(at, cpu_percent), …])``: raw samples."""
    return _samples


async def _node(app) -> Node:
    token = (await app.client.post("/api/v1/enrollment-tokens", json={})).json()["token"]
    answer = await app.client.post(
        "/api/v1/agents/enroll", json={"token": token, "hostname": "unit"}
    )
    assert answer.status_code == 201, answer.text
    async with app.context.sessionmaker() as db:
        return await db.get(Node, answer.json()["node_id"])


async def _samples(app, node: Node, rows: list[tuple[datetime, float]]) -> None:
    async with app.context.sessionmaker() as db:
        db.add_all(
            [
                Sample(node_id=node.id, resolution=RAW, at=at, count=1, cpu_percent=cpu)
                for at, cpu in rows
            ]
        )
        await db.commit()
