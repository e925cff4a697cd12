"""Session thumbnails: a small image of a session's screen now, for the instructor
view (``GET /api/v1/sessions/{id}/thumbnail``).

By kind:

* ``terminal`` and ``ssh``: the held terminal's screen (:mod:`.terminal_screen`),
  as SVG. When no terminal is held for the session in this process (nobody opened
  it yet, or it was opened through another server process) the thumbnail is a
  placeholder saying "no terminal open": a thumbnail never opens a shell, which
  would start a recording and keep a process in the workspace for a look.
* ``vnc``: one frame read from the desktop's VNC server (:mod:`.desktop_frame`),
  scaled to at most :data:`~.thumbnail_svg.MAX_WIDTH` pixels wide, as PNG; at most
  :data:`DESKTOP_CONCURRENCY` frames are read at once per process, each within
  :data:`DESKTOP_TIMEOUT_SECONDS`; a desktop that gives none gets a placeholder
  naming why.
* ``rdp``, ``http`` and anything else, and sessions that are not ``ready``: a
  placeholder with the kind (and the state).

A thumbnail is kept :data:`CACHE_SECONDS` and made once however many ask for it
at the same time. Placeholders are SVG. Who may ask is decided before
(:func:`moorage.services.watching.may_watch`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moorage.errors import RuntimeUnavailable
from moorage.gateway.desktop_frame import encode_png, grab_frame
from moorage.gateway.reach import published
from moorage.gateway.terminal_screen import TerminalScreens
from moorage.gateway.thumbnail_svg import MAX_WIDTH, placeholder_svg
from moorage.models.lease import LeaseState
from moorage.models.template import TemplateKind

if TYPE_CHECKING:
    from moorage.context import Context
    from moorage.gateway.terminal_hold import TerminalHolds
    from moorage.models.session import WorkspaceSession

__all__ = [
    "CACHE_SECONDS",
    "DESKTOP_CONCURRENCY",
    "DESKTOP_TIMEOUT_SECONDS",
    "PNG",
    "SVG",
    "Thumbnail",
    "Thumbnails",
]

log = logging.getLogger(__name__)

CACHE_SECONDS = 3.0
DESKTOP_CONCURRENCY = 4
DESKTOP_TIMEOUT_SECONDS = 3.0
VNC_PORT = "5901"
SVG = "image/svg+xml"
PNG = "image/png"

KIND_NAMES = {
    TemplateKind.TERMINAL.value: "terminal",
    TemplateKind.SSH.value: "SSH workspace",
    TemplateKind.VNC.value: "desktop",
    TemplateKind.RDP.value: "RDP desktop",
    TemplateKind.HTTP.value: "web app",
}
_TERMINALS = {TemplateKind.TERMINAL.value, TemplateKind.SSH.value}


@dataclass(frozen=True)
class Thumbnail:
    """An image: ``content`` of type ``media_type`` (:data:`SVG` or :data:`PNG`)."""

    content: bytes
    media_type: str


class Thumbnails:
    """This process's thumbnails of sessions (see the module docstring).

    Args:
        context: the process context (settings, the session service for a
            desktop's password).
        holds: this process's held terminals.
        cache_seconds: how long a thumbnail is reused.
        desktop_concurrency: desktop frames read at once.
        desktop_timeout_seconds: the longest one desktop frame may take.
        clock: monotonic seconds; injected for tests.
    """

    def __init__(
        self,
        context: Context,
        holds: TerminalHolds,
        *,
        cache_seconds: float = CACHE_SECONDS,
        desktop_concurrency: int = DESKTOP_CONCURRENCY,
        desktop_timeout_seconds: float = DESKTOP_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._context = context
        self._holds = holds
        self._cache_seconds = cache_seconds
        self._desktops = asyncio.Semaphore(desktop_concurrency)
        self._desktop_timeout = desktop_timeout_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Thumbnail]] = {}
        self._making: dict[str, asyncio.Future[Thumbnail]] = {}
        self.screens = TerminalScreens(clock=clock)

    async def of(self, session: WorkspaceSession) -> Thumbnail:
        """The thumbnail of ``session`` (template loaded), made at most
        ``cache_seconds`` ago. Never raises for a workspace that cannot be read: it
        answers a placeholder instead."""
        now = self._clock()
        self._forget_old(now)
        cached = self._cache.get(session.id)
        if cached is not None and now - cached[0] <= self._cache_seconds:
            return cached[1]
        making = self._making.get(session.id)
        if making is None:
            making = asyncio.ensure_future(self._make(session))
            self._making[session.id] = making
            making.add_done_callback(lambda _: self._making.pop(session.id, None))
        # Shielded: one caller leaving does not cancel the others' thumbnail.
        thumbnail = await asyncio.shield(making)
        self._cache[session.id] = (self._clock(), thumbnail)
        return thumbnail

    def _forget_old(self, now: float) -> None:
        for session_id in [
            key for key, (made, _) in self._cache.items() if now - made > self._cache_seconds
        ]:
            del self._cache[session_id]

    async def _make(self, session: WorkspaceSession) -> Thumbnail:
        try:
            return await self._make_for_kind(session)
        except Exception:  # a bug or a screen pyte cannot draw: degrade, do not fail the grid
            log.exception("thumbnail of session %s failed", session.id)
            return _placeholder(KIND_NAMES.get(session.template.kind, "session"), "no thumbnail")

    async def _make_for_kind(self, session: WorkspaceSession) -> Thumbnail:
        kind = session.template.kind
        name = KIND_NAMES.get(kind, kind)
        if session.state != LeaseState.READY.value:
            return _placeholder(name, f"session {session.state}")
        if kind in _TERMINALS:
            held = self._holds.get(session.id)
            if held is None:
                return _placeholder(name, "no terminal open")
            return Thumbnail(await self.screens.svg(held), SVG)
        if kind == TemplateKind.VNC.value:
            return await self._desktop(session, name)
        return _placeholder(name, "no preview for this kind")

    async def _desktop(self, session: WorkspaceSession, name: str) -> Thumbnail:
        if (session.ports or {}).get(VNC_PORT) is None:
            return _placeholder(name, "no desktop port")
        password = self._context.sessions.secret_of(session) or ""
        try:
            async with self._desktops:
                host, port = await published(self._context, session, VNC_PORT)
                frame = await grab_frame(
                    host, port, password, timeout_seconds=self._desktop_timeout
                )
        except RuntimeUnavailable as exc:
            log.info("thumbnail of session %s: %s", session.id, exc.message)
            return _placeholder(name, "no frame from the desktop")
        return Thumbnail(await asyncio.to_thread(encode_png, frame, MAX_WIDTH), PNG)


def _placeholder(*lines: str) -> Thumbnail:
    return Thumbnail(placeholder_svg(lines), SVG)
