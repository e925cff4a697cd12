"""The LDAP parts that need no server, with fakes: the username filter's escaping
(RFC 4515), Active Directory's in-chain group filter, the names rules match groups
by, the empty password refused before any bind, and a sync whose search finds
nobody disabling nobody."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.drivers.ldap import (
    IN_CHAIN,
    Entry,
    LdapClient,
    SearchSpec,
    ServerSpec,
    user_filter_for,
)
from moorage.models.user import User
from moorage.services import ldap_settings
from moorage.services.ldap_accounts import directory_groups, provision
from moorage.services.ldap_sync import DirectorySync
from moorage.services.users import find_user

SEARCH = SearchSpec(user_base="ou=people,dc=x", user_filter="(objectClass=inetOrgPerson)")


def test_the_username_is_escaped_in_the_search_filter():
    built = user_filter_for(SEARCH, "*)(uid=*")
    assert built == r"(&(objectClass=inetOrgPerson)(uid=\2a\29\28uid=\2a))"
    assert user_filter_for(SEARCH, "a\\b\x00") == r"(&(objectClass=inetOrgPerson)(uid=a\5cb\00))"


class _Connection:
    """Records the filters searched; answers no entries."""

    def __init__(self) -> None:
        self.filters: list[str] = []
        self.result = {"result": 0}
        self.extend = SimpleNamespace(standard=SimpleNamespace(paged_search=self._search))

    def _search(self, base, ldap_filter, **kwargs):
        self.filters.append(ldap_filter)
        return []


def test_nested_groups_are_searched_with_the_in_chain_matching_rule():
    nested = SearchSpec(
        user_base="OU=Staff,DC=x",
        user_filter="(objectClass=user)",
        group_base="OU=Groups,DC=x",
        group_filter="(objectClass=group)",
        nested_groups=True,
    )
    connection = _Connection()
    LdapClient()._groups(connection, nested, {"dn": "CN=Ann (IT),OU=Staff,DC=x"})
    assert connection.filters == [
        f"(&(objectClass=group)(member:{IN_CHAIN}:=CN=Ann \\28IT\\29,OU=Staff,DC=x))"
    ]
    flat = SearchSpec(**{**nested.__dict__, "nested_groups": False})
    LdapClient()._groups(connection, flat, {"dn": "CN=Bo,DC=x"})
    assert connection.filters[-1] == "(&(objectClass=group)(member=CN=Bo,DC=x))"


def test_rules_match_a_group_by_its_dn_or_its_first_value():
    entry = Entry(dn="uid=a,dc=x", username="a", display_name="A", email=None,
                  groups=("cn=teachers,ou=groups,dc=x",))  # fmt: skip
    assert directory_groups(entry) == ["cn=teachers,ou=groups,dc=x", "teachers"]


def test_an_empty_password_is_refused_before_any_bind():
    # Port 1 on loopback answers nobody: a connection attempt would raise.
    server = ServerSpec(url="ldap://127.0.0.1:1", bind_dn="", bind_password="")
    assert LdapClient().check_password(server, "uid=a,dc=x", "") is False


class _EmptyDirectory:
    def all_users(self, server, search):
        return []


async def test_a_sync_whose_search_finds_nobody_disables_nobody(app):
    async with write_session(app.context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        directory = await ldap_settings.save(
            db, admin, app.context.keyring,
            {"url": "ldap://127.0.0.1:1", "user_base": "ou=people,dc=x"},
        )  # fmt: skip
        entry = Entry(dn="uid=ann,ou=people,dc=x", username="Ann", display_name="Ann",
                      email=None)  # fmt: skip
        user, _ = await provision(db, directory, entry)
        assert user.username == "ann" and user.auth_source == "ldap"
    sync = DirectorySync(app.context.sessionmaker, app.context.keyring, client=_EmptyDirectory())
    report = await sync.sync(directory.id)
    assert report["disabled"] == 0 and "no entries" in report["error"]
    async with app.context.sessionmaker() as db:
        ann = await db.scalar(select(User).where(User.username == "ann"))
        assert ann is not None and ann.is_active
        row = await ldap_settings.directory_of(db, admin.org_id)
        assert row is not None and "no entries" in (row.last_sync_error or "")
