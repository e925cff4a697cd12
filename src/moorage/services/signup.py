"""Self-registration: people create their own account, when the operator allows it.

Off by default (``MOORAGE_SIGNUP_ENABLED``). A new account is a ``member`` of
the default org; its e-mail must be in one of the allowed domains
(``MOORAGE_SIGNUP_EMAIL_DOMAINS``, any when empty) and it joins the group
``MOORAGE_SIGNUP_GROUP`` when set. The e-mail address is not verified (no mail
is sent): the domain list only keeps out addresses that do not claim to be
from the institution. Callers throttle attempts per client address.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, InvalidInput
from moorage.models.group import Group, GroupMember
from moorage.models.org import DEFAULT_ORG, Org
from moorage.models.user import Role, User
from moorage.services.users import create_user

__all__ = ["EMAIL_PATTERN", "sign_up"]

log = logging.getLogger(__name__)

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@([a-z0-9-]+(\.[a-z0-9-]+)+)$")


async def sign_up(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    email: str,
    display_name: str = "",
    allowed_domains: Sequence[str] = (),
    group: str | None = None,
) -> User:
    """Create a ``member`` of the default org for someone signing themselves up (not
    committed; audited ``user.create`` by the new user's name).

    Raises:
        InvalidInput: a malformed e-mail or one outside ``allowed_domains`` (field
            ``email``), or what :func:`~moorage.services.users.create_user` refuses.
        Conflict: the username or the e-mail is taken.
    """
    email = email.strip().lower()
    match = EMAIL_PATTERN.match(email)
    if match is None:
        raise InvalidInput("email must be an address like name@school.example", field="email")
    domain = match.group(1)
    if allowed_domains and domain not in allowed_domains:
        raise InvalidInput(
            f"sign-up is open to addresses at {', '.join(allowed_domains)} only", field="email"
        )
    if await db.scalar(select(User.id).where(User.email == email)):
        raise Conflict("an account with this e-mail exists", code="email_taken")
    org_id = await db.scalar(select(Org.id).where(Org.name == DEFAULT_ORG))
    if org_id is None:
        raise Conflict("Moorage has no default org yet", code="no_default_org")
    user = await create_user(
        db,
        org_id=org_id,
        username=username,
        password=password,
        role=Role.MEMBER,
        display_name=display_name,
        email=email,
        actor=username,
    )
    if group:
        found = await db.scalar(select(Group).where(Group.org_id == org_id, Group.name == group))
        if found is None:
            log.warning("MOORAGE_SIGNUP_GROUP names %r, which is not a group; not joined", group)
        else:
            db.add(GroupMember(group_id=found.id, user_id=user.id))
            await db.flush()
    return user
