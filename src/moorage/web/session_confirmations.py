"""How pages name a session to someone about to act on it: the confirmation texts of
ending a session or stopping, restarting or removing its container, which say whose
it is and how long it still had ("End the live session of student (Debian shell),
ending in 42 min?"). Registered as template globals by :mod:`moorage.web.pages`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from moorage.db.base import utcnow
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.user import User

__all__ = ["GLOBALS", "end_confirmation", "ending_in", "workspace_confirmation"]


def ending_in(expires_at: datetime, now: datetime | None = None) -> str:
    """``ending in 42 min``, ``ending in 1 h 05 min``, ``ending in less than a minute``,
    or ``already past its end`` (minutes rounded up, so 41 min 10 s reads 42 min)."""
    seconds = (expires_at - (now or utcnow())).total_seconds()
    if seconds <= 0:
        return "already past its end"
    if seconds < 60:
        return "ending in less than a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"ending in {minutes} min"
    return f"ending in {minutes // 60} h {minutes % 60:02d} min"


def end_confirmation(session: WorkspaceSession, viewer: User | None = None) -> str:
    """The question before ending ``session``, naming its owner unless ``viewer`` is
    the owner."""
    template = session.template.display_name
    when = ending_in(session.expires_at)
    if viewer is not None and viewer.id == session.user_id:
        lead = f"End your {template} session, {when}?"
    else:
        lead = f"End the live session of {session.user.username} ({template}), {when}?"
    return f"{lead} Its container and everything in it will be deleted."


_CONSEQUENCES = {
    "remove": "The container and everything in it are deleted; the session ends.",
    "stop": "Its user is cut off until it is started again.",
    "restart": "Its user's shells and programs are closed.",
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
    if not session_id:
        extra = " The container and its writable layer are deleted." if verb == "remove" else ""
        return f"{verb.capitalize()} {name}?{extra}"
    short = session_id[:8]
    consequence = _CONSEQUENCES.get(verb, "")
    if session is None:
        owner = labels.get("moorage.user", "someone")
        return (
            f"{verb.capitalize()} {name}, a Moorage workspace of {owner} "
            f"(session {short}, unknown to this Moorage)? {consequence}"
        )
    owner = session.user.username
    template = session.template.display_name
    if session.state in LIVE_STATES:
        return (
            f"{verb.capitalize()} the live workspace of {owner} (session {short}, {template}), "
            f"{ending_in(session.expires_at)}? {consequence}"
        )
    return f"{verb.capitalize()} the workspace of {owner}'s {session.state} session {short}?"


GLOBALS: dict[str, Callable[..., str]] = {
    "end_confirmation": end_confirmation,
    "ending_in": ending_in,
    "workspace_confirmation": workspace_confirmation,
}
"""What :mod:`moorage.web.pages` adds to its templates' globals."""
