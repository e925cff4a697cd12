"""How pages name a session to someone about to act on it: the confirmation texts of
ending a session or stopping, restarting or removing its container, which say whose
it is and how long it still had ("End the live session of student (Debian shell),
ending in 42 min?"). Registered as template globals by :mod:`moorage.web.pages`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from moorage.db.base import utcnow
from moorage.i18n import DEFAULT_LANGUAGE, N_, current_language
from moorage.i18n import gettext as _
from moorage.i18n.dates import in_time
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.user import User
from moorage.web.translation import label

__all__ = ["GLOBALS", "end_confirmation", "ending_in", "workspace_confirmation"]


def ending_in(expires_at: datetime, now: datetime | None = None) -> str:
    """``ending in 42 min``, ``ending in 1 h 05 min``, ``ending in less than a minute``,
    or ``already past its end`` (minutes rounded up, so 41 min 10 s reads 42 min).
    Other languages say it with Babel's words: ``se termine dans 42 minutes``,
    ``заканчивается через 42 минуты``."""
    seconds = (expires_at - (now or utcnow())).total_seconds()
    if seconds <= 0:
        return _("already past its end")
    if seconds < 60:
        return _("ending in less than a minute")
    minutes = math.ceil(seconds / 60)
    if current_language() != DEFAULT_LANGUAGE:
        return _("ending %(in_time)s", in_time=in_time(timedelta(minutes=minutes)))
    if minutes < 60:
        return f"ending in {minutes} min"
    return f"ending in {minutes // 60} h {minutes % 60:02d} min"


def end_confirmation(session: WorkspaceSession, viewer: User | None = None) -> str:
    """The question before ending ``session``, naming its owner unless ``viewer`` is
    the owner."""
    template = session.template.display_name
    when = ending_in(session.expires_at)
    if viewer is not None and viewer.id == session.user_id:
        lead = _("End your %(template)s session, %(when)s?", template=template, when=when)
    else:
        lead = _(
            "End the live session of %(owner)s (%(template)s), %(when)s?",
            owner=session.user.username,
            template=template,
            when=when,
        )
    return f"{lead} {_('Its container and everything in it will be deleted.')}"


_VERBS = {"remove": N_("Remove"), "stop": N_("Stop"), "restart": N_("Restart")}

_CONSEQUENCES = {
    "remove": N_("The container and everything in it are deleted; the session ends."),
    "stop": N_("Its user is cut off until it is started again."),
    "restart": N_("Its user's shells and programs are closed."),
}


def workspace_confirmation(
    verb: str,
    container: Mapping[str, Any],
    session: WorkspaceSession | None,
) -> str:
    """The question before ``verb`` (``remove``, ``stop``, ``restart``) on a container;
    for a Moorage workspace (label ``moorage.session``) it names the owner, the
    session and the time it still had, from ``session`` (its row, or None when none
    is known: then from the container's labels)."""
    name = container.get("name", "")
    labels = container.get("labels") or {}
    session_id = labels.get("moorage.session")
    action = _(_VERBS[verb]) if verb in _VERBS else verb.capitalize()
    if not session_id:
        extra = (
            " " + _("The container and its writable layer are deleted.") if verb == "remove" else ""
        )
        return _("%(action)s %(name)s?", action=action, name=name) + extra
    short = session_id[:8]
    consequence = _(_CONSEQUENCES[verb]) if verb in _CONSEQUENCES else ""
    if session is None:
        owner = labels.get("moorage.user", _("someone"))
        question = _(
            "%(action)s %(name)s, a Moorage workspace of %(owner)s"
            " (session %(short)s, unknown to this Moorage)?",
            action=action,
            name=name,
            owner=owner,
            short=short,
        )
        return f"{question} {consequence}"
    owner = session.user.username
    template = session.template.display_name
    if session.state in LIVE_STATES:
        question = _(
            "%(action)s the live workspace of %(owner)s (session %(short)s, %(template)s),"
            " %(when)s?",
            action=action,
            owner=owner,
            short=short,
            template=template,
            when=ending_in(session.expires_at),
        )
        return f"{question} {consequence}"
    return _(
        "%(action)s the workspace of %(owner)s's %(state)s session %(short)s?",
        action=action,
        owner=owner,
        state=label(session.state),
        short=short,
    )


GLOBALS: dict[str, Callable[..., str]] = {
    "end_confirmation": end_confirmation,
    "ending_in": ending_in,
    "workspace_confirmation": workspace_confirmation,
}
"""What :mod:`moorage.web.pages` adds to its templates' globals."""
