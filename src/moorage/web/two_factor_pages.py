"""The two-factor card of the account page (htmx fragments): set up with a QR code,
confirm, regenerate recovery codes, turn off. Same services and throttle as
``/api/v1/account/two-factor`` (:mod:`moorage.services.two_factor`). And the admins'
forms of the users page: the org's required roles, a user's reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.api.deps import ContextDep, WriteDbDep
from moorage.errors import InvalidInput
from moorage.models.org import Org
from moorage.models.user import Role, User
from moorage.security.access import Allow
from moorage.security.auth import AdminUser, CurrentUser
from moorage.security.origin import require_same_origin
from moorage.security.throttle import throttled
from moorage.services import orgs, two_factor
from moorage.services.audit import client_address
from moorage.web.pages import _redirect, templates

__all__ = ["router", "two_factor_card"]

router = APIRouter(include_in_schema=False)


async def two_factor_card(
    request: Request,
    db: AsyncSession,
    user: User,
    *,
    setup: two_factor.Setup | None = None,
    new_codes: list[str] | None = None,
) -> Response:
    """The card: its state, a set-up in progress, or recovery codes shown once."""
    return templates.TemplateResponse(
        request,
        "_account_two_factor.html",
        {
            "user": user,
            "two_factor": await two_factor.state_of(db, user),
            "setup": setup,
            "new_codes": new_codes,
        },
    )


@router.post("/account/two-factor", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def setup_submit(
    request: Request, user: CurrentUser, db: WriteDbDep, context: ContextDep
) -> Response:
    """Start the set-up: the card with the QR code, the secret and a code field."""
    require_same_origin(request)
    setup = await two_factor.start_setup(db, context.keyring, user)
    await db.commit()
    return await two_factor_card(request, db, user, setup=setup)


@router.post(
    "/account/two-factor/confirm", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)]
)
async def confirm_submit(
    request: Request,
    user: CurrentUser,
    db: WriteDbDep,
    context: ContextDep,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    """Enable with a first code: the card with the ten recovery codes, shown once."""
    require_same_origin(request)
    async with throttled(request, user.username):
        codes = await two_factor.confirm_setup(
            db, context.keyring, user, code, source=client_address(request)
        )
        await db.commit()
    return await two_factor_card(request, db, user, new_codes=codes)


@router.post(
    "/account/two-factor/recovery-codes",
    response_class=HTMLResponse,
    dependencies=[Allow(Role.VIEWER)],
)
async def regenerate_submit(
    request: Request,
    user: CurrentUser,
    db: WriteDbDep,
    context: ContextDep,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    """Replace all recovery codes (a current code required): the card with the new ones."""
    require_same_origin(request)
    async with throttled(request, user.username):
        codes = await two_factor.regenerate_codes(
            db, context.keyring, user, code, source=client_address(request)
        )
        await db.commit()
    return await two_factor_card(request, db, user, new_codes=codes)


@router.post(
    "/account/two-factor/disable", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)]
)
async def disable_submit(
    request: Request,
    user: CurrentUser,
    db: WriteDbDep,
    context: ContextDep,
    password: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    """Turn two-factor off (password and a code required; refused when the org
    requires it): the card again."""
    require_same_origin(request)
    async with throttled(request, user.username):
        await two_factor.disable(
            db, context.keyring, user, password, code, source=client_address(request)
        )
        await db.commit()
    return await two_factor_card(request, db, user)


@router.post("/admin/two-factor-policy", dependencies=[Allow(Role.ADMIN)])
async def policy_submit(
    request: Request,
    user: AdminUser,
    db: WriteDbDep,
    roles: Annotated[list[str] | None, Form(max_length=5)] = None,
) -> Response:
    """Save the roles the org requires two-factor sign-in of (audited ``org.update``)."""
    require_same_origin(request)
    try:
        chosen = [Role(r) for r in roles or []]
    except ValueError as exc:
        raise InvalidInput("roles: not a role", field="roles") from exc
    org = await db.get(Org, user.org_id)
    assert org is not None  # a signed-in user's org exists
    await orgs.set_two_factor_required_roles(db, user, org, chosen, source=client_address(request))
    await db.commit()
    return _redirect(request, "/admin/users")


@router.post("/admin/users/{user_id}/reset-two-factor", dependencies=[Allow(Role.ADMIN)])
async def reset_submit(user_id: str, request: Request, user: AdminUser, db: WriteDbDep) -> Response:
    """Turn off a user's second factor (audited ``two_factor.reset``); 404 for a user
    of another org."""
    require_same_origin(request)
    await two_factor.reset(db, user, user_id, source=client_address(request))
    await db.commit()
    return Response(status_code=204)
