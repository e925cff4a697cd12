"""Map errors to ``{"error": {"code", "message"}}`` JSON (API) or an error page (UI).

The API does not know how the UI draws its pages: the app passes the UI's page
renderer to :func:`install_error_handlers` (``web.pages.render_error_page``).
Without one, every path answers JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from moorage.errors import InvalidInput, MoorageError, TooManyAttempts, Unauthenticated

__all__ = ["API_SCOPE_KEY", "ErrorPage", "install_error_handlers", "validation_error"]

ErrorPage = Callable[[Request, MoorageError], Response]
"""Renders an error as a UI page: ``(request, error) -> response`` with the error's status."""

log = logging.getLogger(__name__)

SETUP_REQUIRED = "second_factor_setup_required"
SETUP_PAGE = "/account#two-factor"


API_SCOPE_KEY = "moorage.api"
"""Set (True) in a request's ASGI scope by routes outside ``/api/`` that answer
JSON, such as the seed APIs (:mod:`moorage.api.compat`): their errors are JSON too."""


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or bool(request.scope.get(API_SCOPE_KEY))


def validation_error(exc: RequestValidationError) -> InvalidInput:
    """One :class:`InvalidInput` naming the first offending field of a pydantic error."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    message = f"{field}: {first.get('msg', 'invalid value')}"
    return InvalidInput(message, field=field)


def install_error_handlers(app: FastAPI, error_page: ErrorPage | None = None) -> None:
    """Register the handlers on ``app``.

    Args:
        error_page: draws errors of non-API paths as pages; anonymous visitors of
            those paths are redirected to ``/login?next=<path>`` instead. None:
            JSON everywhere.
    """

    async def render(request: Request, error: MoorageError) -> Response:
        if _is_api(request) or error_page is None:
            return JSONResponse(error.to_dict(), status_code=error.status_code)
        if isinstance(error, Unauthenticated):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if error.code == SETUP_REQUIRED:
            # A user who owes the two-factor set-up gets the account page's set-up.
            if request.headers.get("hx-request"):
                return Response(status_code=204, headers={"HX-Redirect": SETUP_PAGE})
            return RedirectResponse(SETUP_PAGE, status_code=303)
        return error_page(request, error)

    @app.exception_handler(MoorageError)
    async def _moorage_error(request: Request, exc: MoorageError) -> Response:
        response = await render(request, exc)
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return await render(request, validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
        error = MoorageError(str(exc.detail), code=codes.get(exc.status_code, "http_error"))
        error.status_code = exc.status_code  # type: ignore[misc]
        if _is_api(request):
            return JSONResponse(error.to_dict(), status_code=exc.status_code)
        return await render(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = MoorageError("an internal error occurred; it has been logged")
        return await render(request, error)
