"""Workshops in the UI, for their instructors (see :mod:`moorage.services.workshops`).

* ``/workshops``: the instructor's workshops (an admin's: the org's) and the form to
  create one (``POST /ui/workshops``; times typed in the browser's time zone, sent
  with its UTC offset);
* ``/workshops/{id}``: the join code and link (copyable), the participants' grid
  (name, state, time left, a thumbnail of the screen; ``static/workshop.js`` reads
  ``GET /api/v1/workshops/{id}/participants`` and reloads the thumbnails every 5 s)
  with Observe, Take control and Reset, and the workshop's actions: broadcast a
  message or (terminal workshops) a command, extend, end now. The actions call the
  JSON API (``/api/v1/workshops/…``), whose errors the page shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from moorage.api.deps import ContextDep
from moorage.api.deps import workshop_service as service_of
from moorage.errors import InvalidInput
from moorage.models.user import Role, User
from moorage.security.access import Allow
from moorage.services.audit import client_address
from moorage.services.templates import visible_templates
from moorage.services.workshops import workshop_state
from moorage.web.pages import PageUser, _redirect, _same_origin, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
THUMBNAIL_SECONDS = 5


def _form_time(name: str, raw: str | None, offset_minutes: int) -> datetime | None:
    """A ``datetime-local`` value typed at UTC offset ``-offset_minutes`` (JavaScript's
    ``getTimezoneOffset``), in UTC; None when empty.

    Raises:
        InvalidInput: not a date and time (field ``name``).
    """
    if not raw or not raw.strip():
        return None
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise InvalidInput(
            "%(name)s: not a date and time", params={"name": name}, field=name
        ) from exc
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return (local + timedelta(minutes=offset_minutes)).replace(tzinfo=UTC)


@router.get("/workshops", response_class=HTMLResponse, dependencies=[Allow(Role.INSTRUCTOR)])
async def workshops_page(request: Request, user: PageUser, context: ContextDep) -> Response:
    """The caller's workshops and the form to create one."""
    service = service_of(context)
    workshops = await service.list(user)
    async with context.sessionmaker() as db:
        choices = [t for t in await visible_templates(db, user) if t.enabled]
    now = service.clock()
    return templates.TemplateResponse(
        request,
        "workshops.html",
        {
            "user": user,
            "workshops": [(w, workshop_state(w, now).value) for w in workshops],
            "choices": choices,
        },
    )


@router.post("/ui/workshops", dependencies=[Allow(Role.INSTRUCTOR)])
async def create_submit(
    request: Request,
    user: PageUser,
    context: ContextDep,
    title: Annotated[str, Form(max_length=128)],
    template: Annotated[str, Form(max_length=64)],
    capacity: Annotated[int, Form(ge=1, le=1000)],
    starts_at: Annotated[str | None, Form(max_length=40)] = None,
    ends_at: Annotated[str | None, Form(max_length=40)] = None,
    duration_minutes: Annotated[str | None, Form(max_length=6)] = None,
    anonymous: Annotated[bool, Form()] = False,
    description: Annotated[str | None, Form(max_length=4000)] = None,
    utc_offset_minutes: Annotated[int, Form(ge=-24 * 60, le=24 * 60)] = 0,
) -> Response:
    """Create a workshop from the form and open its page."""
    _same_origin(request)
    minutes = None
    if duration_minutes and duration_minutes.strip():
        if not duration_minutes.strip().isdigit():
            raise InvalidInput(
                "duration_minutes: a whole number of minutes", field="duration_minutes"
            )
        minutes = int(duration_minutes)
    workshop = await service_of(context).create(
        user,
        title=title,
        template=template,
        capacity=capacity,
        starts_at=_form_time("starts_at", starts_at, utc_offset_minutes),
        ends_at=_form_time("ends_at", ends_at, utc_offset_minutes),
        anonymous=anonymous,
        description=description,
        duration_minutes=minutes,
        source=client_address(request),
    )
    return _redirect(request, f"/workshops/{workshop.id}")


@router.get(
    "/workshops/{workshop_id}", response_class=HTMLResponse, dependencies=[Allow(Role.INSTRUCTOR)]
)
async def workshop_page(
    workshop_id: str, request: Request, user: PageUser, context: ContextDep
) -> Response:
    """One workshop: join code, participants' grid and the instructor's actions."""
    service = service_of(context)
    workshop = await service.get(user, workshop_id)
    participants = await service.participants(user, workshop_id)
    async with context.sessionmaker() as db:
        owner = await db.get(User, workshop.owner_id)
    join_url = f"{str(request.base_url).rstrip('/')}/join/{workshop.join_code}"
    return templates.TemplateResponse(
        request,
        "workshop.html",
        {
            "user": user,
            "workshop": workshop,
            "owner": owner,
            "state": workshop_state(workshop, service.clock()).value,
            "participants": participants,
            "join_url": join_url,
            "thumbnail_seconds": THUMBNAIL_SECONDS,
        },
    )
