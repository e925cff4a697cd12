"""Request bodies are strict: no booleans for numbers, bounded numbers, no control
characters, keys parsed before anything is stored. Each case was a 500 or an
accepted value before the schemas said so."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from moorage.models.machine import Machine

POOL = "m1 127.0.0.1 22 root password-1\n"


def field_of(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["error"]["field"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"duration_minutes": 10**30}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"duration_minutes": -(10**12)}, "duration_minutes"),
        ({"duration_seconds": -4e17}, "duration_seconds"),
        ({"duration_seconds": 10**20}, "duration_seconds"),
        ({"duration_seconds": False}, "duration_seconds"),
    ],
)
async def test_session_durations_out_of_range_or_boolean_are_422(app, body, field):
    response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell", **body})
    assert field_of(response) == field


async def test_session_extend_by_an_absurd_number_of_minutes_is_422(app):
    session = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert session.status_code == 201, session.text
    url = f"/api/v1/sessions/{session.json()['id']}/extend"
    assert field_of(await app.client.post(url, json={"minutes": 6310855779878})) == "minutes"
    assert field_of(await app.client.post(url, json={"minutes": True})) == "minutes"


@pytest.fixture
async def pool(app):
    response = await app.client.post("/api/v1/machines/import", content=POOL)
    assert response.status_code == 201, response.text
    await app.context.prober.run()
    return app


@pytest.mark.parametrize(
    "body,field",
    [
        ({"duration_seconds": -4e17}, "duration_seconds"),
        ({"duration_minutes": 10**30}, "duration_minutes"),
        ({"count": True}, "count"),
        ({"count": 10**9}, "count"),
        ({"pool": "default\x00"}, "pool"),
        ({"username": "lab\nuser"}, "username"),
        ({"password": "a-good-pass\x00word"}, "password"),
    ],
)
async def test_reservation_bad_numbers_and_control_characters_are_422(pool, body, field):
    assert field_of(await pool.client.post("/api/v1/reservations", json=body)) == field


async def test_reservation_extend_by_an_absurd_number_of_minutes_is_422(pool):
    made = await pool.client.post("/api/v1/reservations", json={"duration_minutes": 30})
    assert made.status_code == 201, made.text
    url = f"/api/v1/reservations/{made.json()['id']}/extend"
    assert field_of(await pool.client.post(url, json={"minutes": 6310855779878})) == "minutes"


async def machine_count(app) -> int:
    async with app.context.sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(Machine))


async def test_malformed_private_key_is_422_and_nothing_is_stored(app):
    response = await app.client.post(
        "/api/v1/machines",
        json={"name": "m9", "host": "127.0.0.9", "private_key": "not a key"},
    )
    assert field_of(response) == "private_key"
    assert await machine_count(app) == 0


async def test_a_real_private_key_is_accepted(app):
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    response = await app.client.post(
        "/api/v1/machines", json={"name": "m9", "host": "127.0.0.9", "private_key": key}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/machines", {"name": "m\x00", "host": "h", "password": "p"}, "name"),
        ("/api/v1/machines", {"name": "m", "host": "h\r\nx", "password": "p"}, "host"),
        (
            "/api/v1/machines",
            {"name": "m", "host": "h", "password": "p", "tags": ["a\x1b"]},
            "tags",
        ),
        ("/api/v1/machines", {"name": "m", "host": "h", "port": True, "password": "p"}, "port"),
        ("/api/v1/users", {"username": "bob\x00", "password": "long-enough"}, "username"),
        (
            "/api/v1/templates",
            {"name": "t1", "display_name": "T", "image": "debian\x00:latest"},
            "image",
        ),
        (
            "/api/v1/templates",
            {"name": "t1", "display_name": "T\x07", "image": "debian:latest"},
            "display_name",
        ),
        (
            "/api/v1/templates",
            {"name": "t1", "display_name": "T", "image": "i", "memory_limit_mb": True},
            "memory_limit_mb",
        ),
        ("/api/v1/environments", {"name": "e1", "url": "tcp://h:2375\x00"}, "url"),
        (
            "/api/v1/environments",
            {"name": "e1", "url": "tcp://h:2376", "tls_cert": "not a certificate"},
            "tls_cert",
        ),
        (
            "/api/v1/environments",
            {"name": "e1", "url": "ssh://u@h", "ssh_private_key": "not a key"},
            "ssh_private_key",
        ),
        ("/api/v1/tokens", {"name": "laptop\x00"}, "name"),
    ],
)
async def test_control_characters_booleans_and_bad_keys_are_422_naming_the_field(
    app, path, body, field
):
    assert field_of(await app.client.post(path, json=body)) == field


async def test_multi_line_description_is_still_accepted(app):
    response = await app.client.post(
        "/api/v1/templates",
        json={"name": "t1", "display_name": "T", "image": "i", "description": "a\nb\tc"},
    )
    assert response.status_code == 201, response.text
