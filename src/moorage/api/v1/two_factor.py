"""Two-factor sign-in of the caller's account, and an admin's reset of a user's
(:mod:`moorage.services.two_factor`). Calls that take a code or password are
throttled like sign-ins."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, ContextDep, CurrentUser, WriteDbDep
from moorage.models.user import Role
from moorage.schemas.two_factor import (
    RecoveryCodes,
    TwoFactorCode,
    TwoFactorDisable,
    TwoFactorSetup,
)
from moorage.security.access import Allow
from moorage.security.throttle import throttled
from moorage.services import two_factor
from moorage.services.audit import client_address

__all__ = ["router"]

router = APIRouter(tags=["two-factor"])


@router.post(
    "/account/two-factor", response_model=TwoFactorSetup, dependencies=[Allow(Role.VIEWER)]
)
async def start_setup(db: WriteDbDep, user: CurrentUser, context: ContextDep):
    """Start (or restart) the caller's TOTP set-up: ``{"secret", "otpauth_uri",
    "qr_svg"}``. Not enabled until confirmed. 409 ``two_factor_enabled`` when it is."""
    setup = await two_factor.start_setup(db, context.keyring, user)
    await db.commit()
    return asdict(setup)


@router.post(
    "/account/two-factor/confirm",
    response_model=RecoveryCodes,
    dependencies=[Allow(Role.VIEWER)],
)
async def confirm_setup(
    body: TwoFactorCode, request: Request, db: WriteDbDep, user: CurrentUser, context: ContextDep
):
    """Enable the set-up with a first code (audited ``two_factor.enable``): ten
    recovery codes, shown once. 422 ``code`` when wrong, 409 when no set-up started."""
    async with throttled(request, user.username):
        codes = await two_factor.confirm_setup(
            db, context.keyring, user, body.code, source=client_address(request)
        )
        await db.commit()
    return {"recovery_codes": codes}


@router.post(
    "/account/two-factor/recovery-codes",
    response_model=RecoveryCodes,
    dependencies=[Allow(Role.VIEWER)],
)
async def regenerate_codes(
    body: TwoFactorCode, request: Request, db: WriteDbDep, user: CurrentUser, context: ContextDep
):
    """Replace all recovery codes, given a current TOTP code (audited
    ``two_factor.codes_regenerated``). 422 ``code`` when wrong, 409 when not enabled."""
    async with throttled(request, user.username):
        codes = await two_factor.regenerate_codes(
            db, context.keyring, user, body.code, source=client_address(request)
        )
        await db.commit()
    return {"recovery_codes": codes}


@router.delete("/account/two-factor", status_code=204, dependencies=[Allow(Role.VIEWER)])
async def disable(
    body: TwoFactorDisable,
    request: Request,
    db: WriteDbDep,
    user: CurrentUser,
    context: ContextDep,
) -> Response:
    """Turn the caller's second factor off with their password and a code (audited
    ``two_factor.disable``). 403 ``two_factor_required`` when the org requires it of
    their role; 422 names ``password`` or ``code`` when wrong."""
    async with throttled(request, user.username):
        await two_factor.disable(
            db, context.keyring, user, body.password, body.code, source=client_address(request)
        )
        await db.commit()
    return Response(status_code=204)


@router.delete("/users/{user_id}/two-factor", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def reset(user_id: str, request: Request, db: WriteDbDep, admin: AdminUser) -> Response:
    """Admins: turn off a user's second factor (they lost their device and recovery
    codes), audited ``two_factor.reset``. 404 for a user of another org."""
    await two_factor.reset(db, admin, user_id, source=client_address(request))
    await db.commit()
    return Response(status_code=204)
