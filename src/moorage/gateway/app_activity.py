"""Activity of web apps (kind ``http``): which requests through ``/s/<id>/`` are a
person, for the session's idle timeout (:mod:`moorage.services.activity`).

A request counts unless its path and query match one of the template's
``idle_ignore_paths`` (the app's own polling). A websocket's opening counts the
same way, and so does every message the browser sends on it afterwards (a
notebook's "run this cell"); the app's messages to the browser do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from moorage.services.activity import ignored_path

if TYPE_CHECKING:
    from moorage.context import Context
    from moorage.models.session import WorkspaceSession

__all__ = ["count_activity"]


def count_activity(context: Context, session: WorkspaceSession, connection: HTTPConnection) -> None:
    """Count ``connection`` (a request, or a websocket being opened) as activity of
    ``session`` unless the template ignores its path; a websocket's later messages
    count through ``connection.state.on_message``."""
    path = connection.url.path
    if connection.url.query:
        path += f"?{connection.url.query}"
    if ignored_path(session.template, path):
        return
    activity = context.sessions.activity
    activity.touch(session.id)
    if connection.scope["type"] == "websocket":
        session_id = session.id
        connection.state.on_message = lambda: activity.touch(session_id)
