"""Recordings of sessions: list and search, one recording, its file; the org's
recording policy (admins).

A recording is its session owner's and the org's admins'; anyone else gets 404.
Reading a file and searching are audited (``recording.read``, ``recording.search``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.datastructures import URL

from moorage.api.deps import ContextDep, CurrentUser
from moorage.models.recording import Recording
from moorage.models.user import Role
from moorage.schemas.recording import RecordingPolicy, RecordingPolicyUpdate, RecordingPublic
from moorage.security.access import Allow, Owner
from moorage.services.audit import client_address

router = APIRouter(tags=["recordings"])

DOWNLOAD_SUFFIX = {"terminal": "cast", "desktop": "rfb"}


def recording_public(
    recording: Recording, base_url: URL, snippet: str | None = None
) -> RecordingPublic:
    """The API view of a recording; URLs are absolute, built from ``base_url``."""
    root = str(base_url).rstrip("/")
    session = recording.session
    return RecordingPublic(
        id=recording.id,
        session_id=recording.session_id,
        owner=session.user.username,
        template=session.template.name,
        kind=recording.kind,
        with_input=recording.with_input,
        started_at=recording.started_at,
        ended_at=recording.ended_at,
        size_bytes=recording.size_bytes,
        width=recording.width,
        height=recording.height,
        file=f"{root}/api/v1/recordings/{recording.id}/file",
        page=f"{root}/recordings/{recording.id}",
        snippet=snippet,
    )


@router.get("/recordings", response_model=list[RecordingPublic], dependencies=[Allow(Role.VIEWER)])
async def list_recordings(
    request: Request,
    user: CurrentUser,
    context: ContextDep,
    session: Annotated[str | None, Query(max_length=36)] = None,
    all: bool = False,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
):
    """Recordings the caller may read, newest first: their own; ``?all=true``: the
    org's (admins; others still get their own). ``?session=ID``: of one session.
    ``?q=text``: terminal recordings whose output contains the text (case folded;
    audited), each with a ``snippet``."""
    recordings = context.recordings
    if q is not None:
        hits = await recordings.search(user, q, source=client_address(request))
        return [
            recording_public(h.recording, request.base_url, h.snippet)
            for h in hits
            if session is None or h.recording.session_id == session
        ]
    rows = await recordings.list(user, session_id=session, everyone=all)
    return [recording_public(r, request.base_url) for r in rows]


@router.get("/recordings/{recording_id}", response_model=RecordingPublic, dependencies=[Owner])
async def get_recording(
    recording_id: str, request: Request, user: CurrentUser, context: ContextDep
):
    """One recording: the caller's own, or any in the org for admins; 404 otherwise."""
    return recording_public(await context.recordings.get(user, recording_id), request.base_url)


@router.get("/recordings/{recording_id}/file", response_class=FileResponse, dependencies=[Owner])
async def recording_file(
    recording_id: str,
    request: Request,
    user: CurrentUser,
    context: ContextDep,
    download: bool = False,
) -> FileResponse:
    """The recording's file (audited as ``recording.read``): an asciicast v2 file
    (``application/x-asciicast``) for a terminal, the framed RFB stream for a desktop.
    ``?download=1`` asks the browser to save it. 404 when it is not the caller's."""
    recording, path = await context.recordings.read(
        user, recording_id, source=client_address(request)
    )
    name = f"moorage-{recording.session_id[:8]}-{recording.id[:8]}"
    return FileResponse(
        path,
        media_type=context.recordings.media_type(recording),
        filename=f"{name}.{DOWNLOAD_SUFFIX[recording.kind]}" if download else None,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/recording-policy", response_model=RecordingPolicy, dependencies=[Allow(Role.ADMIN)])
async def get_recording_policy(user: CurrentUser, context: ContextDep):
    """The caller's org's recording policy (admins)."""
    return RecordingPolicy.model_validate(
        await context.recordings.policy(user), from_attributes=True
    )


@router.patch("/recording-policy", response_model=RecordingPolicy, dependencies=[Allow(Role.ADMIN)])
async def update_recording_policy(
    body: RecordingPolicyUpdate, request: Request, user: CurrentUser, context: ContextDep
):
    """Change the org's recording policy: ``recording_required`` (every session of the
    org is recorded, from its next launch) and ``recording_retention_days`` (1–3650)."""
    org = await context.recordings.set_policy(
        user,
        required=body.recording_required,
        retention_days=body.recording_retention_days,
        source=client_address(request),
    )
    return RecordingPolicy.model_validate(org, from_attributes=True)
