"""Recordings: which sessions are recorded, who may read their recordings, search,
and how long they are kept.

* Policy (:func:`recording_required`): a session is recorded when its template or
  its org says so (a workshop's requirement will join here); decided at launch and
  kept on the session (``recorded``), so a change of policy does not stop a
  recording half-way.
* Access: a recording is its session owner's; an admin of the org reads every
  one. Anyone else gets 404, as if it did not exist (a member cannot read another
  member's recording, not even by id). Every read of a recording's content
  (play, download, search) is audited as ``recording.read`` / ``recording.search``.
* Retention: :meth:`RecordingService.expire` (a reconciler job) deletes the files
  and rows of recordings that started more than the org's
  ``recording_retention_days`` ago.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.errors import InvalidInput, NotFound
from moorage.models.org import Org
from moorage.models.recording import Recording
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.security.rbac import has_role, require_role
from moorage.services.audit import audit, audit_in
from moorage.services.recording_files import (
    AsciicastWriter,
    RecordingWriter,
    RfbWriter,
    cast_text,
)

__all__ = [
    "ActiveRecording",
    "RecordingService",
    "SearchHit",
    "recording_required",
]

log = logging.getLogger(__name__)

SEARCH_LIMIT = 100
SNIPPET_CHARS = 60
SUFFIX = {"terminal": ".cast", "desktop": ".rfb"}
MEDIA_TYPE = {"terminal": "application/x-asciicast", "desktop": "application/octet-stream"}


def recording_required(template: Template, org: Org | None) -> bool:
    """Whether a new session of ``template`` in ``org`` is recorded: the template or
    the org requires it. (Workshops, once they exist, add their own requirement here.)"""
    return bool(template.recording or (org is not None and org.recording_required))


@dataclass
class ActiveRecording:
    """A recording being written: its row's id and its writer."""

    id: str
    writer: RecordingWriter
    with_input: bool


@dataclass(frozen=True)
class SearchHit:
    """A recording whose text matched, with the text around the first match."""

    recording: Recording
    snippet: str


class RecordingService:
    """Starts, lists, reads, searches and expires recordings.

    Args:
        sessionmaker: opens database sessions.
        data_dir: the files go under ``<data_dir>/recordings/``.
        clock: current UTC time; injected for tests.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.directory = data_dir / "recordings"
        self._clock = clock

    # -- writing (the gateway) -------------------------------------------------------

    async def start(
        self, session: WorkspaceSession, kind: str, *, width: int, height: int
    ) -> ActiveRecording:
        """Begin a recording of ``session`` (``kind``: ``terminal`` or ``desktop``) with
        the screen's size (cells, or pixels for a desktop): its row, then its file."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        recording_id = new_id()
        now = self._clock()
        with_input = kind == "terminal" and bool(session.template.record_input)
        async with write_session(self._sessionmaker) as db:
            db.add(
                Recording(
                    id=recording_id,
                    org_id=session.org_id,
                    session_id=session.id,
                    user_id=session.user_id,
                    kind=kind,
                    with_input=with_input,
                    started_at=now,
                    width=width,
                    height=height,
                )
            )
        path = self.directory / f"{recording_id}{SUFFIX[kind]}"
        writer: RecordingWriter
        if kind == "terminal":
            title = f"{session.template.display_name} ({session.user.username})"
            writer = AsciicastWriter(
                path, width=width, height=height, timestamp=int(now.timestamp()), title=title
            )
        else:
            writer = RfbWriter(path, width=width, height=height, timestamp=int(now.timestamp()))
        return ActiveRecording(recording_id, writer, with_input)

    async def finish(self, active: ActiveRecording) -> None:
        """Close the file and record the end and the size."""
        await active.writer.close()
        async with write_session(self._sessionmaker) as db:
            await db.execute(
                update(Recording)
                .where(Recording.id == active.id)
                .values(ended_at=self._clock(), size_bytes=active.writer.size_bytes)
            )

    # -- reading -------------------------------------------------------------------

    async def list(
        self,
        user: User,
        *,
        session_id: str | None = None,
        everyone: bool = False,
        limit: int = 500,
    ) -> builtins.list[Recording]:
        """Recordings ``user`` may read, newest first: their own, or with ``everyone``
        (admins only; ignored for others) the org's; of one session with ``session_id``."""
        query = select(Recording).where(Recording.org_id == user.org_id)
        if not (everyone and has_role(user, Role.ADMIN)) and not (
            session_id is not None and has_role(user, Role.ADMIN)
        ):
            query = query.where(Recording.user_id == user.id)
        if session_id is not None:
            query = query.where(Recording.session_id == session_id)
        async with self._sessionmaker() as db:
            rows = await db.scalars(query.order_by(Recording.started_at.desc()).limit(limit))
            return builtins.list(rows)

    async def get(self, user: User, recording_id: str) -> Recording:
        """The recording if ``user`` may read it.

        Raises:
            NotFound: no such recording, or not ``user``'s and ``user`` is no admin of its org.
        """
        async with self._sessionmaker() as db:
            recording = await db.get(Recording, recording_id)
        if recording is None or not self._may_read(user, recording):
            raise NotFound(
                "no recording %(recording_id)s",
                params={"recording_id": recording_id},
                code="recording_not_found",
            )
        return recording

    @staticmethod
    def _may_read(user: User, recording: Recording) -> bool:
        if recording.org_id != user.org_id:
            return False
        return recording.user_id == user.id or has_role(user, Role.ADMIN)

    def path_of(self, recording: Recording) -> Path:
        """The recording's file."""
        return self.directory / f"{recording.id}{SUFFIX[recording.kind]}"

    @staticmethod
    def media_type(recording: Recording) -> str:
        """The file's content type."""
        return MEDIA_TYPE[recording.kind]

    async def read(
        self, user: User, recording_id: str, *, source: str | None = None
    ) -> tuple[Recording, Path]:
        """The recording and its file, for playing or downloading; audited as
        ``recording.read`` (detail: the session's id) from client address ``source``.

        Raises:
            NotFound: see :meth:`get`; also when its file is gone.
        """
        recording = await self.get(user, recording_id)
        path = self.path_of(recording)
        if not path.exists():
            raise NotFound(
                "recording %(recording_id)s has no file",
                params={"recording_id": recording_id},
                code="recording_not_found",
            )
        await audit(
            self._sessionmaker,
            None,
            user,
            "recording.read",
            "recording",
            recording.id,
            detail=f"session {recording.session_id}",
            source=source,
        )
        return recording, path

    async def search(
        self, user: User, text: str, *, source: str | None = None
    ) -> builtins.list[SearchHit]:
        """Terminal recordings ``user`` may read whose output contains ``text`` (case
        folded), newest first, at most :data:`SEARCH_LIMIT`; audited as
        ``recording.search`` with the text."""
        candidates = [
            r for r in await self.list(user, everyone=True, limit=2000) if r.kind == "terminal"
        ]
        needle = text.casefold()
        hits: builtins.list[SearchHit] = []
        for recording in candidates:
            snippet = await asyncio.to_thread(self._find, recording, needle)
            if snippet is not None:
                hits.append(SearchHit(recording, snippet))
                if len(hits) >= SEARCH_LIMIT:
                    break
        await audit(
            self._sessionmaker,
            None,
            user,
            "recording.search",
            "recording",
            "*",
            detail=text[:200],
            source=source,
        )
        return hits

    def _find(self, recording: Recording, needle: str) -> str | None:
        """In a thread: the snippet around ``needle`` in the recording's text, made
        from its asciicast and kept beside it (``.txt``) once the recording has ended."""
        cache = self.path_of(recording).with_suffix(".txt")
        try:
            if cache.exists():
                text = cache.read_text(encoding="utf-8", errors="replace")
            else:
                text = cast_text(self.path_of(recording))
                if recording.ended_at is not None:
                    cache.write_text(text, encoding="utf-8")
        except OSError:
            return None
        at = text.casefold().find(needle)
        if at < 0:
            return None
        start = max(0, at - SNIPPET_CHARS)
        return " ".join(text[start : at + len(needle) + SNIPPET_CHARS].split())

    # -- the org's policy ------------------------------------------------------------

    async def policy(self, user: User) -> Org:
        """The caller's org, whose ``recording_required`` and
        ``recording_retention_days`` are the policy.

        Raises:
            Forbidden: ``user`` is not an admin.
        """
        require_role(user, Role.ADMIN)
        async with self._sessionmaker() as db:
            org = await db.get(Org, user.org_id)
        if org is None:
            raise NotFound("no org", code="org_not_found")
        return org

    async def set_policy(
        self,
        user: User,
        *,
        required: bool | None = None,
        retention_days: int | None = None,
        source: str | None = None,
    ) -> Org:
        """Change the org's policy (the values given); audited as ``org.recording``.

        Raises:
            Forbidden: ``user`` is not an admin.
            InvalidInput: a retention under 1 day.
        """
        require_role(user, Role.ADMIN)
        if retention_days is not None and retention_days < 1:
            raise InvalidInput(
                "recording_retention_days must be at least 1", field="recording_retention_days"
            )
        async with write_session(self._sessionmaker) as db:
            org = await db.get(Org, user.org_id)
            if org is None:
                raise NotFound("no org", code="org_not_found")
            if required is not None:
                org.recording_required = required
            if retention_days is not None:
                org.recording_retention_days = retention_days
            detail = f"required={org.recording_required}, days={org.recording_retention_days}"
            audit_in(db, user, "org.recording", "org", org.name, detail=detail, source=source)
        return org

    # -- retention -------------------------------------------------------------------

    async def run_retention(self) -> None:
        """:meth:`expire` as a reconciler job."""
        await self.expire()

    async def expire(self) -> int:
        """Delete recordings older than their org's retention (files, then rows).
        Returns how many were deleted."""
        now = self._clock()
        async with self._sessionmaker() as db:
            orgs = builtins.list(await db.execute(select(Org.id, Org.recording_retention_days)))
            old: builtins.list[Recording] = []
            for org_id, days in orgs:
                cutoff = now - timedelta(days=days)
                old += await db.scalars(
                    select(Recording).where(
                        Recording.org_id == org_id, Recording.started_at < cutoff
                    )
                )
        if not old:
            return 0
        await asyncio.to_thread(self._remove_files, old)
        async with write_session(self._sessionmaker) as db:
            await db.execute(delete(Recording).where(Recording.id.in_([r.id for r in old])))
        log.info("deleted %d recordings past their retention", len(old))
        return len(old)

    def _remove_files(self, recordings: builtins.list[Recording]) -> None:
        for recording in recordings:
            path = self.path_of(recording)
            for file in (path, path.with_suffix(".txt")):
                file.unlink(missing_ok=True)
