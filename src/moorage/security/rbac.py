"""Role checks. Roles are ordered; a check names the least role that may act."""

from __future__ import annotations

from moorage.errors import Forbidden
from moorage.models.user import Role, User

__all__ = ["has_role", "require_role"]

_RANK = {
    Role.VIEWER: 0,
    Role.MEMBER: 1,
    Role.INSTRUCTOR: 2,
    Role.OPERATOR: 3,
    Role.ADMIN: 4,
}


def has_role(user: User, least: Role) -> bool:
    """True when ``user``'s role is ``least`` or above it."""
    return _RANK.get(Role(user.role), -1) >= _RANK[least]


def require_role(user: User, least: Role) -> None:
    """Raise :class:`Forbidden` unless ``user`` has ``least`` or a higher role."""
    if not has_role(user, least):
        raise Forbidden(f"this needs the {least.value} role; you are {user.role}")
