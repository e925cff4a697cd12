"""The background sync of directory users (issue 13): every org's enabled LDAP
directory is read whole every ``sync_interval_minutes`` (the reconciler's
``ldap-sync`` job looks each minute for those due), and its ``ldap`` users made to
match it:

* a user whose entry is still found (by DN, the search's user filter included)
  gets the entry's name and e-mail, and the role and managed groups the rules give;
* a user whose entry is gone is disabled and taken out of the managed groups
  (audited ``user.disable`` by ``directory``); their tokens stop working, as every
  disabled user's. Nobody is re-enabled by a sync: an admin does that.

The sync creates no users; they appear at their first sign-in. A search that finds
nobody while the org has active directory users disables nobody and reports an
error (a wrong base or filter must not lock a whole org out).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.ldap import DirectoryClient, Entry, LdapClient, in_directory_thread
from moorage.errors import Conflict, MoorageError
from moorage.models.directory import LdapDirectory
from moorage.models.group import Group, GroupMember
from moorage.models.user import AuthSource, Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in, record
from moorage.services.directory_rules import managed_groups, parse_rules, resolve
from moorage.services.ldap_accounts import ACTOR, directory_groups
from moorage.services.ldap_settings import require_directory, search_spec, server_spec

__all__ = ["DirectorySync"]

log = logging.getLogger(__name__)


class DirectorySync:
    """Syncs directories; one sync per directory at a time.

    Args:
        sessionmaker: the database.
        keyring: opens the bind passwords.
        client: the directory client (:class:`~moorage.drivers.ldap.LdapClient`).
        clock: the current UTC time.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        client: DirectoryClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring
        self._client = client or LdapClient()
        self._clock = clock
        self._busy: set[str] = set()

    async def run_due(self) -> None:
        """The reconciler's job: sync each enabled directory whose last sync is older
        than its interval (a failing one is logged and recorded, the others go on)."""
        now = self._clock()
        async with self._sessionmaker() as db:
            rows = list(
                await db.execute(
                    select(
                        LdapDirectory.id,
                        LdapDirectory.last_sync_at,
                        LdapDirectory.sync_interval_minutes,
                    ).where(LdapDirectory.enabled.is_(True))
                )
            )
        for directory_id, last, minutes in rows:
            if last is not None and last + timedelta(minutes=minutes) > now:
                continue
            try:
                await self.sync(directory_id)
            except MoorageError as exc:
                log.warning("directory sync %s failed: %s", directory_id, exc.message)
            except Exception:
                log.exception("directory sync %s failed", directory_id)

    async def sync_now(self, admin: User, *, source: str | None = None) -> dict:
        """An admin's sync of their org's directory, now (audited ``directory.sync``).

        Returns:
            the report, as :meth:`sync`.

        Raises:
            Forbidden, NotFound ``no_directory``; Conflict ``sync_running``;
            RuntimeUnavailable when the directory cannot be read.
        """
        require_role(admin, Role.ADMIN)
        async with self._sessionmaker() as db:
            directory_id = (await require_directory(db, admin)).id
        report = await self.sync(directory_id)
        async with write_session(self._sessionmaker) as db:
            audit_in(db, admin, "directory.sync", "directory", "ldap", source=source)
        return report

    async def sync(self, directory_id: str) -> dict[str, Any]:
        """Read the directory and update its users (one transaction).

        Returns:
            ``{"entries", "updated", "disabled", "missing_groups", "seconds"}``: the
            entries found, users updated, users disabled, rule groups missing from
            the org, and the time taken in seconds; and ``"error"`` when the search
            found nobody (then nobody was disabled).

        Raises:
            Conflict ``sync_running``; RuntimeUnavailable (also recorded as the
            directory's ``last_sync_error``).
        """
        if directory_id in self._busy:
            raise Conflict("a sync of this directory is under way", code="sync_running")
        self._busy.add(directory_id)
        started = time.monotonic()
        try:
            async with self._sessionmaker() as db:
                directory = await db.get(LdapDirectory, directory_id)
                if directory is None:
                    return {}
                server, search = server_spec(directory, self._keyring), search_spec(directory)
            try:
                entries = await in_directory_thread(self._client.all_users, server, search)
            except MoorageError as exc:
                await self._record(directory_id, None, exc.message)
                raise
            by_dn = {entry.dn.casefold(): entry for entry in entries}
            async with write_session(self._sessionmaker) as db:
                row = await db.get(LdapDirectory, directory_id)
                if row is None:
                    return {}
                report = await self._apply(db, row, by_dn)
                report["seconds"] = round(time.monotonic() - started, 3)
                error = report.pop("error", None)
                row.last_sync_at = self._clock()
                row.last_sync_report = dict(report)
                row.last_sync_error = error
            return {**report, "error": error} if error else report
        finally:
            self._busy.discard(directory_id)

    async def _apply(
        self, db: AsyncSession, directory: LdapDirectory, by_dn: dict[str, Entry]
    ) -> dict[str, Any]:
        """Update every ``ldap`` user of the org from ``by_dn`` (casefolded DN → entry)
        with a few statements for all of them (the memberships of the managed groups
        read once, then inserted and deleted in bulk), not a round of queries each:
        the same outcome as :func:`~moorage.services.directory_rules.apply_outcome`."""
        users = list(
            await db.scalars(
                select(User).where(
                    User.org_id == directory.org_id,
                    User.auth_source == AuthSource.LDAP.value,
                    User.deleted_at.is_(None),
                )
            )
        )
        report: dict[str, Any] = {"entries": len(by_dn), "updated": 0, "disabled": 0}
        if not by_dn and any(u.is_active for u in users):
            report["error"] = "the user search found no entries: nobody was disabled"
            return report
        rules = parse_rules(directory.group_rules)
        default = Role(directory.default_role)
        named = await db.execute(
            select(Group.name, Group.id).where(
                Group.org_id == directory.org_id, Group.name.in_(sorted(managed_groups(rules)))
            )
        )
        found = {name: group_id for name, group_id in named.tuples()}
        held: dict[str, set[str]] = defaultdict(set)
        if found:
            rows = await db.execute(
                select(GroupMember.user_id, GroupMember.group_id).where(
                    GroupMember.group_id.in_(sorted(found.values()))
                )
            )
            for user_id, group_id in rows.tuples():
                held[user_id].add(group_id)
        missing: set[str] = set()
        joins: list[GroupMember] = []
        leaves: dict[str, list[str]] = defaultdict(list)  # group id → user ids
        for user in users:
            entry = by_dn.get((user.external_id or "").casefold())
            wanted: set[str] = set()
            if entry is None:
                if user.is_active:
                    user.is_active = False
                    report["disabled"] += 1
                    record(db, directory.org_id, ACTOR, "user.disable", "user", user.username,
                           detail="gone from the directory")  # fmt: skip
            else:
                outcome = resolve(rules, directory_groups(entry), default)
                user.role = outcome.role.value
                user.display_name = (entry.display_name or user.username)[:128]
                user.email = entry.email[:255] if entry.email else None
                wanted = {found[name] for name in outcome.groups if name in found}
                missing.update(outcome.groups - set(found))
                report["updated"] += 1
            joins += [GroupMember(group_id=g, user_id=user.id) for g in wanted - held[user.id]]
            for group_id in held[user.id] - wanted:
                leaves[group_id].append(user.id)
        for group_id, user_ids in leaves.items():
            await db.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == group_id, GroupMember.user_id.in_(user_ids)
                )
            )
        db.add_all(joins)
        await db.flush()
        report["missing_groups"] = sorted(missing)
        return report

    async def _record(self, directory_id: str, report: dict | None, error: str) -> None:
        async with write_session(self._sessionmaker) as db:
            row = await db.get(LdapDirectory, directory_id)
            if row is not None:
                row.last_sync_at = self._clock()
                row.last_sync_report = report
                row.last_sync_error = error
