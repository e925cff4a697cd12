"""LDAP directory sync benchmark (issue 13). Prints JSON.

Starts a slapd of its own on loopback (tests/ldap_server.py, memberof overlay),
loads ``--users`` users (default 1,000) spread over 10 groups with ``ldapadd``,
gives all of them a Moorage account (each one's first sign-in, done here through
the same provisioning as a sign-in), then times :meth:`DirectorySync.sync` on the
in-process app's database (SQLite unless ``MOORAGE_DATABASE_URL`` names a server):

* ``read_seconds``: the directory's paged search alone (``LdapClient.all_users``);
* ``sync_seconds``: a whole sync with nothing to change (read + update every user);
* ``sync_after_changes_seconds``: after 100 users left a group and 50 were deleted
  in the directory (their memberships removed, the 50 disabled);
* the same two with ``group_base`` set (groups searched, not memberOf).

Usage: ``uv run python bench/ldap_sync.py [--users 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.databases import fresh_database
from tests.ldap_server import GROUPS, NOBODY, PEOPLE, ROOT_DN, ROOT_PASSWORD, Slapd, available

from moorage.app import create_app
from moorage.config import Settings
from moorage.db.engine import write_session
from moorage.drivers.fake import FakeDriver
from moorage.drivers.fake_machines import FakeConnector
from moorage.drivers.ldap import LdapClient
from moorage.models.directory import LdapDirectory
from moorage.services import ldap_settings
from moorage.services.groups import create_group
from moorage.services.ldap_accounts import provision
from moorage.services.ldap_sync import DirectorySync
from moorage.services.users import find_user

GROUP_COUNT = 10


def load(slapd: Slapd, users: int) -> None:
    """``users`` inetOrgPersons and 10 groupOfNames, in two ldapadd runs."""
    people = "".join(
        f"dn: uid=user{i:05d},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: user{i:05d}\n"
        f"cn: User {i}\nsn: {i}\nmail: user{i:05d}@bench.test\nuserPassword: pw{i}\n\n"
        for i in range(users)
    )
    slapd.add(people)
    groups = ""
    for g in range(GROUP_COUNT):
        members = f"member: {NOBODY}\n" + "".join(
            f"member: uid=user{i:05d},{PEOPLE}\n" for i in range(users) if i % GROUP_COUNT == g
        )
        groups += f"dn: cn=group{g},{GROUPS}\nobjectClass: groupOfNames\ncn: group{g}\n{members}\n"
    slapd.add(groups)


async def run(users: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        slapd = Slapd(folder / "slapd")
        slapd.start()
        try:
            started = time.perf_counter()
            load(slapd, users)
            load_seconds = time.perf_counter() - started
            async with fresh_database(folder) as url:
                settings = Settings(
                    data_dir=folder,
                    database_url=url,
                    admin_password=SecretStr("bench-admin-password"),
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
                    return await measure(context, slapd, users, load_seconds)
        finally:
            slapd.stop()


async def measure(context, slapd: Slapd, users: int, load_seconds: float) -> dict[str, object]:
    rules = [
        {"group": f"group{g}", "groups": [f"team{g}"], **({"role": "instructor"} if g == 0 else {})}
        for g in range(GROUP_COUNT)
    ]
    async with write_session(context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        for g in range(GROUP_COUNT):
            await create_group(db, admin, f"team{g}")
        directory = await ldap_settings.save(
            db,
            admin,
            context.keyring,
            {
                "url": slapd.url,
                "bind_dn": ROOT_DN,
                "bind_password": ROOT_PASSWORD,
                "user_base": PEOPLE,
                "group_rules": rules,
            },
        )
        directory_id = directory.id
    client = LdapClient()
    server = ldap_settings.server_spec(directory, context.keyring)
    search = ldap_settings.search_spec(directory)
    started = time.perf_counter()
    entries = await asyncio.to_thread(client.all_users, server, search)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    async with write_session(context.sessionmaker) as db:
        row = await db.get(LdapDirectory, directory_id)
        for entry in entries:
            await provision(db, row, entry)
    provision_seconds = time.perf_counter() - started
    sync = DirectorySync(context.sessionmaker, context.keyring)
    out: dict[str, object] = {
        "users": users,
        "entries_read": len(entries),
        "ldapadd_seconds": round(load_seconds, 2),
        "read_seconds": round(read_seconds, 3),
        "first_provision_seconds": round(provision_seconds, 3),
    }
    started = time.perf_counter()
    report = await sync.sync(directory_id)
    out["sync_seconds"] = round(time.perf_counter() - started, 3)
    out["sync_report"] = report
    for i in range(0, 1000, GROUP_COUNT):  # 100 users of group0 leave it
        if i < users:
            slapd.remove_member(f"cn=group0,{GROUPS}", f"uid=user{i:05d},{PEOPLE}")
    for i in range(1, 500, 10):  # 50 users deleted
        if i < users:
            slapd.delete(f"uid=user{i:05d},{PEOPLE}")
    started = time.perf_counter()
    report = await sync.sync(directory_id)
    out["sync_after_changes_seconds"] = round(time.perf_counter() - started, 3)
    out["sync_after_changes_report"] = report
    async with write_session(context.sessionmaker) as db:
        row = await db.get(LdapDirectory, directory_id)
        row.group_base = GROUPS
    started = time.perf_counter()
    report = await sync.sync(directory_id)
    out["sync_group_search_seconds"] = round(time.perf_counter() - started, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    missing = available()
    if missing:
        sys.exit(missing)
    print(json.dumps(asyncio.run(run(args.users)), indent=2))


if __name__ == "__main__":
    main()
