"""Who may see, and act on, a lease besides its owner.

Every lease kind answers the same two questions through one
:class:`Visibility`: may this user see (and so extend or release) this lease,
and may this user list everyone's leases of the kind. Today the answer is a
role (``admin`` for sessions, ``operator`` for reservations); a kind that
needs more (an instructor seeing the leases of a workshop's participants)
subclasses :class:`Visibility` and overrides :meth:`Visibility.sees`, which
gets the open database session for the look-up.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from moorage.models.user import Role, User
from moorage.security.rbac import has_role, require_role

__all__ = ["OwnedLease", "Visibility"]


class OwnedLease(Protocol):
    """The columns visibility looks at: the lease's org and owner (ids)."""

    @property
    def org_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...


class Visibility:
    """Owners see their own leases; users with ``sees_all`` (or a higher role) see
    every lease of their org. Nobody sees another org's leases.

    Args:
        sees_all: the least role that sees, extends and releases everyone's leases
            of the kind and may list them all.
    """

    def __init__(self, sees_all: Role) -> None:
        self.sees_all = sees_all

    async def sees(self, db: AsyncSession, user: User, lease: OwnedLease) -> bool:
        """True when ``user`` may see ``lease`` (and act on it: extend, release).

        ``db`` is the open session the lease was read in, for subclasses whose
        answer needs a look-up (e.g. workshop participants); this one does not.
        """
        if lease.org_id != user.org_id:
            return False
        return lease.user_id == user.id or has_role(user, self.sees_all)

    def may_list_all(self, user: User) -> bool:
        """True when ``user`` may list everyone's leases of the kind in their org (pages
        ask this to offer an overview; :meth:`check_list_all` enforces it)."""
        return has_role(user, self.sees_all)

    def check_list_all(self, user: User) -> None:
        """Allow listing everyone's leases of the org, or raise.

        Raises:
            Forbidden: ``user``'s role is below ``sees_all``.
        """
        require_role(user, self.sees_all)
