"""LDAP directory client (RFC 4511 operations, RFC 4515 filters, RFC 4516 URLs) over
``ldap3``, the boundary where its exceptions become Moorage's.

Every method is blocking (``ldap3``'s synchronous strategy) and opens its own
connection, so callers run them in a worker thread (``asyncio.to_thread``) and
nothing is shared between threads. ``ldap3`` is imported inside the functions: a
server that has no directory never loads it.

Errors:
    RuntimeUnavailable ``directory_unavailable``: the server cannot be reached,
        TLS fails (certificate not trusted, StartTLS refused) or it answers an
        operation with an error.
    RuntimeUnavailable ``directory_bind_failed``: the service account's bind DN and
        password are refused.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from moorage.errors import RuntimeUnavailable

__all__ = [
    "IN_CHAIN",
    "DirectoryClient",
    "Entry",
    "LdapClient",
    "SearchSpec",
    "ServerSpec",
    "in_directory_thread",
    "user_filter_for",
]

# Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: a member filter with it matches
# groups the entry is in directly or through nested groups.
IN_CHAIN = "1.2.840.113556.1.4.1941"
_PAGE_SIZE = 500
_THREADS = 4
_T = TypeVar("_T")


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="ldap")


async def in_directory_thread(call: Callable[..., _T], *args: Any) -> _T:
    """Run a blocking directory call in the directory's own threads (4), not the
    default executor: a directory that hangs until its timeout then holds only
    these, never the threads that local users' Argon2 checks (the break-glass
    admin's sign-in) run in."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), call, *args)


@dataclass(frozen=True)
class ServerSpec:
    """Where and how to connect.

    ``url``: ``ldap://host[:port]`` (RFC 4516; StartTLS when ``start_tls``) or
    ``ldaps://host[:port]``. ``ca_pem``: PEM text of the CA certificate(s) to trust
    instead of the system's. ``bind_dn``/``bind_password``: the service account that searches.
    ``timeout_seconds``: for connecting and for each answer.
    """

    url: str
    bind_dn: str
    bind_password: str
    start_tls: bool = False
    ca_pem: str | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SearchSpec:
    """Where users and groups are and which attributes say what.

    ``user_filter`` (RFC 4515) selects the entries that may sign in; the username
    is matched against ``username_attribute``. With an empty ``group_base`` a
    user's groups are the DNs in its ``memberOf`` attribute (OpenLDAP's memberof
    overlay, Active Directory); otherwise the entries under ``group_base`` matching
    ``group_filter`` whose ``group_member_attribute`` holds the user's DN, through
    nested groups when ``nested_groups`` (Active Directory's :data:`IN_CHAIN`).
    """

    user_base: str
    user_filter: str
    username_attribute: str = "uid"
    display_name_attribute: str = "cn"
    email_attribute: str = "mail"
    group_base: str = ""
    group_filter: str = "(objectClass=groupOfNames)"
    group_member_attribute: str = "member"
    nested_groups: bool = False


@dataclass(frozen=True)
class Entry:
    """A user entry: its ``dn``, the raw ``username`` value, ``display_name``,
    ``email`` (None when absent) and the DNs of its ``groups``."""

    dn: str
    username: str
    display_name: str
    email: str | None
    groups: tuple[str, ...] = field(default=())


class DirectoryClient(Protocol):
    """What Moorage asks of a directory; :class:`LdapClient` is the real one, unit
    tests pass a fake. All blocking; errors as the module docstring says."""

    def find_user(self, server: ServerSpec, search: SearchSpec, username: str) -> Entry | None:
        """The one entry whose username attribute equals ``username`` (escaped, RFC
        4515 section 3), or None when there is none or more than one."""
        ...

    def check_password(self, server: ServerSpec, dn: str, password: str) -> bool:
        """True when a simple bind (RFC 4511 section 4.2) as ``dn`` with ``password``
        succeeds; False for invalid credentials and for an empty password (which
        would be an unauthenticated bind, RFC 4513 section 5.1.2)."""
        ...

    def all_users(self, server: ServerSpec, search: SearchSpec) -> list[Entry]:
        """Every entry of the user search, with its groups (paged, RFC 2696)."""
        ...


def user_filter_for(search: SearchSpec, username: str) -> str:
    """The filter that finds ``username``: ``(&<user_filter>(<attr>=<escaped>))``.
    The username is escaped (``*``, ``(``, ``)``, ``\\`` and NUL, RFC 4515 section 3),
    so ``*)(uid=*`` is a name, never a wildcard or another clause."""
    from ldap3.utils.conv import escape_filter_chars

    return f"(&{search.user_filter}({search.username_attribute}={escape_filter_chars(username)}))"


def _first(attributes: dict[str, Any], name: str) -> str | None:
    for key, value in attributes.items():
        if key.casefold() == name.casefold():
            if isinstance(value, list):
                return str(value[0]) if value else None
            return str(value) if value not in (None, "") else None
    return None


def _all(attributes: dict[str, Any], name: str) -> list[str]:
    for key, value in attributes.items():
        if key.casefold() == name.casefold():
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return []


def _unavailable(exc: BaseException) -> RuntimeUnavailable:
    reason = str(exc) or type(exc).__name__
    return RuntimeUnavailable(
        "the directory cannot be reached: %(reason)s",
        params={"reason": reason},
        code="directory_unavailable",
    )


class LdapClient:
    """The real :class:`DirectoryClient`, with ``ldap3``."""

    @contextmanager
    def _connection(self, server: ServerSpec, dn: str, password: str) -> Iterator[Any]:
        """An open connection, TLS started when asked, not yet bound."""
        import ldap3
        from ldap3.core.exceptions import LDAPException

        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_data=server.ca_pem or None)
        target = ldap3.Server(
            server.url,
            use_ssl=server.url.lower().startswith("ldaps://"),
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=server.timeout_seconds,
        )
        connection = ldap3.Connection(
            target,
            user=dn or None,
            password=password or None,
            read_only=True,
            receive_timeout=max(1, int(server.timeout_seconds)),
            raise_exceptions=False,
            auto_referrals=False,
        )
        try:
            connection.open()
            if server.start_tls and not connection.start_tls():
                raise RuntimeUnavailable(
                    "the directory refused StartTLS: %(reason)s",
                    params={"reason": connection.result.get("description", "")},
                    code="directory_unavailable",
                )
            yield connection
        except LDAPException as exc:
            raise _unavailable(exc) from exc
        except (OSError, ssl.SSLError) as exc:
            raise _unavailable(exc) from exc
        finally:
            try:
                connection.unbind()
            except Exception:  # already closed: nothing to end
                pass

    @contextmanager
    def _service(self, server: ServerSpec) -> Iterator[Any]:
        with self._connection(server, server.bind_dn, server.bind_password) as connection:
            if server.bind_dn and not connection.bind():
                raise RuntimeUnavailable(
                    "the directory refused the bind DN and password: %(reason)s",
                    params={"reason": connection.result.get("description", "")},
                    code="directory_bind_failed",
                )
            yield connection

    def find_user(self, server: ServerSpec, search: SearchSpec, username: str) -> Entry | None:
        with self._service(server) as connection:
            found = self._search(
                connection, search.user_base, user_filter_for(search, username), search
            )
            if len(found) != 1:
                return None
            entry = found[0]
            return _entry(entry, search, self._groups(connection, search, entry))

    def check_password(self, server: ServerSpec, dn: str, password: str) -> bool:
        if not password or not dn:
            return False
        with self._connection(server, dn, password) as connection:
            if connection.bind():
                return True
            if connection.result.get("result") == 49:  # invalidCredentials
                return False
            raise RuntimeUnavailable(
                "the directory refused the sign-in: %(reason)s",
                params={"reason": connection.result.get("description", "")},
                code="directory_unavailable",
            )

    def all_users(self, server: ServerSpec, search: SearchSpec) -> list[Entry]:
        with self._service(server) as connection:
            found = self._search(connection, search.user_base, search.user_filter, search)
            members: dict[str, list[str]] | None = None
            if search.group_base and not search.nested_groups:
                members = self._members_of_groups(connection, search)
            entries = []
            for entry in found:
                if members is not None:
                    groups = members.get(entry["dn"].casefold(), [])
                else:
                    groups = self._groups(connection, search, entry)
                entries.append(_entry(entry, search, groups))
            return entries

    def _search(
        self, connection: Any, base: str, ldap_filter: str, search: SearchSpec
    ) -> list[dict[str, Any]]:
        attributes = [
            search.username_attribute,
            search.display_name_attribute,
            search.email_attribute,
        ]
        if not search.group_base:
            attributes.append("memberOf")
        return self._paged(connection, base, ldap_filter, attributes)

    def _paged(
        self, connection: Any, base: str, ldap_filter: str, attributes: list[str]
    ) -> list[dict[str, Any]]:
        import ldap3

        results = connection.extend.standard.paged_search(
            base,
            ldap_filter,
            search_scope=ldap3.SUBTREE,
            attributes=attributes,
            paged_size=_PAGE_SIZE,
            generator=False,
        )
        code = connection.result.get("result", 0) if connection.result else 0
        if code not in (0, 32):  # success, noSuchObject (an empty base)
            raise RuntimeUnavailable(
                "the directory refused the search: %(reason)s",
                params={"reason": connection.result.get("description", "")},
                code="directory_unavailable",
            )
        return [r for r in results or [] if r.get("type") == "searchResEntry"]

    def _groups(self, connection: Any, search: SearchSpec, entry: dict[str, Any]) -> list[str]:
        if not search.group_base:
            return _all(entry.get("attributes", {}), "memberOf")
        from ldap3.utils.conv import escape_filter_chars

        rule = f":{IN_CHAIN}:" if search.nested_groups else ""
        member = f"({search.group_member_attribute}{rule}={escape_filter_chars(entry['dn'])})"
        found = self._paged(connection, search.group_base, f"(&{search.group_filter}{member})", [])
        return [g["dn"] for g in found]

    def _members_of_groups(self, connection: Any, search: SearchSpec) -> dict[str, list[str]]:
        """Member DN (casefolded) → the DNs of the groups that list it directly."""
        found = self._paged(
            connection, search.group_base, search.group_filter, [search.group_member_attribute]
        )
        members: dict[str, list[str]] = {}
        for group in found:
            for dn in _all(group.get("attributes", {}), search.group_member_attribute):
                members.setdefault(dn.casefold(), []).append(group["dn"])
        return members


def _entry(entry: dict[str, Any], search: SearchSpec, groups: list[str]) -> Entry:
    attributes = entry.get("attributes", {})
    username = _first(attributes, search.username_attribute) or ""
    return Entry(
        dn=entry["dn"],
        username=username,
        display_name=_first(attributes, search.display_name_attribute) or username,
        email=_first(attributes, search.email_attribute),
        groups=tuple(groups),
    )
