"""LDAP sign-in against a real OpenLDAP slapd started here on loopback (memberof
overlay, TLS with a CA made by the test): provisioning with the rules' role and
groups, wrong passwords, filter injection, the sync taking away what the directory
took away, StartTLS and ldaps, the break-glass admin during an outage, and who may
see or change the settings."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from moorage.models.directory import LdapDirectory
from moorage.models.group import Group, GroupMember
from moorage.models.user import Role, User
from moorage.services.ldap_sync import DirectorySync
from moorage.services.users import create_user
from tests.ldap_server import GROUPS, PEOPLE, ROOT_DN, ROOT_PASSWORD, Slapd, require_slapd
from tests.unit import conftest as unit
from tests.unit.conftest import ADMIN_PASSWORD, BASE_URL, SAME_ORIGIN, App

app = unit.app  # the in-process app on a fresh database, signed in as its admin
member = unit.member

_names = itertools.count(1)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory) -> Iterator[Slapd]:
    require_slapd()
    server = Slapd(tmp_path_factory.mktemp("slapd"), tls=True)
    server.start()
    yield server
    server.stop()


def settings(slapd: Slapd, **changes) -> dict:
    """Settings for the test slapd: memberOf groups, a rule per kind."""
    body = {
        "url": slapd.url,
        "bind_dn": ROOT_DN,
        "bind_password": ROOT_PASSWORD,
        "user_base": PEOPLE,
        "user_filter": "(objectClass=inetOrgPerson)",
        "group_rules": [
            {"group": "teachers", "role": "instructor", "groups": ["staff"]},
            {"group": f"cn=class-2b,{GROUPS}", "groups": ["class-2b"]},
        ],
        "default_role": "member",
    }
    body.update(changes)
    return body


async def configure(app: App, slapd: Slapd, **changes) -> dict:
    for name in ("staff", "class-2b"):
        made = await app.client.post("/api/v1/groups", json={"name": name})
        assert made.status_code in (201, 409), made.text
    response = await app.client.put("/api/v1/directory/ldap", json=settings(slapd, **changes))
    assert response.status_code == 200, response.text
    return response.json()


def person(slapd: Slapd, *groups: str) -> tuple[str, str, str]:
    """A new directory user in ``groups`` (created if needed): ``(uid, password, dn)``."""
    uid = f"person{next(_names)}"
    password = f"{uid}-secret"
    dn = slapd.add_user(uid, password, name=f"Person {uid}", mail=f"{uid}@school.test")
    for group in groups:
        group_dn = f"cn={group},{GROUPS}"
        try:
            slapd.modify(f"dn: {group_dn}\nchangetype: modify\nadd: member\nmember: {dn}\n")
        except RuntimeError:
            slapd.add_group(group, [dn])
    return uid, password, dn


async def login(app: App, username: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as client:
        return await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )


async def groups_of(app: App, username: str) -> tuple[User, set[str]]:
    async with app.context.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.username == username))
        assert user is not None
        names = set(
            await db.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user.id)
            )
        )
        return user, names


async def test_a_directory_user_signs_in_and_gets_the_rules_role_and_groups(app, slapd):
    await configure(app, slapd)
    uid, password, dn = person(slapd, "teachers", "class-2b")
    response = await login(app, uid, password)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "instructor"
    user, groups = await groups_of(app, uid)
    assert (user.auth_source, user.external_id) == ("ldap", dn)
    assert (user.display_name, user.email) == (f"Person {uid}", f"{uid}@school.test")
    assert groups == {"staff", "class-2b"}
    assert user.password_hash.startswith("!directory:")  # no local password works
    # A second sign-in finds the same account.
    assert (await login(app, uid, password)).status_code == 200
    users_page = await app.client.get("/admin/users")
    row = users_page.text.split(f'data-username="{uid}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-auth-source="ldap"' in row


async def test_a_wrong_or_empty_password_is_refused(app, slapd):
    await configure(app, slapd)
    uid, password, _ = person(slapd)
    for wrong in ("not-the-password", "", password + "x"):
        response = await login(app, uid, wrong)
        assert response.status_code in (401, 422), response.text
    async with app.context.sessionmaker() as db:
        assert await db.scalar(select(User).where(User.username == uid)) is None


async def test_a_filter_injection_in_the_username_finds_nobody(app, slapd):
    await configure(app, slapd)
    uid, password, _ = person(slapd)
    for trick in ("*)(uid=*", "*", f"{uid})(|(uid=*", f"*)(|(uid={uid}"):
        response = await login(app, trick, password)
        assert response.status_code == 401, (trick, response.text)
        looked_up = await app.client.post("/api/v1/directory/ldap/test", json={"username": trick})
        assert looked_up.status_code == 200 and looked_up.json()["found"] is False, trick
    async with app.context.sessionmaker() as db:
        ldap_users = list(await db.scalars(select(User).where(User.auth_source == "ldap")))
    assert ldap_users == []


async def test_the_sync_disables_a_user_gone_from_the_directory(app, slapd):
    await configure(app, slapd)
    uid, password, dn = person(slapd, "class-2b")
    assert (await login(app, uid, password)).status_code == 200
    signed_in = await app.login(uid, password)
    assert (await signed_in.get("/api/v1/auth/me")).status_code == 200
    slapd.delete(dn)
    report = await app.client.post("/api/v1/directory/ldap/sync")
    assert report.status_code == 200, report.text
    assert report.json()["disabled"] == 1
    user, groups = await groups_of(app, uid)
    assert user.is_active is False and groups == set()
    assert (await signed_in.get("/api/v1/auth/me")).status_code == 401
    await signed_in.aclose()


async def test_the_sync_removes_a_membership_the_directory_removed(app, slapd):
    await configure(app, slapd)
    uid, password, dn = person(slapd, "teachers", "class-2b")
    assert (await login(app, uid, password)).status_code == 200
    slapd.remove_member(f"cn=teachers,{GROUPS}", dn)
    response = await app.client.post("/api/v1/directory/ldap/sync")
    assert response.status_code == 200, response.text
    user, groups = await groups_of(app, uid)
    assert groups == {"class-2b"} and user.role == Role.MEMBER.value and user.is_active


async def test_the_background_job_syncs_a_directory_that_is_due(app, slapd):
    await configure(app, slapd)
    uid, password, _ = person(slapd, "class-2b")
    assert (await login(app, uid, password)).status_code == 200
    slapd.remove_member(f"cn=class-2b,{GROUPS}", f"uid={uid},{PEOPLE}")
    sync = app.context.directory_sync
    assert sync is not None
    reconciler = app.context.reconciler
    assert reconciler is not None and "ldap-sync" in [job.name for job in reconciler._jobs]
    await sync.run_due()  # never synced: due
    assert (await groups_of(app, uid))[1] == set()
    async with app.context.sessionmaker() as db:
        directory = await db.scalar(select(LdapDirectory))
        assert directory is not None and directory.last_sync_at is not None
        assert directory.last_sync_error is None
    # Not due again before its interval: a change waits for the next one.
    person_dn = f"uid={uid},{PEOPLE}"
    slapd.modify(
        f"dn: cn=class-2b,{GROUPS}\nchangetype: modify\nadd: member\nmember: {person_dn}\n"
    )
    await sync.run_due()
    assert (await groups_of(app, uid))[1] == set()
    # 15 minutes (the default interval) later, it is.
    later = directory.last_sync_at + timedelta(minutes=15)
    await DirectorySync(
        app.context.sessionmaker, app.context.keyring, clock=lambda: later
    ).run_due()
    assert (await groups_of(app, uid))[1] == {"class-2b"}


async def test_starttls_and_ldaps_with_the_test_ca(app, slapd):
    # Without the CA, the self-signed chain is refused, with the reason on screen.
    await configure(app, slapd, start_tls=True)
    refused = await app.client.post("/api/v1/directory/ldap/test", json={"username": "x"})
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "directory_unavailable"
    assert "certificate" in refused.json()["error"]["message"].lower()
    # A CA that is not a certificate at all: a clear 503 as well, never a 500.
    broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    await configure(app, slapd, start_tls=True, ca_pem=broken)
    refused = await app.client.post("/api/v1/directory/ldap/test", json={"username": "x"})
    assert refused.status_code == 503, refused.text
    uid, password, dn = person(slapd)
    for changes in (
        {"start_tls": True, "ca_pem": slapd.ca_pem},
        {"url": slapd.ldaps_url, "ca_pem": slapd.ca_pem},
    ):
        await configure(app, slapd, **changes)
        found = await app.client.post("/api/v1/directory/ldap/test", json={"username": uid})
        assert found.status_code == 200 and found.json()["dn"] == dn, found.text
        assert (await login(app, uid, password)).status_code == 200


async def test_the_break_glass_admin_signs_in_while_the_directory_is_down(app, tmp_path):
    require_slapd()
    down = Slapd(tmp_path / "slapd")
    down.start()
    await configure(app, down)
    uid, password, _ = person(down)
    assert (await login(app, uid, password)).status_code == 200
    down.stop()
    assert (await login(app, "admin", ADMIN_PASSWORD)).status_code == 200
    # A local user never reaches the directory, even with a wrong password: 401.
    assert (await login(app, "admin", "wrong")).status_code == 401
    refused = await login(app, uid, password)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "directory_unavailable"
    # The sign-in page shows the error on the form, not an error page.
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as client:
        page = await client.post("/login", data={"username": uid, "password": password})
    assert page.status_code == 503 and "cannot be reached" in page.text
    assert 'name="password"' in page.text
    sync = await app.client.post("/api/v1/directory/ldap/sync")
    assert sync.status_code == 503


async def test_a_directory_name_that_is_a_local_users_never_takes_the_local_account(app, slapd):
    await configure(app, slapd)
    async with app.context.sessionmaker() as db:
        org_id = (await db.scalar(select(User).where(User.username == "admin"))).org_id
    async with app.context.sessionmaker.begin() as db:
        await create_user(db, org_id=org_id, username="localone", password="local-password")
    slapd.add_user("localone", "directory-password")
    assert (await login(app, "localone", "directory-password")).status_code == 401
    assert (await login(app, "LocalOne", "directory-password")).status_code == 401
    assert (await login(app, "localone", "local-password")).status_code == 200
    user, _ = await groups_of(app, "localone")
    assert user.auth_source == "local"


async def test_a_directory_user_cannot_change_their_password_here(app, slapd):
    await configure(app, slapd)
    uid, password, _ = person(slapd)
    client = await app.login(uid, password)
    response = await client.post(
        "/api/v1/account/password",
        json={"current_password": password, "new_password": "another-password"},
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "directory_password"
    await client.aclose()


async def test_the_settings_hide_the_password_and_belong_to_the_admins_org(app, slapd, member):
    saved = await configure(app, slapd)
    assert saved["bind_password_set"] is True and "bind_password" not in saved
    read = await app.client.get("/api/v1/directory/ldap")
    assert ROOT_PASSWORD not in read.text
    async with app.context.sessionmaker() as db:
        row = await db.scalar(select(LdapDirectory))
        assert row is not None and ROOT_PASSWORD not in (row.bind_password_sealed or "")
    # Saving without a password keeps the stored one.
    body = settings(slapd)
    del body["bind_password"]
    assert (await app.client.put("/api/v1/directory/ldap", json=body)).json()["bind_password_set"]
    for method, path in [
        ("GET", "/api/v1/directory/ldap"),
        ("PUT", "/api/v1/directory/ldap"),
        ("POST", "/api/v1/directory/ldap/test"),
        ("POST", "/api/v1/directory/ldap/sync"),
        ("GET", "/admin/directory"),
    ]:
        response = await member.request(method, path, json=settings(slapd))
        assert response.status_code == 403, (path, response.text)
    # Another org's admin sees their own org's settings: none.
    made = await app.client.post("/api/v1/orgs", json={"name": "lab"})
    assert made.status_code == 201, made.text
    async with app.context.sessionmaker() as db:
        from moorage.models.org import Org

        lab = await db.scalar(select(Org).where(Org.name == "lab"))
    async with app.context.sessionmaker.begin() as db:
        await create_user(
            db, org_id=lab.id, username="labadmin", password="lab-admin-pw", role=Role.ADMIN
        )
    other = await app.login("labadmin", "lab-admin-pw")
    theirs = (await other.get("/api/v1/directory/ldap")).json()
    assert theirs["configured"] is False and theirs["url"] == ""
    assert (await other.post("/api/v1/directory/ldap/sync")).status_code == 404
    await other.aclose()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ldap://directory.example.org"}, "start_tls"),
        ({"url": "http://127.0.0.1"}, "url"),
        ({"url": "ldaps://127.0.0.1", "start_tls": True}, "start_tls"),
        ({"user_filter": "objectClass=person"}, "user_filter"),
        ({"user_filter": "(&(objectClass=person)"}, "user_filter"),
        ({"user_base": "not a dn"}, "user_base"),
        ({"username_attribute": "uid)(x"}, "username_attribute"),
        ({"group_rules": [{"group": "x", "role": "owner"}]}, "group_rules[0].role"),
        ({"nested_groups": True}, "group_base"),
        ({"ca_pem": "hello"}, "ca_pem"),
        ({"sync_interval_minutes": 0}, "sync_interval_minutes"),
    ],
)
async def test_bad_settings_get_a_422_naming_the_field(app, slapd, changes, field):
    response = await app.client.put("/api/v1/directory/ldap", json=settings(slapd, **changes))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_the_settings_page_saves_and_shows_a_lookup_on_screen(app, slapd):
    await configure(app, slapd)
    uid, _, dn = person(slapd, "teachers")
    page = await app.client.get("/admin/directory")
    assert page.status_code == 200 and slapd.url in page.text
    assert ROOT_PASSWORD not in page.text  # the stored password never comes back
    form = {
        **{k: str(v) for k, v in settings(slapd).items() if k not in ("group_rules",)},
        "group_rules": '[{"group": "teachers", "role": "instructor", "groups": ["staff"]}]',
        "enabled": "on",
        "bind_password": "",  # empty: keep the stored one
        "sync_interval_minutes": "30",
        "timeout_seconds": "5",
    }
    saved = await app.client.post("/admin/directory", data=form)
    assert saved.status_code == 303, re.findall(r"alert[^>]*>([^<]*)", saved.text)
    got = (await app.client.get("/api/v1/directory/ldap")).json()
    assert got["sync_interval_minutes"] == 30 and got["bind_password_set"] is True
    shown = await app.client.post("/admin/directory/test", data={"username": uid})
    assert shown.status_code == 200
    assert dn in shown.text and f"cn=teachers,{GROUPS}" in shown.text
    assert re.search(r"data-lookup-role>\s*instructor", shown.text, re.I), shown.text
    missing = await app.client.post("/admin/directory/test", data={"username": "nobody-here"})
    assert "data-lookup-missing" in missing.text
    htmx = {"HX-Request": "true"}
    bad = await app.client.post(
        "/admin/directory", data={**form, "group_rules": "[{"}, headers=htmx
    )
    assert bad.status_code == 422 and "group_rules must be JSON" in bad.text
    bad = await app.client.post("/admin/directory", data={**form, "url": "ftp://x"}, headers=htmx)
    assert bad.status_code == 422 and "url must be ldap://" in bad.text
    synced = await app.client.post("/admin/directory/sync")
    assert synced.status_code == 200 and "data-sync-report" in synced.text


async def test_the_page_shows_the_directorys_error_on_screen(app, tmp_path):
    require_slapd()
    down = Slapd(tmp_path / "slapd")
    down.start()
    await configure(app, down)
    down.stop()
    shown = await app.client.post("/admin/directory/test", data={"username": "anyone"})
    assert shown.status_code == 200 and "data-lookup-error" in shown.text
    assert "cannot be reached" in shown.text


async def test_a_directory_user_with_two_factor_gives_a_code_after_the_password(
    app, slapd, monkeypatch
):
    import pyotp

    from moorage.services import two_factor

    now = [1_900_000_020.0]
    monkeypatch.setattr(two_factor, "clock", lambda: now[0])
    await configure(app, slapd)
    uid, password, _ = person(slapd)
    client = await app.login(uid, password)
    setup = (await client.post("/api/v1/account/two-factor")).json()
    totp = pyotp.TOTP(setup["secret"])
    confirmed = await client.post(
        "/api/v1/account/two-factor/confirm", json={"code": totp.at(now[0])}
    )
    assert confirmed.status_code == 200, confirmed.text
    await client.aclose()
    asked = await login(app, uid, password)
    assert asked.status_code == 401
    assert asked.json()["error"]["code"] == "second_factor_required"
    now[0] += 30
    async with httpx.AsyncClient(
        transport=app.client._transport, base_url=BASE_URL, headers=SAME_ORIGIN
    ) as other:
        body = {"username": uid, "password": password, "code": totp.at(now[0])}
        assert (await other.post("/api/v1/auth/login", json=body)).status_code == 200
        # A wrong directory password never reaches the second factor.
        body = {"username": uid, "password": "wrong", "code": totp.at(now[0] + 30)}
        refused = await other.post("/api/v1/auth/login", json=body)
        assert refused.json()["error"]["code"] == "bad_credentials"


async def test_an_admin_cannot_reset_a_directory_users_password(app, slapd):
    await configure(app, slapd)
    uid, password, _ = person(slapd)
    assert (await login(app, uid, password)).status_code == 200
    user, _ = await groups_of(app, uid)
    reset = await app.client.post(f"/api/v1/users/{user.id}/password-reset")
    assert reset.status_code == 409, reset.text
    assert reset.json()["error"]["code"] == "directory_password"


async def test_a_name_two_orgs_directories_claim_is_refused_before_any_password_is_sent(app, slapd):
    await configure(app, slapd)
    uid, password, dn = person(slapd)
    seen, seen_password, seen_dn = person(slapd)
    assert (await login(app, seen, seen_password)).status_code == 200
    made = await app.client.post("/api/v1/orgs", json={"name": "rival"})
    assert made.status_code == 201, made.text
    async with app.context.sessionmaker() as db:
        from moorage.models.org import Org

        rival = await db.scalar(select(Org).where(Org.name == "rival"))
    async with app.context.sessionmaker.begin() as db:
        await create_user(
            db, org_id=rival.id, username="rivaladmin", password="rival-admin-pw", role=Role.ADMIN
        )
    other = await app.login("rivaladmin", "rival-admin-pw")
    # The rival org's admin points their directory at a server that has every name.
    saved = await other.put("/api/v1/directory/ldap", json=settings(slapd, group_rules=[]))
    assert saved.status_code == 200, saved.text
    await other.aclose()
    refused = await login(app, uid, password)
    assert refused.status_code == 401
    async with app.context.sessionmaker() as db:
        assert await db.scalar(select(User).where(User.username == uid)) is None
        from moorage.models.audit import AuditEvent

        details = list(
            await db.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "user.sign_in_failed")
            )
        )
    assert "several directories have this name" in details
    # slapd's log has the bind of a sign-in, and none for the refused one.
    log = (slapd.directory / "slapd.log").read_text()
    assert f'BIND dn="{seen_dn}"' in log
    assert f'BIND dn="{dn}"' not in log


async def test_groups_searched_under_a_group_base_give_the_same_outcome(app, slapd):
    await configure(app, slapd, group_base=GROUPS, group_filter="(objectClass=groupOfNames)")
    uid, password, dn = person(slapd, "teachers", "class-2b")
    response = await login(app, uid, password)
    assert response.status_code == 200 and response.json()["role"] == "instructor"
    assert (await groups_of(app, uid))[1] == {"staff", "class-2b"}
    slapd.remove_member(f"cn=class-2b,{GROUPS}", dn)
    assert (await app.client.post("/api/v1/directory/ldap/sync")).status_code == 200
    user, groups = await groups_of(app, uid)
    assert groups == {"staff"} and user.role == "instructor"
