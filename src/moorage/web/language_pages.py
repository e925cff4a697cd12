"""The language selector of every page's footer (signed in or not)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from moorage.api.deps import ContextDep
from moorage.errors import InvalidInput, MoorageError
from moorage.i18n import gettext as _
from moorage.i18n import language_of
from moorage.i18n.negotiation import COOKIE
from moorage.security.access import Public
from moorage.security.auth import credential_of, user_from_connection
from moorage.security.origin import require_same_origin
from moorage.web.pages import _safe_next

__all__ = ["LANGUAGE_COOKIE_MAX_AGE_SECONDS", "router", "set_language_cookie"]

router = APIRouter(include_in_schema=False)

LANGUAGE_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600

AUTO = "auto"
"""The choice that forgets a chosen language: the browser's (Accept-Language) again."""


def set_language_cookie(response: Response, language: str, *, secure: bool) -> None:
    """Remember ``language`` in this browser for a year (not HttpOnly: it is no
    secret, only a preference)."""
    response.set_cookie(
        COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE_SECONDS,
        samesite="lax",
        secure=secure,
        path="/",
    )


@router.post("/language", dependencies=[Public])
async def language_submit(
    request: Request,
    context: ContextDep,
    language: Annotated[str, Form(max_length=16)],
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Choose the language of the pages: a cookie for this browser and, for a
    signed-in person, their account's preference (``users.locale``), which follows
    them to other browsers; ``auto`` forgets both. Goes back to ``next`` (a local
    path); 422 for a language Moorage does not have."""
    require_same_origin(request)
    chosen = None if language == AUTO else language_of(language)
    if chosen is None and language != AUTO:
        raise InvalidInput(_("no such language: %(language)s", language=language), field="language")
    if credential_of(request):
        try:
            user = await user_from_connection(request, context)
        except MoorageError:
            user = None  # an expired login still may choose a language for this browser
        if user is not None:
            from moorage.services.self_service import set_locale

            await set_locale(context.sessionmaker, user.id, chosen)
    response = RedirectResponse(_safe_next(next), status_code=303)
    if chosen is None:
        response.delete_cookie(COOKIE, path="/")
    else:
        set_language_cookie(response, chosen, secure=context.settings.cookie_secure)
    return response
