"""Moorage's error hierarchy.

Every error carries a message for the user and a machine ``code``; one handler
maps them to ``{"error": {"code": ..., "message": ...}}`` for the API and to an
error page for the UI::

    MoorageError (500, internal)
    ├── InvalidInput       422  invalid_input      a field is wrong; names the field
    ├── Unauthenticated    401  unauthenticated    no or bad credentials
    ├── Forbidden          403  forbidden          authenticated but not allowed
    ├── NotFound           404  not_found          no such object (or not visible to the caller)
    ├── Conflict           409  conflict           the object's state forbids the action
    ├── Gone               410  gone               a link or token that was valid has ended
    ├── PayloadTooLarge    413  payload_too_large  a request body over its limit
    ├── QuotaExceeded      429  quota_exceeded     a per-user or per-template limit is reached
    ├── TooManyAttempts    429  too_many_attempts  sign-ins locked for a while (Retry-After)
    └── RuntimeUnavailable 503  runtime_unavailable Docker (or another runtime) cannot be reached

Errors of lower libraries (aiodocker, SQLAlchemy) are translated at the
boundary that calls them: ``raise RuntimeUnavailable(...) from exc``.

The message is also a msgid of the translation catalogs (issue 18, languages):
a literal message is extracted (``scripts/catalogs.py`` takes these classes'
names as gettext keywords) and the error handler answers it in the request's
language. Parts that vary go in ``params``, not in an f-string, so the msgid stays
one: ``NotFound("no template %(ref)s", params={"ref": ref})``. A message built
with an f-string is not in any catalog and stays English.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "MoorageError",
    "NotFound",
    "PayloadTooLarge",
    "QuotaExceeded",
    "RuntimeUnavailable",
    "TooManyAttempts",
    "Unauthenticated",
]


class MoorageError(Exception):
    """Base of every error Moorage reports to a user.

    Attributes:
        message: text for the user, in plain words (English, parameters filled in).
        msgid: the message as written, ``%(name)s`` placeholders and all: what
            :meth:`localized_message` looks up in the catalogs.
        params: the values of ``msgid``'s placeholders.
        code: stable machine-readable code (snake_case).
        status_code: HTTP status the API answers with.
        details: optional JSON-able extra fields (e.g. ``{"field": "duration_minutes"}``).
    """

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        **details: Any,
    ) -> None:
        text = message % params if params else message
        super().__init__(text)
        self.message = text
        self.msgid = message
        self.params = params or {}
        self.code = code or self.default_code
        self.details = details

    def localized_message(self) -> str:
        """The message in the current request's language (:mod:`moorage.i18n`);
        English when its catalog has no translation."""
        from moorage.i18n import translate

        text = translate(self.msgid)
        try:
            return text % self.params if self.params else text
        except (KeyError, ValueError, TypeError):  # a translation's placeholders are off
            return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"code", "message", **details}}``, the message in
        the request's language."""
        return {"error": {"code": self.code, "message": self.localized_message(), **self.details}}


class InvalidInput(MoorageError):
    status_code = 422
    default_code = "invalid_input"


class Unauthenticated(MoorageError):
    status_code = 401
    default_code = "unauthenticated"


class Forbidden(MoorageError):
    status_code = 403
    default_code = "forbidden"


class NotFound(MoorageError):
    status_code = 404
    default_code = "not_found"


class Conflict(MoorageError):
    status_code = 409
    default_code = "conflict"


class Gone(MoorageError):
    status_code = 410
    default_code = "gone"


class PayloadTooLarge(MoorageError):
    status_code = 413
    default_code = "payload_too_large"


class QuotaExceeded(MoorageError):
    status_code = 429
    default_code = "quota_exceeded"


class TooManyAttempts(MoorageError):
    """Too many failed sign-ins; the answer carries ``Retry-After: retry_after_seconds``."""

    status_code = 429
    default_code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_seconds: int, **details: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, **details)
        self.retry_after_seconds = retry_after_seconds


class RuntimeUnavailable(MoorageError):
    status_code = 503
    default_code = "runtime_unavailable"
