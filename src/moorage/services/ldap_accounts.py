"""Directory users (issue 13): signing in through an org's LDAP / Active Directory,
the Moorage account an entry maps to, and an admin's test look-up.

* Who goes to the directory: only a username that is no local user (or is an
  ``ldap`` user). Local users, the break-glass admin first, never reach LDAP, so a
  directory outage locks none of them out.
* The check: the service account finds the one entry whose username attribute is
  the name typed (escaped, RFC 4515), then Moorage binds as that entry's DN with
  the password (RFC 4511 simple bind); an empty password is refused before any bind.
* The account: in the directory's org, ``auth_source=ldap``, ``external_id`` = the
  entry's DN, username = the username attribute in lower case (it must be a valid
  Moorage username), a local password hash that no password matches. Its role and
  managed groups follow :mod:`moorage.services.directory_rules` at every sign-in
  and every sync (:mod:`moorage.services.ldap_sync`).
* A rule's ``group`` names a directory group by its DN or by the value of the DN's
  first part (``cn=teachers,ou=groups,...`` → ``teachers``).
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.drivers.ldap import DirectoryClient, Entry, LdapClient, ServerSpec, in_directory_thread
from moorage.errors import Conflict, InvalidInput, RuntimeUnavailable
from moorage.models.directory import LdapDirectory
from moorage.models.user import AuthSource, Role, User
from moorage.security.crypto import Keyring
from moorage.services.audit import record
from moorage.services.directory_rules import apply_outcome, managed_groups, parse_rules, resolve
from moorage.services.ldap_settings import require_directory, search_spec, server_spec

__all__ = [
    "UNUSABLE_PASSWORD_PREFIX",
    "directory_groups",
    "lookup",
    "moorage_username",
    "provision",
    "sign_in_with_directory",
]

# Not an Argon2 string: verify_password answers False to every password.
UNUSABLE_PASSWORD_PREFIX = "!directory:"
_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
ACTOR = "directory"
log = logging.getLogger(__name__)


def moorage_username(entry: Entry) -> str | None:
    """The Moorage username of ``entry``: its username attribute in lower case, or
    None when that is not a valid Moorage username (``[a-z_][a-z0-9_.-]{0,31}``)."""
    name = entry.username.strip().lower()
    return name if _USERNAME.match(name) else None


def directory_groups(entry: Entry) -> list[str]:
    """The names the rules match ``entry``'s groups by: each group's DN and the value
    of its first RDN (RFC 4514), e.g. ``cn=teachers,ou=groups,dc=x`` and ``teachers``."""
    from ldap3.utils.dn import parse_dn

    names: list[str] = []
    for dn in entry.groups:
        names.append(dn)
        try:
            names.append(parse_dn(dn)[0][1])
        except Exception:  # an odd DN still matches by itself
            continue
    return names


async def provision(
    db: AsyncSession, directory: LdapDirectory, entry: Entry, *, source: str | None = None
) -> tuple[User, list[str]]:
    """The ``ldap`` user of ``directory``'s org for ``entry``, created or updated (name,
    e-mail, DN), with the role and managed groups the rules give. Flushes; not
    committed; a creation is audited ``user.create`` by ``directory``.

    Returns:
        the user and the rules' groups missing from the org.

    Raises:
        InvalidInput: the entry's username is not a valid Moorage username.
        Conflict ``username_taken``: a local user (or another org's) has that name;
            they are left untouched.
    """
    username = moorage_username(entry)
    if username is None:
        raise InvalidInput(
            "the directory username %(username)r is not a valid Moorage username",
            params={"username": entry.username},
            field="username",
        )
    user = await db.scalar(
        select(User).where(
            User.org_id == directory.org_id,
            User.auth_source == AuthSource.LDAP.value,
            User.external_id == entry.dn,
            User.deleted_at.is_(None),
        )
    )
    if user is None:
        user = await db.scalar(select(User).where(User.username == username))
        if user is not None and (
            user.auth_source != AuthSource.LDAP.value or user.org_id != directory.org_id
        ):
            raise Conflict(
                "the username %(username)r is taken by a user who does not sign in "
                "through this directory",
                params={"username": username},
                code="username_taken",
            )
    rules = parse_rules(directory.group_rules)
    outcome = resolve(rules, directory_groups(entry), Role(directory.default_role))
    if user is None:
        user = User(
            org_id=directory.org_id,
            username=username,
            password_hash=UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(16),
            role=outcome.role.value,
            auth_source=AuthSource.LDAP.value,
        )
        db.add(user)
        record(
            db,
            directory.org_id,
            ACTOR,
            "user.create",
            "user",
            username,
            detail=f"{outcome.role.value}, ldap {entry.dn}"[:255],
            source=source,
        )
    user.external_id = entry.dn
    user.display_name = (entry.display_name or username)[:128]
    user.email = entry.email[:255] if entry.email else None
    await db.flush()
    missing = await apply_outcome(db, user, outcome, managed_groups(rules))
    return user, missing


async def _directories(db: AsyncSession, org_id: str | None) -> list[LdapDirectory]:
    query = select(LdapDirectory).where(LdapDirectory.enabled.is_(True))
    if org_id is not None:
        query = query.where(LdapDirectory.org_id == org_id)
    return list(await db.scalars(query.order_by(LdapDirectory.created_at)))


async def sign_in_with_directory(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    username: str,
    password: str,
    *,
    org_id: str | None = None,
    client: DirectoryClient | None = None,
    source: str | None = None,
) -> tuple[User | None, str, str | None]:
    """Check ``username``/``password`` against the directory: the org's of the
    ``ldap`` user of that name, else the one enabled directory that has the name
    (all are asked, with their service accounts; a name several have is refused,
    ``several directories have this name``, before any password is sent). On
    success the account is provisioned (committed). A local user's name is refused
    at once (``local user``), without asking any directory; a directory that cannot
    be reached is skipped when another one has the name.

    Returns:
        ``(user, "", org_id)``, or ``(None, reason, org_id)`` (``org_id`` as given
        when no directory knew the name) with ``reason`` for the audit log:
        ``unknown user``, ``local user``, ``wrong password``, ``account disabled``,
        ``several directories have this name``, ``directory entry changed`` (the
        name now belongs to another entry than the account's DN), ``username taken
        by a local user``, ``invalid directory username``.

    Raises:
        RuntimeUnavailable ``directory_unavailable``: no directory has the name and
            one could not be asked (audited ``user.sign_in_failed``, ``directory
            unavailable``; the reason is logged, not shown). Never for local users.
    """
    if "\x00" in username:
        return None, "unknown user", org_id
    client = client or LdapClient()
    async with sessionmaker() as db:
        existing = await db.scalar(select(User).where(User.username == username))
        if existing is not None and existing.auth_source != AuthSource.LDAP.value:
            return None, "local user", org_id
        directories = await _directories(db, existing.org_id if existing else None)
    # Every directory is asked who has the name (service binds only) before any
    # password is sent: a name two orgs' directories claim is refused, so no org's
    # server (another org's admin chooses it) ever receives another org's password.
    hits: list[tuple[LdapDirectory, ServerSpec, Entry]] = []
    down: RuntimeUnavailable | None = None
    for directory in directories:
        server = server_spec(directory, keyring)
        try:
            entry = await in_directory_thread(
                client.find_user, server, search_spec(directory), username
            )
        except RuntimeUnavailable as exc:
            down = exc
            continue
        if entry is not None:
            hits.append((directory, server, entry))
    if not hits:
        if down is not None:
            # The reason (addresses, TLS details) is for the log and the admins' page.
            log.warning("directory sign-in of %r: %s", username, down.message)
            if org_id is not None or existing is not None:
                async with write_session(sessionmaker) as db:
                    record(db, existing.org_id if existing else str(org_id), username,
                           "user.sign_in_failed", "user", username,
                           detail="directory unavailable", source=source)  # fmt: skip
            raise RuntimeUnavailable(
                "the sign-in directory cannot be reached: try again later, or ask an admin",
                code="directory_unavailable",
            ) from down
        return None, "unknown user", existing.org_id if existing else org_id
    if len(hits) > 1:
        return None, "several directories have this name", org_id
    directory, server, entry = hits[0]
    if existing is not None and (existing.external_id or "").casefold() != entry.dn.casefold():
        # The name now belongs to another entry: not the person this account is.
        return None, "directory entry changed", directory.org_id
    if not await in_directory_thread(client.check_password, server, entry.dn, password):
        return None, "wrong password", directory.org_id
    try:
        async with write_session(sessionmaker) as db:
            row = await db.get(LdapDirectory, directory.id)
            if row is None:
                return None, "unknown user", None
            user, _ = await provision(db, row, entry, source=source)
            if not user.is_active:
                return None, "account disabled", directory.org_id
            return user, "", directory.org_id
    except Conflict:
        return None, "username taken by a local user", directory.org_id
    except InvalidInput:
        return None, "invalid directory username", directory.org_id


async def lookup(
    db: AsyncSession,
    admin: User,
    keyring: Keyring,
    username: str,
    *,
    client: DirectoryClient | None = None,
) -> dict[str, Any]:
    """An admin's test of their org's directory: connect, bind as the service
    account, find ``username``. Changes nothing.

    Returns:
        ``{"found": False, "username"}``, or ``{"found": True, "dn", "username"`` (the
        Moorage username, None when invalid), ``"display_name", "email", "groups"``
        (DNs), ``"role", "moorage_groups", "missing_groups"}`` (what the rules give).

    Raises:
        Forbidden: not an admin. NotFound ``no_directory``: none set up.
        InvalidInput: empty ``username`` (field ``username``).
        RuntimeUnavailable: as :mod:`moorage.drivers.ldap` (the message says why).
    """
    directory = await require_directory(db, admin)
    if not username.strip() or len(username) > 256:
        raise InvalidInput("username is required", field="username")
    client = client or LdapClient()
    entry = await in_directory_thread(
        client.find_user, server_spec(directory, keyring), search_spec(directory), username.strip()
    )
    if entry is None:
        return {"found": False, "username": username.strip()}
    rules = parse_rules(directory.group_rules)
    outcome = resolve(rules, directory_groups(entry), Role(directory.default_role))
    from moorage.models.group import Group

    existing = set(
        await db.scalars(
            select(Group.name).where(
                Group.org_id == directory.org_id, Group.name.in_(sorted(outcome.groups))
            )
        )
    )
    return {
        "found": True,
        "dn": entry.dn,
        "username": moorage_username(entry),
        "display_name": entry.display_name,
        "email": entry.email,
        "groups": list(entry.groups),
        "role": outcome.role.value,
        "moorage_groups": sorted(outcome.groups & existing),
        "missing_groups": sorted(outcome.groups - existing),
    }
