"""Admins lift the sign-in lock of an account: ``DELETE /api/v1/users/{username}/sign-in-lock``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, ContextDep
from moorage.models.user import Role
from moorage.security.access import Allow
from moorage.security.throttle import SignInThrottle
from moorage.services.audit import client_address
from moorage.services.users import lift_sign_in_lock

router = APIRouter(tags=["users"])


@router.delete("/users/{username}/sign-in-lock", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def unlock_sign_in(
    username: str, request: Request, context: ContextDep, admin: AdminUser
) -> Response:
    """Forget the account's failed sign-ins, so its owner may sign in again at once
    (after repeated failures sign-ins are delayed, then refused with 429). Admins only;
    404 ``user_not_found`` for a username unknown in the admin's org. The counts of the
    client addresses involved are kept. With several server workers, only the
    worker that answers forgets (counts are per worker). Audited ``user.unlock_sign_in``."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    await lift_sign_in_lock(
        context.sessionmaker, admin, username, throttle, source=client_address(request)
    )
    return Response(status_code=204)
