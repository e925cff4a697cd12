"""Sign-in with an OpenID Connect provider (issue 13): the login page's "Sign in
with …" buttons lead here, the provider sends the browser back to the callback,
and after signing out of Moorage a link leads to the provider's own sign-out.

The protocol and its checks are :mod:`moorage.services.oidc_sign_in`'s; these
routes carry the state cookie and show every refusal, and a provider that is down,
as a message on the login page (never a 500).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from moorage.api.deps import ContextDep
from moorage.errors import MoorageError, NotFound, TooManyAttempts
from moorage.models.oidc import OidcProvider
from moorage.security.access import Public
from moorage.security.auth import set_login_cookie
from moorage.security.throttle import PerMinute
from moorage.services import oidc_sign_in
from moorage.services.audit import client_address
from moorage.services.oidc_providers import enabled_provider
from moorage.web.pages import _safe_next, login_form

__all__ = ["STARTS_PER_MINUTE", "STATE_COOKIE", "StartThrottle", "router"]

router = APIRouter(include_in_schema=False)

STATE_COOKIE = "moorage_oidc_state"
"""The cookie holding a sign-in's ``state`` in the browser that started it (HttpOnly,
SameSite=Lax so the provider's top-level redirect back carries it, scoped to the
provider's ``/login/oidc/<name>/`` paths)."""


STARTS_PER_MINUTE = 20
"""Sign-ins an address may start within a moving minute: each one stores a row and
asks the provider for its metadata, so a flood is held back here."""


class StartThrottle:
    """Counts sign-in starts per client address (the sign-in throttle's moving window,
    in this process's memory)."""

    def __init__(self, per_minute: int = STARTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._window = PerMinute(per_minute)

    async def admit(self, address: str) -> None:
        """Count a start from ``address``.

        Raises:
            TooManyAttempts: 429 beyond :data:`STARTS_PER_MINUTE`, with
                ``retry_after_seconds``.
        """
        key = f"oidc-start:{address}"
        if not await self._window.hit(key):
            raise TooManyAttempts(
                "too many sign-ins started from your address; wait a minute and try again",
                retry_after_seconds=await self._window.retry_after(key),
            )


def _start_throttle(request: Request) -> StartThrottle:
    state = request.app.state
    if getattr(state, "oidc_start_throttle", None) is None:
        state.oidc_start_throttle = StartThrottle()
    return state.oidc_start_throttle


def _cookie_path(name: str) -> str:
    return f"/login/oidc/{name}/"


def _redirect_uri(request: Request, name: str) -> str:
    return str(request.base_url).rstrip("/") + oidc_sign_in.callback_path(name)


async def _provider(context: ContextDep, name: str) -> OidcProvider:
    async with context.sessionmaker() as db:
        return await enabled_provider(db, name)


@router.get("/login/oidc/{name}", dependencies=[Public])
async def sign_in_start(
    name: str, request: Request, context: ContextDep, next: str = "/"
) -> Response:
    """Send the browser to provider ``name``'s sign-in, keeping the state in a cookie;
    404 for an unknown or disabled provider; the login page with the reason when the
    provider cannot be reached (503)."""
    provider = await _provider(context, name)
    try:
        await _start_throttle(request).admit(client_address(request) or "unknown")
        async with context.sessionmaker() as db:
            started = await oidc_sign_in.start(
                db,
                context.keyring,
                provider,
                redirect_uri=_redirect_uri(request, name),
                next_path=_safe_next(next),
            )
            await db.commit()
    except MoorageError as exc:
        page = await login_form(
            request, context, status_code=exc.status_code, error=exc.localized_message()
        )
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=int(oidc_sign_in.FLOW_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=context.settings.cookie_secure,
        path=_cookie_path(name),
    )
    return response


@router.get("/login/oidc/{name}/callback", dependencies=[Public])
async def sign_in_callback(name: str, request: Request, context: ContextDep) -> Response:
    """The provider's redirect back (its redirect URI): sign in, set the login cookie
    and go to the page asked for at the start (a local path). A forged, replayed or
    expired callback, the provider's refusal, or a provider that is down: the login
    page with the reason (401, 403 or 503). The state cookie is cleared either way."""
    provider = await _provider(context, name)
    ttl = timedelta(hours=context.settings.login_ttl_hours)
    params = {key: value[:4096] for key, value in request.query_params.items()}
    try:
        user, token, next_path = await oidc_sign_in.finish(
            context.sessionmaker,
            context.keyring,
            provider,
            state_cookie=request.cookies.get(STATE_COOKIE),
            params=params,
            ttl=ttl,
            source=client_address(request),
        )
    except MoorageError as exc:
        response = await login_form(
            request, context, status_code=exc.status_code, error=exc.localized_message()
        )
        response.delete_cookie(STATE_COOKIE, path=_cookie_path(name))
        return response
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    response.delete_cookie(STATE_COOKIE, path=_cookie_path(name))
    if user.locale:
        from moorage.web.language_pages import set_language_cookie

        set_language_cookie(response, user.locale, secure=context.settings.cookie_secure)
    set_login_cookie(
        response,
        token,
        max_age_seconds=int(ttl.total_seconds()),
        secure=context.settings.cookie_secure,
    )
    return response


@router.get("/login/oidc/{name}/logout", dependencies=[Public])
async def provider_logout(name: str, request: Request, context: ContextDep) -> Response:
    """Go to provider ``name``'s own sign-out (RP-Initiated Logout 1.0), which sends
    the browser back to this site's login page (register
    ``<site>/login`` as a post-logout redirect URI). Anyone may ask: it only leads to
    the provider's page. The login page with the reason when the provider is down or
    has no sign-out endpoint."""
    provider = await _provider(context, name)
    back = str(request.base_url).rstrip("/") + "/login"
    try:
        url = await oidc_sign_in.end_session_url(context.keyring, provider, back)
        if url is None:
            raise NotFound(
                "%(provider)s has no sign-out page",
                params={"provider": provider.display_name},
                code="oidc_no_end_session",
            )
    except MoorageError as exc:
        return await login_form(
            request, context, status_code=exc.status_code, error=exc.localized_message()
        )
    return RedirectResponse(url, status_code=303)
