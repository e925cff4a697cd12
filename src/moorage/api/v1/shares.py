"""A session's share links and who is connected to it now.

``POST/GET /api/v1/sessions/{id}/shares``, ``DELETE …/shares/{link_id}`` (revoke),
``GET /api/v1/sessions/{id}/connections``, ``DELETE …/connections/{id}`` (disconnect).
The service checks who may (:func:`moorage.services.shares.may_share`: the owner,
an instructor or an admin of the org) and audits.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from moorage.api.deps import ContextDep, CurrentUser
from moorage.models.share import ShareLink
from moorage.schemas.share import ConnectionPublic, ShareCreate, SharePublic
from moorage.security.access import Owner
from moorage.services.audit import client_address
from moorage.services.connections import LiveConnection
from moorage.services.shares import link_state

router = APIRouter(prefix="/sessions", tags=["sessions"])


def share_public(
    link: ShareLink, usernames: dict[str, str], url: str | None = None, *, state: str
) -> SharePublic:
    """The API view of a link (``url`` only when just created)."""
    users = None if link.user_ids is None else [usernames.get(i, i) for i in link.user_ids]
    return SharePublic(
        id=link.id,
        role=link.role,
        state=state,  # type: ignore[arg-type]
        created_by=link.created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        users=users,
        url=url,
    )


def connection_public(connection: LiveConnection) -> ConnectionPublic:
    return ConnectionPublic(
        id=connection.id,
        who=connection.who,
        role=connection.role,
        kind=connection.kind,
        guest=connection.guest,
        since=connection.since,
    )


@router.post(
    "/{session_id}/shares", status_code=201, response_model=SharePublic, dependencies=[Owner]
)
async def create_share(
    session_id: str, body: ShareCreate, request: Request, user: CurrentUser, context: ContextDep
) -> SharePublic:
    """Create a share link; the answer's ``url`` is shown this once (only its hash is
    kept). 404 when the caller may not share the session, 409 when it is not ready
    or stopped, 422 for an unknown user."""
    shares = context.shares
    made = await shares.create(
        user,
        session_id,
        role=body.role,
        minutes=body.minutes,
        usernames=body.users,
        source=client_address(request),
    )
    url = f"{str(request.base_url).rstrip('/')}/share/{made.token}"
    names = await shares.usernames([made.link])
    return share_public(made.link, names, url, state=link_state(made.link, shares.clock()))


@router.get("/{session_id}/shares", response_model=list[SharePublic], dependencies=[Owner])
async def list_shares(session_id: str, user: CurrentUser, context: ContextDep) -> list[SharePublic]:
    """The session's share links, newest first, revoked and expired ones included."""
    shares = context.shares
    links = await shares.list(user, session_id)
    names = await shares.usernames(links)
    now = shares.clock()
    return [share_public(link, names, state=link_state(link, now)) for link in links]


@router.delete("/{session_id}/shares/{link_id}", status_code=204, dependencies=[Owner])
async def revoke_share(
    session_id: str, link_id: str, request: Request, user: CurrentUser, context: ContextDep
) -> Response:
    """Revoke a link now: every connection opened with it is closed (4410)."""
    await context.shares.revoke(user, session_id, link_id, source=client_address(request))
    return Response(status_code=204)


@router.get(
    "/{session_id}/connections", response_model=list[ConnectionPublic], dependencies=[Owner]
)
async def list_connections(
    session_id: str, user: CurrentUser, context: ContextDep
) -> list[ConnectionPublic]:
    """Who is connected to the session now (on this server process), oldest first."""
    return [connection_public(c) for c in await context.shares.connected(user, session_id)]


@router.delete("/{session_id}/connections/{connection_id}", status_code=204, dependencies=[Owner])
async def disconnect(
    session_id: str, connection_id: str, request: Request, user: CurrentUser, context: ContextDep
) -> Response:
    """Close one connection (4408); a guest's grant ends too, so that browser stays out."""
    await context.shares.disconnect(user, session_id, connection_id, source=client_address(request))
    return Response(status_code=204)
