"""Workshops: ``/api/v1/workshops`` (see :mod:`moorage.services.workshops`).

Instructors (and admins, for every workshop of their org): ``POST`` (create),
``GET`` (list, one), ``GET /{id}/participants``, and the actions ``POST /{id}/end``,
``/{id}/extend``, ``/{id}/broadcast``, ``/{id}/participants/{pid}/reset`` and
``/{id}/participants/{pid}/observe``. Someone else's workshop, or another org's, is
404. Participants: ``POST /api/v1/workshops/join`` (anyone with the code; throttled).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from moorage.api.deps import ContextDep, CurrentUser
from moorage.api.deps import workshop_service as service_of
from moorage.context import Context
from moorage.errors import InvalidInput, RuntimeUnavailable, Unauthenticated
from moorage.models.user import Role, User
from moorage.models.workshop import Workshop
from moorage.schemas.workshop import (
    BroadcastRequest,
    BroadcastResult,
    ExtendRequest,
    JoinedPublic,
    JoinRequest,
    ObservationPublic,
    ObserveRequest,
    ParticipantPublic,
    WorkshopCreate,
    WorkshopPublic,
)
from moorage.security.access import Allow, Public
from moorage.security.auth import set_login_cookie, user_from_connection
from moorage.services.audit import client_address
from moorage.services.workshops import Participant, WorkshopService, workshop_state

__all__ = ["router", "run_broadcast", "workshop_public"]

router = APIRouter(prefix="/workshops", tags=["workshops"])


def workshop_public(
    workshop: Workshop, service: WorkshopService, *, owner: str, participants: int | None = None
) -> WorkshopPublic:
    return WorkshopPublic(
        id=workshop.id,
        title=workshop.title,
        description=workshop.description,
        template=workshop.template.name,
        template_kind=workshop.template.kind,
        state=workshop_state(workshop, service.clock()).value,
        starts_at=workshop.starts_at,
        ends_at=workshop.ends_at,
        ended_at=workshop.ended_at,
        capacity=workshop.capacity,
        participants=participants,
        duration_minutes=workshop.duration_minutes,
        anonymous=workshop.anonymous,
        join_code=workshop.join_code,
        join_url=f"/join/{workshop.join_code}",
        prewarm_minutes=workshop.prewarm_minutes,
        prewarm_share=workshop.prewarm_share,
        owner=owner,
        broadcast_message=workshop.broadcast_message,
        broadcast_at=workshop.broadcast_at,
        created_at=workshop.created_at,
    )


def participant_public(participant: Participant) -> ParticipantPublic:
    seat, session = participant.seat, participant.session
    return ParticipantPublic(
        id=seat.id,
        display_name=seat.display_name,
        anonymous=seat.anonymous,
        joined_at=seat.joined_at,
        session_id=seat.session_id,
        state=participant.state,
        expires_at=session.expires_at if session is not None else None,
        seconds_left=participant.seconds_left,
        thumbnail_url=f"/api/v1/sessions/{session.id}/thumbnail" if session is not None else None,
    )


async def _owner_name(context: Context, workshop: Workshop) -> str:
    async with context.sessionmaker() as db:
        owner = await db.get(User, workshop.owner_id)
    return owner.username if owner is not None else ""


@router.post(
    "", status_code=201, response_model=WorkshopPublic, dependencies=[Allow(Role.INSTRUCTOR)]
)
async def create_workshop(
    body: WorkshopCreate, request: Request, user: CurrentUser, context: ContextDep
) -> WorkshopPublic:
    """Create a workshop with a fresh join code; with no ``starts_at`` it starts now.
    403 below the instructor role, 404 unknown template, 422 naming a bad field."""
    service = service_of(context)
    workshop = await service.create(
        user,
        title=body.title,
        template=body.template,
        capacity=body.capacity,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        anonymous=body.anonymous,
        description=body.description,
        duration_minutes=body.duration_minutes,
        prewarm_minutes=body.prewarm_minutes,
        prewarm_share=body.prewarm_share,
        source=client_address(request),
    )
    return workshop_public(workshop, service, owner=user.username, participants=0)


@router.get("", response_model=list[WorkshopPublic], dependencies=[Allow(Role.INSTRUCTOR)])
async def list_workshops(user: CurrentUser, context: ContextDep) -> list[WorkshopPublic]:
    """The caller's workshops (an admin: every one of the org), latest start first."""
    service = service_of(context)
    found = await service.list(user)
    names: dict[str, str] = {}
    for workshop in found:
        if workshop.owner_id not in names:
            names[workshop.owner_id] = await _owner_name(context, workshop)
    return [workshop_public(w, service, owner=names[w.owner_id]) for w in found]


@router.post("/join", response_model=JoinedPublic, dependencies=[Public])
async def join_workshop(
    body: JoinRequest, request: Request, response: Response, context: ContextDep
) -> JoinedPublic:
    """Join with a code and get your workspace (the same one when you come back).
    An anonymous workshop without a signed-in caller makes a temporary user with
    ``display_name`` and sets its login cookie. 404 unknown code (10 wrong codes a
    minute from one address, then 429), 409 ``workshop_not_started`` (with
    ``starts_at``) or ``workshop_full``, 410 ``workshop_ended``, 401
    ``workshop_sign_in`` when the workshop needs an account."""
    service = service_of(context)
    try:
        user: User | None = await user_from_connection(request)
    except Unauthenticated:
        user = None
    joined = await service.join(
        body.code,
        user,
        body.display_name,
        address=client_address(request) or "unknown",
        source=client_address(request),
    )
    if joined.login_token is not None:
        set_login_cookie(
            response,
            joined.login_token,
            max_age_seconds=joined.login_seconds,
            secure=context.settings.cookie_secure,
        )
    return JoinedPublic(
        workshop_id=joined.workshop.id,
        title=joined.workshop.title,
        seat_id=joined.seat.id,
        session_id=joined.session.id,
        session_url=f"/sessions/{joined.session.id}",
        expires_at=joined.session.expires_at,
        new_participant=joined.login_token is not None,
    )


@router.get("/{workshop_id}", response_model=WorkshopPublic, dependencies=[Allow(Role.INSTRUCTOR)])
async def get_workshop(workshop_id: str, user: CurrentUser, context: ContextDep) -> WorkshopPublic:
    """One workshop (its instructor or an admin of its org; 404 otherwise)."""
    service = service_of(context)
    workshop = await service.get(user, workshop_id)
    seats = len(await service.participants(user, workshop_id))
    owner = await _owner_name(context, workshop)
    return workshop_public(workshop, service, owner=owner, participants=seats)


@router.get(
    "/{workshop_id}/participants",
    response_model=list[ParticipantPublic],
    dependencies=[Allow(Role.INSTRUCTOR)],
)
async def list_participants(
    workshop_id: str, user: CurrentUser, context: ContextDep
) -> list[ParticipantPublic]:
    """The participants in the order they joined, with their session's state and
    seconds left, and a thumbnail URL of its screen."""
    participants = await service_of(context).participants(user, workshop_id)
    return [participant_public(p) for p in participants]


@router.post(
    "/{workshop_id}/participants/{participant_id}/reset",
    response_model=ParticipantPublic,
    dependencies=[Allow(Role.INSTRUCTOR)],
)
async def reset_participant(
    workshop_id: str, participant_id: str, request: Request, user: CurrentUser, context: ContextDep
) -> ParticipantPublic:
    """End the participant's session and launch a fresh one. 404 unknown participant,
    409 before the start, 410 after the end."""
    service = service_of(context)
    await service.reset(user, workshop_id, participant_id, source=client_address(request))
    for participant in await service.participants(user, workshop_id):
        if participant.seat.id == participant_id:
            return participant_public(participant)
    raise AssertionError("the participant vanished")  # seats are deleted with their workshop


@router.post(
    "/{workshop_id}/participants/{participant_id}/observe",
    status_code=201,
    response_model=ObservationPublic,
    dependencies=[Allow(Role.INSTRUCTOR)],
)
async def observe_participant(
    workshop_id: str,
    participant_id: str,
    body: ObserveRequest,
    request: Request,
    user: CurrentUser,
    context: ContextDep,
) -> ObservationPublic:
    """A share link for you alone into the participant's workspace: read-only, or
    with ``control``. Open the ``url`` (shown once) signed in. 409 when the
    participant has no ready workspace."""
    made = await service_of(context).observe(
        user, workshop_id, participant_id, control=body.control, source=client_address(request)
    )
    url = f"{str(request.base_url).rstrip('/')}{made.path}"
    return ObservationPublic(
        url=url, role=made.role, session_id=made.session_id, link_id=made.link_id
    )


@router.post(
    "/{workshop_id}/extend", response_model=WorkshopPublic, dependencies=[Allow(Role.INSTRUCTOR)]
)
async def extend_workshop(
    workshop_id: str, body: ExtendRequest, request: Request, user: CurrentUser, context: ContextDep
) -> WorkshopPublic:
    """Everyone gets ``minutes`` more: the end moves back and so does each session's
    deadline (each within its template's maximum). 410 once it ended."""
    service = service_of(context)
    await service.extend(user, workshop_id, body.minutes, source=client_address(request))
    workshop = await service.get(user, workshop_id)
    return workshop_public(workshop, service, owner=await _owner_name(context, workshop))


@router.post(
    "/{workshop_id}/end", response_model=WorkshopPublic, dependencies=[Allow(Role.INSTRUCTOR)]
)
async def end_workshop(
    workshop_id: str, request: Request, user: CurrentUser, context: ContextDep
) -> WorkshopPublic:
    """End it now: every participant's session is released and temporary users are
    removed. Idempotent."""
    service = service_of(context)
    workshop = await service.end(user, workshop_id, source=client_address(request))
    return workshop_public(workshop, service, owner=await _owner_name(context, workshop))


@router.post(
    "/{workshop_id}/broadcast",
    response_model=list[BroadcastResult],
    dependencies=[Allow(Role.INSTRUCTOR)],
)
async def broadcast(
    workshop_id: str,
    body: BroadcastRequest,
    request: Request,
    user: CurrentUser,
    context: ContextDep,
) -> list[BroadcastResult]:
    """Show ``message`` on every participant's page (an empty one clears it), and/or
    run ``command`` in every ready terminal session: one result per session (exit
    code, output, error). 422 with neither, or a command in a workshop that is not
    a terminal one; 410 once it ended."""
    if body.message is None and body.command is None:
        raise InvalidInput("give a message or a command", field="message")
    return await run_broadcast(
        context, user, workshop_id, body.message, body.command, client_address(request)
    )


async def run_broadcast(
    context: Context,
    user: User,
    workshop_id: str,
    message: str | None,
    command: str | None,
    source: str | None,
) -> list[BroadcastResult]:
    """What the broadcast route and page do: the message, then the command."""
    service = service_of(context)
    if message is not None:
        await service.broadcast_message(user, workshop_id, message, source=source)
    if command is None:
        return []
    try:  # the exec broadcast service is heavy (exec streams): imported when used
        from moorage.services.broadcast_exec import run_in_sessions
    except ImportError as exc:
        raise RuntimeUnavailable(
            "broadcast commands are not available on this server", code="broadcast_unavailable"
        ) from exc

    async def runner(sessions: Any, text: str) -> list[Any]:
        return list(await run_in_sessions(context, sessions, text, by=user, source=source))

    names = {
        p.seat.session_id: p.seat.display_name
        for p in await service.participants(user, workshop_id)
    }
    results = await service.broadcast_command(user, workshop_id, command, runner, source=source)
    return [
        BroadcastResult(
            session_id=r.session_id,
            participant=names.get(r.session_id),
            exit_code=r.exit_code,
            output=r.output,
            error=r.error,
        )
        for r in results
    ]
