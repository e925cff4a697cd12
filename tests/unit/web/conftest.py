"""Clients logged in with each role, for the pages' guards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.unit.conftest import App

Login = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def login_as(app: App) -> AsyncIterator[Login]:
    """``await login_as(role)``: a new user of that role, logged in by cookie."""
    clients: list[httpx.AsyncClient] = []

    async def login(role: str) -> httpx.AsyncClient:
        username = f"{role}-{len(clients)}"
        response = await app.client.post(
            "/api/v1/users",
            json={"username": username, "password": f"{username}-password", "role": role},
        )
        assert response.status_code == 201, response.text
        client = await app.login(username, f"{username}-password")
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.aclose()
