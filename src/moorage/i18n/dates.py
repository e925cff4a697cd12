"""Moments and durations in the current language, by ``babel.dates`` (CLDR).

English keeps Moorage's one numeric format (``2025-05-14 12:02:07 UTC``, which the
pages' script rewrites in the browser's time zone) and does not load Babel; the
other languages get their own (``14 mai 2025, 12:02:07 UTC``, ``через 5 минут``).
A language Babel does not know (the tests' pseudo-locale) is written as English.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moorage.i18n import DEFAULT_LANGUAGE, current_language
from moorage.units import utc_text

__all__ = ["babel_locale", "format_moment", "in_time"]


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of ``language`` (the current one by default): itself when
    CLDR has it, else ``en``."""
    from babel import Locale, UnknownLocaleError

    language = language or current_language()
    try:
        Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LANGUAGE
    return language


def format_moment(moment: datetime) -> str:
    """``moment`` (timezone-aware, or naive meaning UTC) in UTC, in the current
    language's medium date and time format, with ``UTC`` after it."""
    if current_language() == DEFAULT_LANGUAGE:
        return utc_text(moment)
    from babel.dates import format_datetime

    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return f"{format_datetime(moment, 'medium', tzinfo=UTC, locale=babel_locale())} UTC"


def in_time(delta: timedelta) -> str:
    """How far ahead ``delta`` is, in words: ``in 5 minutes``, ``dans 5 minutes``,
    ``через 5 минут`` (a negative delta: ``5 minutes ago``)."""
    from babel.dates import format_timedelta

    return format_timedelta(
        delta, granularity="minute", add_direction=True, locale=babel_locale(), threshold=1.0
    )
