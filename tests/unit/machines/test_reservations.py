"""Reservations as a lease, on the fake connector and a real database."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.models.reservation import Reservation

POOL = "".join(f"m{i} 127.0.0.{i} 22 root password-{i}\n" for i in range(1, 5))


@pytest.fixture
async def pool(app):
    response = await app.client.post("/api/v1/machines/import", content=POOL)
    assert response.status_code == 201
    await app.context.prober.run()
    return app


async def reserve(client, **body):
    return await client.post("/api/v1/reservations", json={"count": 2, **body})


async def test_reserve_creates_accounts_on_each_machine_and_shows_credentials(pool, member):
    response = await reserve(
        member, duration_minutes=30, username="alice-lab", password="a-good-password"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "ready" and body["username"] == "alice-lab"
    assert body["password"] == "a-good-password"
    assert [m["name"] for m in body["machines"]] == ["m1", "m2"]
    assert body["machines"][0]["ssh"] == "ssh -p 22 alice-lab@127.0.0.1"
    assert pool.connector.accounts["m1"] == {"alice-lab"}
    again = (await member.get(f"/api/v1/reservations/{body['id']}")).json()
    assert again["password"] == "a-good-password"
    others = (await pool.client.get(f"/api/v1/reservations/{body['id']}")).json()
    assert others["password"] is None  # an admin sees the reservation, not the password
    availability = (await member.get("/api/v1/availability")).json()[0]
    assert availability["reserved"] == 2 and availability["available"] == 2


async def test_generated_credentials_when_none_given(pool, member):
    body = (await reserve(member, count=1)).json()
    assert body["username"].startswith("lab-") and len(body["password"]) >= 12


@pytest.mark.parametrize("username", ["root", "../x", "a;rm -rf /", "Ab", "sshd", "x" * 40])
async def test_dangerous_or_reserved_usernames_are_refused(pool, member, username):
    response = await reserve(member, username=username)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "username"
    assert not any(pool.connector.accounts.values())


async def test_not_enough_machines_is_409_with_what_is_available(pool, member):
    first = await reserve(member, count=3, duration_minutes=30)
    assert first.status_code == 201
    response = await reserve(pool.client, count=2)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["available"] == 1 and error["next_free_at"] is not None
    assert "only 1 machines" in error["message"] and "frees up at" in error["message"]


async def test_pool_limits_are_422_and_429(pool, member):
    await pool.client.patch(
        "/api/v1/pools/default",
        json={"max_machines_per_user": 2, "max_duration_minutes": 60, "max_extensions": 1},
    )
    assert (await reserve(member, count=3)).status_code == 429
    too_long = await reserve(member, duration_minutes=61)
    assert too_long.status_code == 422 and "60 minutes" in too_long.json()["error"]["message"]
    ok = (await reserve(member, duration_minutes=30)).json()
    extended = await member.post(f"/api/v1/reservations/{ok['id']}/extend", json={"minutes": 10})
    assert extended.status_code == 200
    again = await member.post(f"/api/v1/reservations/{ok['id']}/extend", json={"minutes": 10})
    assert again.status_code == 429 and "allows 1" in again.json()["error"]["message"]


async def test_all_or_nothing_when_one_machine_fails(pool, member):
    pool.connector.fail_create.add("m2")
    response = await reserve(member, count=2)
    assert response.status_code == 503
    assert "undone" in response.json()["error"]["message"]
    assert pool.connector.accounts["m1"] == set() and pool.connector.accounts["m2"] == set()
    availability = (await member.get("/api/v1/availability")).json()[0]
    assert availability["available"] == 4 and availability["reserved"] == 0
    (row,) = (await member.get("/api/v1/reservations")).json()
    assert row["state"] == "failed"


async def test_an_existing_account_of_that_name_is_never_deleted(pool, member):
    pool.connector.accounts["m2"] = {"taken-name"}
    response = await reserve(member, username="taken-name")
    assert response.status_code == 409
    assert pool.connector.accounts["m2"] == {"taken-name"}
    assert pool.connector.accounts["m1"] == set()


async def test_release_deletes_accounts_and_frees_machines(pool, member):
    body = (await reserve(member)).json()
    released = await member.delete(f"/api/v1/reservations/{body['id']}")
    assert released.json()["state"] == "released"
    assert released.json()["password"] is None
    assert not any(pool.connector.accounts.values())
    assert (await member.get("/api/v1/availability")).json()[0]["available"] == 4


async def test_a_machine_down_at_reclaim_goes_dirty_until_clean_up_succeeds(pool, member):
    body = (await reserve(member)).json()
    pool.connector.down.add("m2")
    await member.delete(f"/api/v1/reservations/{body['id']}")
    m2 = (await pool.client.get("/api/v1/machines/m2")).json()
    assert m2["status"] == "dirty" and m2["reservation_id"] is None
    await pool.context.prober.run()
    assert (await pool.client.get("/api/v1/machines/m2")).json()["status"] == "dirty"
    assert (await reserve(member, count=3)).status_code == 201  # m2 is not handed out
    assert "m2" not in [
        m["name"]
        for m in (await member.get("/api/v1/reservations?live=true")).json()[0]["machines"]
    ]
    pool.connector.down.discard("m2")
    await pool.context.reconciler.reconcile_once()
    assert pool.connector.accounts["m2"] == set()
    assert (await pool.client.get("/api/v1/machines/m2")).json()["status"] == "online"


async def test_expiry_reclaims_on_time(pool, member):
    body = (await reserve(member, duration_seconds=10)).json()
    async with write_session(pool.context.sessionmaker) as db:
        row = await db.get(Reservation, body["id"])
        row.expires_at = utcnow() + timedelta(milliseconds=200)
        deadline = row.expires_at
    pool.context.reconciler.queue.schedule(("reservation", body["id"]), deadline)
    for _ in range(100):
        row = (await member.get(f"/api/v1/reservations/{body['id']}")).json()
        if row["state"] == "released":
            break
        await asyncio.sleep(0.05)
    assert row["state"] == "released"
    assert not any(pool.connector.accounts.values())


async def test_release_all_is_for_admins(pool, member):
    await reserve(member, count=1)
    await reserve(pool.client, count=1)
    assert (await member.post("/api/v1/reservations/release-all")).status_code == 403
    response = await pool.client.post("/api/v1/reservations/release-all")
    assert response.json() == {"released": 2}
    async with pool.context.sessionmaker() as db:
        states = set(await db.scalars(select(Reservation.state)))
    assert states == {"released"}
