"""Everyone's account page (password, own API tokens, two-factor sign-in: see
:mod:`moorage.web.two_factor_pages`) and the self-registration page (when
``MOORAGE_SIGNUP_ENABLED``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.errors import InvalidInput, MoorageError, NotFound
from moorage.models.token import TokenScope
from moorage.models.user import Role, User
from moorage.security.access import Allow, Owner, Public
from moorage.security.auth import CurrentUser, credential_of
from moorage.security.origin import require_same_origin
from moorage.security.throttle import throttled
from moorage.services import self_service, two_factor
from moorage.services.audit import client_address
from moorage.services.groups import group_names_of
from moorage.services.signup import sign_up
from moorage.web.pages import _redirect, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

EXPIRY_CHOICES_DAYS = (7, 30, 90, 365)


async def _tokens_card(
    request: Request, db: AsyncSession, user: User, new_token: str | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "_account_tokens.html",
        {
            "user": user,
            "tokens": await self_service.own_tokens(db, user),
            "new_token": new_token,
            "expiry_choices": EXPIRY_CHOICES_DAYS,
        },
    )


@router.get("/account", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def account_page(request: Request, user: CurrentUser, db: DbDep) -> Response:
    """The caller's account: who they are, a form to change their password, their
    API tokens (create with a name, expiry and scope; revoke) and their two-factor
    sign-in. A user who owes the two-factor set-up sees only that card."""
    state = await two_factor.state_of(db, user)
    return templates.TemplateResponse(
        request,
        "account.html",
        {
            "user": user,
            "groups": await group_names_of(db, user.id),
            "tokens": await self_service.own_tokens(db, user),
            "new_token": None,
            "expiry_choices": EXPIRY_CHOICES_DAYS,
            "two_factor": state,
            "owes_setup": state.required and not state.enabled,
            "setup": None,
            "new_codes": None,
        },
    )


@router.post("/account/password", dependencies=[Allow(Role.VIEWER)])
async def password_submit(
    request: Request,
    user: CurrentUser,
    db: WriteDbDep,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    confirm_password: Annotated[str, Form()],
) -> Response:
    """Change the caller's password (the current one required, throttled like a
    sign-in); their other logins end. 422 names the field that is wrong."""
    require_same_origin(request)
    if new_password != confirm_password:
        raise InvalidInput("the two new passwords differ", field="confirm_password")
    async with throttled(request, user.username):
        await self_service.change_password(
            db,
            user,
            current_password,
            new_password,
            keep=credential_of(request),
            source=client_address(request),
        )
        await db.commit()
    return Response(status_code=204)


@router.post("/account/tokens", response_class=HTMLResponse, dependencies=[Allow(Role.VIEWER)])
async def token_create_submit(
    request: Request,
    user: CurrentUser,
    db: WriteDbDep,
    name: Annotated[str, Form(max_length=128)],
    scope: Annotated[TokenScope, Form()] = TokenScope.READ,
    expires_in_days: Annotated[str, Form()] = "",
) -> Response:
    """A new API token of the caller; answers the tokens card showing it once."""
    require_same_origin(request)
    days: int | None = None
    if expires_in_days.strip():
        try:
            days = int(expires_in_days)
        except ValueError as exc:
            raise InvalidInput("expires_in_days must be a number", field="expires_in_days") from exc
    token = await self_service.create_own_token(
        db,
        user,
        name=name.strip(),
        scope=scope,
        expires_in_days=days,
        source=client_address(request),
    )
    await db.commit()
    return await _tokens_card(request, db, user, token)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse, dependencies=[Owner])
async def token_revoke_submit(
    token_id: str, request: Request, user: CurrentUser, db: WriteDbDep
) -> Response:
    """Revoke one of the caller's tokens (404 for anyone else's); answers the card."""
    require_same_origin(request)
    await self_service.revoke_own_token(db, user, token_id, source=client_address(request))
    await db.commit()
    return await _tokens_card(request, db, user)


# -- self-registration ------------------------------------------------------------


def _check_open(context: ContextDep) -> None:
    if not context.settings.signup_enabled:
        raise NotFound("sign-up is not open here; ask an admin for an account", code="no_signup")


@router.get("/signup", response_class=HTMLResponse, dependencies=[Public])
async def signup_page(request: Request, context: ContextDep) -> Response:
    """The sign-up form (404 unless self-registration is on)."""
    _check_open(context)
    return templates.TemplateResponse(
        request, "signup.html", {"domains": context.settings.signup_domain_list, "values": {}}
    )


@router.post("/signup", dependencies=[Public])
async def signup_submit(
    request: Request,
    context: ContextDep,
    username: Annotated[str, Form(max_length=32)],
    email: Annotated[str, Form(max_length=255)],
    password: Annotated[str, Form(max_length=1024)],
    display_name: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Create a member account and go to the login page; the form again with the
    error (422/409) when refused. Attempts are counted per client address like
    sign-ins (429 beyond)."""
    require_same_origin(request)
    _check_open(context)
    settings = context.settings
    address = client_address(request) or "unknown"
    values = {"username": username, "email": email, "display_name": display_name}
    try:
        await request.app.state.sign_in_throttle.admit(f"signup:{address}", address)
        async with context.sessionmaker() as db, db.begin():
            await sign_up(
                db,
                username=username.strip(),
                password=password,
                email=email,
                display_name=display_name.strip(),
                allowed_domains=settings.signup_domain_list,
                group=settings.signup_group,
            )
    except MoorageError as exc:
        return templates.TemplateResponse(
            request,
            "signup.html",
            {"domains": settings.signup_domain_list, "values": values, "error": exc},
            status_code=exc.status_code,
        )
    if request.headers.get("hx-request"):
        return _redirect(request, "/login?signed_up=1")
    return RedirectResponse("/login?signed_up=1", status_code=303)
