"""Who sees a lease: its owner, and users with the kind's ``sees_all`` role, in its org only."""

from types import SimpleNamespace

import pytest

from moorage.errors import Forbidden
from moorage.models.user import Role, User
from moorage.services.leases import Visibility


def user(role: Role, *, id: str = "u-other", org_id: str = "org-1") -> User:
    return User(id=id, org_id=org_id, username=id, role=role.value)


LEASE = SimpleNamespace(org_id="org-1", user_id="u-owner")


async def test_the_owner_sees_their_lease_whatever_their_role():
    visibility = Visibility(sees_all=Role.ADMIN)
    assert await visibility.sees(None, user(Role.VIEWER, id="u-owner"), LEASE)


@pytest.mark.parametrize(
    ("sees_all", "role", "expected"),
    [
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, True),
        (Role.OPERATOR, Role.MEMBER, False),
        (Role.INSTRUCTOR, Role.INSTRUCTOR, True),
        (Role.INSTRUCTOR, Role.MEMBER, False),
    ],
)
async def test_others_see_it_from_the_sees_all_role_up(sees_all, role, expected):
    assert await Visibility(sees_all=sees_all).sees(None, user(role), LEASE) is expected


async def test_nobody_sees_another_orgs_lease_not_even_its_admin():
    visibility = Visibility(sees_all=Role.MEMBER)
    assert not await visibility.sees(None, user(Role.ADMIN, org_id="org-2"), LEASE)
    assert not await visibility.sees(None, user(Role.ADMIN, id="u-owner", org_id="org-2"), LEASE)


def test_listing_everyones_leases_needs_the_sees_all_role():
    visibility = Visibility(sees_all=Role.OPERATOR)
    visibility.check_list_all(user(Role.OPERATOR))
    with pytest.raises(Forbidden, match="operator"):
        visibility.check_list_all(user(Role.MEMBER))
