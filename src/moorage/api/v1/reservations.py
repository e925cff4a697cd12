"""Reservations of pool machines: reserve, list, show, extend, release."""

from __future__ import annotations

import shlex

from fastapi import APIRouter, Request, Response

from moorage.api.deps import ContextDep, CurrentUser
from moorage.api.pagination import Page
from moorage.models.lease import LIVE_STATES
from moorage.models.reservation import Reservation
from moorage.models.user import Role, User
from moorage.schemas.reservation import (
    ReservationCreate,
    ReservationExtend,
    ReservationPublic,
    ReservedMachine,
)
from moorage.security.access import Allow, Owner
from moorage.services.audit import client_address
from moorage.services.reservations import ReservationService

router = APIRouter(prefix="/reservations", tags=["reservations"])


def reservation_public(
    reservation: Reservation, viewer: User, service: ReservationService, password: str | None = None
) -> ReservationPublic:
    """The API view. The password is shown to the owner while the reservation lives."""
    if password is None and reservation.user_id == viewer.id and reservation.state in LIVE_STATES:
        password = service.password_of(reservation)
    machines = [
        ReservedMachine(
            name=account.machine_name,
            host=account.machine.host,
            port=account.machine.port,
            account=account.state,
            ssh=shlex.join(
                [
                    "ssh",
                    "-p",
                    str(account.machine.port),
                    f"{reservation.username}@{account.machine.host}",
                ]
            ),
        )
        for account in reservation.accounts
    ]
    return ReservationPublic(
        id=reservation.id,
        state=reservation.state,
        pool=reservation.pool.name,
        owner=reservation.user.username,
        count=reservation.count,
        username=reservation.username,
        password=password,
        sudo=reservation.sudo,
        machines=machines,
        created_at=reservation.created_at,
        starts_at=reservation.starts_at,
        expires_at=reservation.expires_at,
        released_at=reservation.released_at,
        extensions=reservation.extensions,
        error=reservation.error,
    )


@router.post(
    "", status_code=201, response_model=ReservationPublic, dependencies=[Allow(Role.MEMBER)]
)
async def reserve(
    body: ReservationCreate, request: Request, user: CurrentUser, context: ContextDep
):
    """Reserve ``count`` machines of ``pool`` with an account on each; 201 once every
    account exists. Errors: 403 below the member role; 404 unknown pool; 422 bad
    count, duration, username or password; 429 over the pool's per-user limit; 409
    not enough machines (naming how many are available and when the next frees up);
    503 a machine failed (every account already made is removed)."""
    reservation, password = await context.reservations.reserve(
        user,
        pool=body.pool,
        count=body.count,
        duration_minutes=body.duration_minutes,
        duration_seconds=body.duration_seconds,
        username=body.username,
        password=body.password,
        source=client_address(request),
    )
    return reservation_public(reservation, user, context.reservations, password)


@router.get("", response_model=list[ReservationPublic], dependencies=[Allow(Role.VIEWER)])
async def list_reservations(
    user: CurrentUser,
    context: ContextDep,
    page: Page,
    request: Request,
    response: Response,
    all: bool = False,
    live: bool = False,
):
    """The caller's reservations, newest first; ``?all=true`` everyone's (operators).
    Pages: ``limit`` and ``cursor``, the next page's URL in ``Link``."""
    rows = page.apply(
        request, response, await context.reservations.list(user, all_users=all, live_only=live)
    )
    return [reservation_public(r, user, context.reservations) for r in rows]


@router.post("/release-all", dependencies=[Owner])
async def release_all(request: Request, user: CurrentUser, context: ContextDep) -> dict[str, int]:
    """Admins: release every live reservation now. ``{"released": N}``."""
    released = await context.reservations.release_all(user, source=client_address(request))
    return {"released": released}


@router.get("/{reservation_id}", response_model=ReservationPublic, dependencies=[Owner])
async def get_reservation(reservation_id: str, user: CurrentUser, context: ContextDep):
    """One reservation: the caller's own (operators: anyone's); 404 otherwise."""
    reservation = await context.reservations.get(user, reservation_id)
    return reservation_public(reservation, user, context.reservations)


@router.post("/{reservation_id}/extend", response_model=ReservationPublic, dependencies=[Owner])
async def extend_reservation(
    reservation_id: str,
    body: ReservationExtend,
    request: Request,
    user: CurrentUser,
    context: ContextDep,
):
    """Add ``minutes``: 422 past the pool's maximum duration, 429 past its maximum
    number of extensions."""
    reservation = await context.reservations.extend(
        user, reservation_id, body.minutes, source=client_address(request)
    )
    return reservation_public(reservation, user, context.reservations)


@router.delete("/{reservation_id}", response_model=ReservationPublic, dependencies=[Owner])
async def release_reservation(
    reservation_id: str, request: Request, user: CurrentUser, context: ContextDep
):
    """Release now: the accounts are deleted and the machines freed (a machine whose
    clean-up fails becomes dirty and is retried)."""
    reservation = await context.reservations.release(
        user, reservation_id, source=client_address(request)
    )
    return reservation_public(reservation, user, context.reservations)
