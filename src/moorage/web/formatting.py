"""Jinja filters that write times and byte quantities the one way every page shows them.

``{{ session.starts_at|localtime }}`` writes ``<time datetime="…Z" title="… UTC">…
UTC</time>``: ``moorage.js`` rewrites the text in the browser's time zone
(``2025-05-14 14:02:07``) and keeps the UTC value on hover. ``{{ n|bytes }}`` and
``{{ value|metric(name) }}`` give SI units (``10 MB``, ``10 MB/s``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
from markupsafe import Markup, escape

from moorage.i18n import gettext
from moorage.i18n.dates import format_moment
from moorage.units import readable_bytes, readable_metric

__all__ = ["add_formatting_filters", "localtime"]


def _as_datetime(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def localtime(value: datetime | str | None, empty: str | None = None) -> Markup:
    """A ``<time>`` element for ``value`` (a datetime, naive meaning UTC, or an ISO
    8601 string), its text in the page's language; ``empty`` (default: "never") as
    plain text when there is no value."""
    if value is None or value == "":
        return Markup(escape(gettext("never") if empty is None else empty))
    moment = _as_datetime(value)
    iso = moment.isoformat().replace("+00:00", "Z")
    text = format_moment(moment)
    return Markup(f'<time datetime="{iso}" title="{text}">{text}</time>')


def add_formatting_filters(env: jinja2.Environment) -> None:
    """Register ``localtime``, ``bytes`` and ``metric`` on ``env``."""
    env.filters["localtime"] = localtime
    env.filters["bytes"] = readable_bytes
    env.filters["metric"] = lambda value, name: readable_metric(name, value)
