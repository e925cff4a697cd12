"""Directory group rules: parsing with errors that name the rule, the most powerful
role winning, and membership of managed groups kept exactly true."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.db.engine import WRITE_OPTIONS
from moorage.errors import InvalidInput
from moorage.models.group import Group, GroupMember
from moorage.models.user import Role, User
from moorage.services.directory_rules import (
    Outcome,
    apply_outcome,
    managed_groups,
    parse_rules,
    resolve,
)

RULES = [
    {"group": "CN=Teachers,OU=Groups,DC=school", "role": "instructor", "groups": ["staff"]},
    {"group": "cn=admins,ou=groups,dc=school", "role": "admin"},
    {"group": "students", "groups": ["class-2b", "everyone"]},
]


def test_the_most_powerful_matching_role_wins_and_groups_add_up():
    rules = parse_rules(RULES)
    outcome = resolve(
        rules, ["cn=teachers,ou=groups,dc=school", "CN=ADMINS,OU=GROUPS,DC=SCHOOL"], Role.MEMBER
    )
    assert outcome == Outcome(role=Role.ADMIN, groups=frozenset({"staff"}))
    assert resolve(rules, ["students"], Role.VIEWER) == Outcome(
        Role.VIEWER, frozenset({"class-2b", "everyone"})
    )
    assert resolve(rules, [], Role.MEMBER).role is Role.MEMBER
    assert managed_groups(rules) == {"staff", "class-2b", "everyone"}


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"group": "x"}, "group_rules", "must be a list"),
        (["x"], "group_rules[0]", "must be an object"),
        ([{"role": "admin"}], "group_rules[0].group", "non-empty string"),
        ([{"group": "g"}, {"group": "h", "role": "king"}], "group_rules[1].role", "'king'"),
        ([{"group": "g", "groups": "staff"}], "group_rules[0].groups", "list of group names"),
        ([{"group": "g", "colour": "red"}], "group_rules[0]", "unknown keys: colour"),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(raw, field, words):
    with pytest.raises(InvalidInput) as caught:
        parse_rules(raw)
    assert caught.value.details["field"] == field
    assert words in str(caught.value)


async def test_apply_keeps_managed_memberships_true_and_leaves_the_others(app):
    async with app.context.sessionmaker() as db:
        await db.connection(execution_options=WRITE_OPTIONS)
        user = await db.scalar(select(User).where(User.username == "admin"))
        assert user is not None
        groups = {}
        for name in ("staff", "class-2b", "hand-made"):
            groups[name] = Group(org_id=user.org_id, name=name)
            db.add(groups[name])
        await db.flush()
        db.add(GroupMember(group_id=groups["staff"].id, user_id=user.id))
        db.add(GroupMember(group_id=groups["hand-made"].id, user_id=user.id))
        await db.flush()
        rules = parse_rules(RULES)

        missing = await apply_outcome(
            db, user, resolve(rules, ["students"], Role.MEMBER), managed_groups(rules)
        )

        held = set(
            await db.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user.id)
            )
        )
        assert held == {"class-2b", "hand-made"}  # staff left, the admins' group kept
        assert missing == ["everyone"]
        assert user.role == Role.MEMBER.value
        await db.rollback()
