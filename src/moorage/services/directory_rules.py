"""Directory group rules: what a directory's groups make of a Moorage user.

Shared by every sign-in source outside Moorage (LDAP/Active Directory, OIDC): the
source says which groups the person is in (LDAP group DNs or names, or the values
of an OIDC claim), and an org's rules turn them into a Moorage role and Moorage
group memberships. Rules are stored as JSON, a list of objects::

    [{"group": "cn=teachers,ou=groups,dc=school,dc=example", "role": "instructor",
      "groups": ["staff"]},
     {"group": "students", "groups": ["class-2b"]}]

* ``group``: the directory group, compared case-insensitively (LDAP DNs are).
* ``role`` (optional): the role this group gives; the most powerful one among the
  rules that match wins, else the source's default role.
* ``groups`` (optional): Moorage groups (of the org) this group puts the person in.

Membership stays true (issue 13): at every sign-in and every sync, the person is put
in exactly the *managed* groups (those some rule names) their directory groups
give, and taken out of the other managed groups; memberships of groups no rule
names are the admins' and are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import InvalidInput
from moorage.models.group import Group, GroupMember
from moorage.models.user import Role, User

__all__ = ["GroupRule", "Outcome", "apply_outcome", "managed_groups", "parse_rules", "resolve"]

_RANK = {role: rank for rank, role in enumerate(Role)}  # 0: the most powerful


@dataclass(frozen=True)
class GroupRule:
    """One rule: directory group ``group`` gives ``role`` (or none) and ``groups``."""

    group: str
    role: Role | None = None
    groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group, "groups": list(self.groups)}
        if self.role is not None:
            out["role"] = self.role.value
        return out


@dataclass(frozen=True)
class Outcome:
    """What the rules make of one person: their ``role`` and Moorage ``groups``."""

    role: Role
    groups: frozenset[str]


def parse_rules(raw: object, *, field: str = "group_rules") -> list[GroupRule]:
    """Rules from their JSON form (see the module docstring).

    Raises:
        InvalidInput: not a list of objects, a rule without ``group``, an unknown role
            or ``groups`` not a list of names; the error names the rule by its index
            (``field[2].role``).
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInput("group rules must be a list of objects", field=field)
    rules = []
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput("%(where)s must be an object", params={"where": where}, field=where)
        unknown = sorted(set(item) - {"group", "role", "groups"})
        if unknown:
            raise InvalidInput(
                "%(where)s has unknown keys: %(keys)s",
                params={"where": where, "keys": ", ".join(unknown)},
                field=where,
            )
        group = item.get("group")
        if not isinstance(group, str) or not group.strip():
            raise InvalidInput(
                "%(where)s.group must be a non-empty string",
                params={"where": where},
                field=f"{where}.group",
            )
        role = item.get("role")
        if role is not None and role not in _RANK:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(
                "%(where)s.role must be one of %(allowed)s, not %(role)r",
                params={"where": where, "allowed": allowed, "role": role},
                field=f"{where}.role",
            )
        names = item.get("groups", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise InvalidInput(
                "%(where)s.groups must be a list of group names",
                params={"where": where},
                field=f"{where}.groups",
            )
        rules.append(
            GroupRule(
                group=group.strip(),
                role=Role(role) if role is not None else None,
                groups=tuple(dict.fromkeys(names)),
            )
        )
    return rules


def resolve(rules: Sequence[GroupRule], directory_groups: Iterable[str], default: Role) -> Outcome:
    """The role and groups that ``directory_groups`` give under ``rules``.

    The most powerful role of the matching rules, else ``default``; the union of
    their groups.
    """
    held = {g.strip().casefold() for g in directory_groups}
    role = default
    groups: set[str] = set()
    matched_roles = []
    for rule in rules:
        if rule.group.casefold() in held:
            groups.update(rule.groups)
            if rule.role is not None:
                matched_roles.append(rule.role)
    if matched_roles:
        role = min(matched_roles, key=_RANK.__getitem__)
    return Outcome(role=role, groups=frozenset(groups))


def managed_groups(rules: Sequence[GroupRule]) -> frozenset[str]:
    """The Moorage groups some rule names: those whose membership the directory owns."""
    return frozenset(name for rule in rules for name in rule.groups)


async def apply_outcome(
    db: AsyncSession, user: User, outcome: Outcome, managed: frozenset[str]
) -> list[str]:
    """Give ``user`` ``outcome``'s role, and make their membership of the ``managed``
    groups of their org exactly ``outcome.groups`` (groups that do not exist in the
    org are skipped). Flushes; does not commit.

    Returns:
        the names of the rule groups that do not exist in the org, sorted (for the
        settings page and the sync's report).
    """
    user.role = outcome.role.value
    found = {
        g.name: g
        for g in await db.scalars(
            select(Group).where(Group.org_id == user.org_id, Group.name.in_(sorted(managed)))
        )
    }
    missing = sorted((outcome.groups & managed) - set(found))
    held = set(await db.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id)))
    wanted = {found[name].id for name in outcome.groups if name in found}
    leave = {g.id for g in found.values()} - wanted
    if held & leave:
        await db.execute(
            delete(GroupMember).where(
                GroupMember.user_id == user.id, GroupMember.group_id.in_(sorted(held & leave))
            )
        )
    for group_id in sorted(wanted - held):
        db.add(GroupMember(group_id=group_id, user_id=user.id))
    await db.flush()
    return missing
