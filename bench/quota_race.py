"""Quota race benchmark (issue 13: quotas checked atomically). Prints one JSON document.

For each database (SQLite in a temporary folder; PostgreSQL and MariaDB on this
machine unless ``--databases`` says otherwise), an in-process Moorage on the fake
container driver (the race is in the database, not in Docker), an org quota of
``--quota`` live sessions, and ``--launches`` launches at once by ten members
through the API. Reports, per database, the 201s, the 429s naming the quota,
anything else, the sessions live afterwards and the wall time. Atomic means:
exactly ``quota`` successes, the rest clean 429s, ``quota`` live sessions.

Usage: ``uv run python bench/quota_race.py [--launches 50] [--quota 10]
[--databases sqlite,postgresql,mariadb]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.databases import fresh_database

from moorage.app import create_app
from moorage.config import Settings
from moorage.db.engine import write_session
from moorage.drivers.fake import FakeDriver
from moorage.drivers.fake_machines import FakeConnector
from moorage.models.user import Role
from moorage.services.users import create_token, create_user, find_user

URLS = {
    "sqlite": "",
    "postgresql": os.environ.get(
        "MOORAGE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get(
        "MOORAGE_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"
    ),
}
PASSWORD = "bench-admin-password"


async def race(name: str, launches: int, quota: int) -> dict[str, object]:
    os.environ["MOORAGE_DATABASE_URL"] = URLS[name]
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(Path(tmp)) as url:
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                admin_password=SecretStr(PASSWORD),
                reconcile_interval_seconds=3600,
            )
            driver = FakeDriver()
            app = create_app(
                settings,
                driver_factory=lambda env: driver,
                connector=FakeConnector(),
                announce=lambda message: None,
            )
            async with app.router.lifespan_context(app):
                context = app.state.context
                tokens = []
                async with write_session(context.sessionmaker) as db:
                    admin = await find_user(db, "admin")
                    admin_token = await create_token(db, admin, name="bench")
                    for i in range(10):
                        user = await create_user(
                            db, org_id=admin.org_id, username=f"racer{i}",
                            password="racer-password", role=Role.MEMBER,
                        )  # fmt: skip
                        tokens.append(await create_token(db, user, name="bench"))
                transport = httpx.ASGITransport(app=app)

                def client(token: str) -> httpx.AsyncClient:
                    headers = {"Authorization": f"Bearer {token}"}
                    return httpx.AsyncClient(
                        transport=transport, base_url="http://bench", headers=headers
                    )

                async with client(admin_token) as admin_client:
                    await admin_client.patch(
                        "/api/v1/templates/debian-shell", json={"max_sessions_per_user": launches}
                    )
                    await admin_client.patch(
                        "/api/v1/orgs/default/quota", json={"max_live_sessions": quota}
                    )
                clients = [client(t) for t in tokens]
                started = time.perf_counter()
                answers = await asyncio.gather(
                    *(
                        clients[i % len(clients)].post(
                            "/api/v1/sessions", json={"template": "debian-shell"}
                        )
                        for i in range(launches)
                    )
                )
                seconds = time.perf_counter() - started
                for c in clients:
                    await c.aclose()
                refused = [a for a in answers if a.status_code == 429]
                named = sum(a.json()["error"].get("quota") == "max_live_sessions" for a in refused)
                return {
                    "launches": launches,
                    "quota": quota,
                    "created_201": sum(a.status_code == 201 for a in answers),
                    "refused_429_naming_the_quota": named,
                    "other": sorted(
                        a.status_code for a in answers if a.status_code not in (201, 429)
                    ),
                    "live_containers_after": len(driver.containers),
                    "seconds": round(seconds, 3),
                }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=50)
    parser.add_argument("--quota", type=int, default=10)
    parser.add_argument("--databases", default="sqlite,postgresql,mariadb")
    args = parser.parse_args()
    results = {}
    for name in args.databases.split(","):
        try:
            results[name] = await race(name, args.launches, args.quota)
        except BaseException as exc:  # a server that is not running: say so, go on
            results[name] = {"error": repr(exc)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
