"""Machines, import and availability through the API, on the fake connector."""

from sqlalchemy import select

from moorage.models.machine import Machine

MACHINES_TXT = """\
# name host port user password
m1 127.0.0.1 22 root pass-one
m2 localhost 2222 root pass-two   # trailing comment

m3 127.0.0.3 22 root pass-three
"""


async def add(app, name="m1", **extra):
    body = {
        "name": name,
        "host": "127.0.0.1",
        "port": 22,
        "user": "root",
        "password": "s3cret-password",
        **extra,
    }
    return await app.client.post("/api/v1/machines", json=body)


async def test_credentials_are_stored_encrypted_and_never_returned(app):
    response = await add(app)
    assert response.status_code == 201, response.text
    body = response.json()
    assert "password" not in body and body["credential"] == "password"
    assert "s3cret" not in response.text
    assert body["status"] == "online", body  # probed on registration
    async with app.context.sessionmaker() as db:
        machine = await db.scalar(select(Machine))
    assert machine.password_sealed.startswith("v1:")
    assert "s3cret" not in machine.password_sealed
    assert app.context.keyring.open(machine.password_sealed, "machine.password") == (
        "s3cret-password"
    )


async def test_bad_machine_fields_are_422_naming_the_field(app):
    for extra, field in [
        ({"host": "not a host!"}, "host"),
        ({"port": 70000}, "port"),
        ({"password": None}, "password"),
        ({"name": "../x"}, "name"),
    ]:
        response = await add(app, **extra)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["error"]["field"] == field
    assert (await add(app)).status_code == 201
    assert (await add(app)).status_code == 409


async def test_members_cannot_manage_machines(app, member):
    assert (await member.get("/api/v1/machines")).status_code == 403
    assert (await member.post("/api/v1/machines", json={})).status_code in (403, 422)
    assert (await member.get("/api/v1/availability")).status_code == 200


async def test_import_all_or_nothing_and_skip_invalid(app):
    bad = (
        MACHINES_TXT + "m4 127.0.0.4 notaport root pw\nm5 127.0.0.5 22 root\nm1 127.0.0.9 22 r p\n"
    )
    refused = await app.client.post("/api/v1/machines/import", content=bad)
    assert refused.status_code == 422
    lines = refused.json()["error"]["lines"]
    assert [entry["line"] for entry in lines] == [6, 7, 8]
    assert "port 'notaport' is not a number" in lines[0]["message"]
    assert "expected 5 fields" in lines[1]["message"]
    assert "already on line 2" in lines[2]["message"]
    assert (await app.client.get("/api/v1/machines")).json() == []

    partial = await app.client.post("/api/v1/machines/import?skip_invalid=true", content=bad)
    assert partial.status_code == 201
    assert partial.json()["imported"] == ["m1", "m2", "m3"]
    assert [entry["line"] for entry in partial.json()["skipped"]] == [6, 7, 8]
    names = [m["name"] for m in (await app.client.get("/api/v1/machines")).json()]
    assert names == ["m1", "m2", "m3"]


async def test_availability_counts_per_pool(app):
    await app.client.post("/api/v1/machines/import", content=MACHINES_TXT)
    app.connector.down.add("m3")
    await app.context.prober.run()
    await app.client.patch("/api/v1/machines/m2", json={"status": "maintenance"})
    (pool,) = (await app.client.get("/api/v1/availability")).json()
    assert {k: pool[k] for k in ("pool", "total", "available", "offline", "maintenance")} == {
        "pool": "default",
        "total": 3,
        "available": 1,
        "offline": 1,
        "maintenance": 1,
    }
    machine = (await app.client.get("/api/v1/machines/m3")).json()
    assert machine["status"] == "offline" and "unreachable" in machine["last_error"]
    assert machine["last_probe_at"] is not None
