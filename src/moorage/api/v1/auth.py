"""Login and logout: ``POST /api/v1/auth/login`` sets the login cookie."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from moorage.api.deps import (
    COOKIE_NAME,
    ContextDep,
    CurrentUser,
    DbDep,
    WriteDbDep,
    credential_of,
)
from moorage.models.user import Role
from moorage.schemas.user import LoginRequest, MePublic, UserPublic
from moorage.security.access import Allow, Public
from moorage.security.auth import set_login_cookie
from moorage.security.throttle import throttled
from moorage.services import two_factor
from moorage.services.audit import client_address
from moorage.services.users import sign_in, sign_out

__all__ = ["router", "set_login_cookie"]

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=UserPublic, dependencies=[Public])
async def login(body: LoginRequest, request: Request, response: Response, context: ContextDep):
    """Check the password and set the login cookie (valid ``MOORAGE_LOGIN_TTL_HOURS``).

    401 ``bad_credentials`` for a wrong username or password. After a right password,
    a user with two-factor sign-in enabled also needs ``code`` (a TOTP code or a
    recovery code): 401 ``second_factor_required`` without one,
    ``second_factor_invalid`` for a wrong, replayed or spent one. Repeated failures
    (a missing or wrong code counts as one) for one account or from one address are
    slowed down, then refused with 429
    ``too_many_attempts`` and ``Retry-After`` (see :mod:`moorage.security.throttle`).
    Sign-ins and failed ones are audited (``user.sign_in``, ``user.sign_in_failed``).
    """
    ttl = timedelta(hours=context.settings.login_ttl_hours)
    async with throttled(request, body.username):
        user, token = await sign_in(
            context.sessionmaker,
            body.username,
            body.password,
            ttl=ttl,
            keyring=context.keyring,
            code=body.code,
            source=client_address(request),
        )
    set_login_cookie(
        response,
        token,
        max_age_seconds=int(ttl.total_seconds()),
        secure=context.settings.cookie_secure,
    )
    return user


@router.post("/logout", status_code=204, dependencies=[Allow(Role.VIEWER)])
async def logout(request: Request, db: WriteDbDep, user: CurrentUser) -> Response:
    """End the caller's login: revoke the token it authenticated with (the login
    cookie or the bearer token) and clear the cookie; audited ``user.sign_out``. 401
    without a valid one."""
    await sign_out(db, user, credential_of(request), source=client_address(request))
    await db.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/me", response_model=MePublic, dependencies=[Allow(Role.VIEWER)])
async def me(user: CurrentUser, db: DbDep):
    """The authenticated user, with ``two_factor``: ``{"enabled",
    "recovery_codes_left", "required"}`` (required: the org requires it of their role).
    """
    state = await two_factor.state_of(db, user)
    return {**UserPublic.model_validate(user).model_dump(), "two_factor": state.to_dict()}
