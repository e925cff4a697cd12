"""Login and logout: ``POST /api/v1/auth/login`` sets the login cookie."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from moorage.api.deps import COOKIE_NAME, ContextDep, CurrentUser, WriteDbDep, credential_of
from moorage.models.token import TokenKind
from moorage.schemas.user import LoginRequest, UserPublic
from moorage.security.auth import set_login_cookie
from moorage.services.users import authenticate_password, create_token, revoke_token

__all__ = ["router", "set_login_cookie"]

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=UserPublic)
async def login(body: LoginRequest, response: Response, db: WriteDbDep, context: ContextDep):
    """Check the password and set the login cookie (valid ``MOORAGE_LOGIN_TTL_HOURS``).
    401 ``bad_credentials`` for an unknown user, a wrong password or a disabled account."""
    user = await authenticate_password(db, body.username, body.password)
    ttl = timedelta(hours=context.settings.login_ttl_hours)
    token = await create_token(db, user, name="login", kind=TokenKind.LOGIN, ttl=ttl)
    await db.commit()
    set_login_cookie(
        response,
        token,
        max_age_seconds=int(ttl.total_seconds()),
        secure=context.settings.cookie_secure,
    )
    return user


@router.post("/logout", status_code=204)
async def logout(request: Request, db: WriteDbDep) -> Response:
    """Revoke the login cookie's token (or the bearer token) and clear the cookie."""
    credential = credential_of(request)
    if credential:
        await revoke_token(db, credential)
        await db.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser):
    """The authenticated user."""
    return user
