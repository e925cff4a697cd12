"""Languages of the UI and of the API's error messages (issue 18).

Four languages: English (the msgids themselves), French, Spanish and Russian, in
gettext catalogs under ``moorage/locale/<lang>/LC_MESSAGES/messages.po``. The
language of a request is chosen once, by :mod:`moorage.i18n.negotiation` (the
user's preference, else the ``moorage_lang`` cookie, else ``Accept-Language``),
and held in a context variable that :func:`gettext` and :func:`ngettext` read, so
templates and Python code translate the same way.

English costs nothing: its text is the msgid, so neither Babel nor a catalog is
loaded for it. Another language's catalog is read on its first use and kept
(:mod:`moorage.i18n.catalogs`).

Messages take named parameters, ``gettext("%(name)s launched.", name=...)``;
:func:`N_` only marks a msgid for extraction where it is translated later (an
error's message, translated by the error handler).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "current_language",
    "gettext",
    "language_of",
    "ngettext",
    "translate",
    "translate_plural",
    "use_language",
]

DEFAULT_LANGUAGE = "en"

LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "ru": "Русский",
}
"""The languages a person can choose, each named in itself (the selector's labels)."""

_language: ContextVar[str] = ContextVar("moorage_language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of the request being served (``en`` outside a request)."""
    return _language.get()


def use_language(language: str) -> None:
    """Make ``language`` (a supported code) the current task's language."""
    _language.set(language)


def language_of(code: str | None) -> str | None:
    """``code`` if it names a language Moorage has (its catalogs' or a test's extra
    one, see :func:`moorage.i18n.catalogs.available`), else None."""
    from moorage.i18n.catalogs import available

    if code and code in available():
        return code
    return None


def translate(message: str) -> str:
    """``message`` in the current language, its parameters not filled in."""
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return message
    from moorage.i18n.catalogs import translations

    return translations(language).gettext(message)


def translate_plural(singular: str, plural: str, n: int) -> str:
    """The form for the count ``n`` in the current language, not filled in."""
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return singular if n == 1 else plural
    from moorage.i18n.catalogs import translations

    return translations(language).ngettext(singular, plural, n)


def gettext(message: str, **params: Any) -> str:
    """``message`` in the current language, with ``%(name)s`` parameters filled in."""
    text = translate(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """The form of a message for the count ``n`` (``%(num)d`` is ``n``) in the current
    language, filled in: English has two forms, Russian three (1 сессия, 2 сессии,
    5 сессий)."""
    return translate_plural(singular, plural, n) % {"num": n, **params}


def N_(message: str) -> str:
    """Mark ``message`` for extraction; returns it unchanged."""
    return message
