"""The Flowcase API (seed ``001_*``): droplets are templates, instances are sessions.

Shapes follow Flowcase's own routes (its ``routes/droplet.py``): every answer has
``success``; a failure is ``{"success": false, "error": "<message>", "code":
"<Moorage code>"}`` with Moorage's status code, which is what Flowcase's
dashboard script reads.

=========================================  =====================================
Flowcase                                   Moorage
=========================================  =====================================
``GET /api/droplets``                      the templates the caller may launch
``GET /api/droplets/stats``                counts of templates and of the caller's
                                           live sessions, per template
``POST /api/instance/request``             launch (``{"droplet_id": "<template
  ``{"droplet_id", "resolution"?}``        id or name>"}``), answers once usable:
                                           ``{"success", "instance_id", "id"}``
``GET /api/instances``                     the caller's live sessions
``POST /api/instances/{id}/start``         start a stopped session again
``POST /api/instances/{id}/stop``          stop it (its disk is kept; its
                                           deadline still runs)
``GET /api/instance/{id}/destroy``         end it now (a ``GET``, as in Flowcase:
                                           the login cookie counts only from
                                           Moorage's own pages)
=========================================  =====================================

A droplet: ``{"id", "display_name", "description", "image_path",
"droplet_type", "container_docker_image", "container_docker_registry",
"container_cores", "container_memory", "server_ip", "server_port"}`` with
``droplet_type`` Moorage's kind (``terminal``, ``ssh``, ``vnc``, ``rdp``,
``http``), ``container_memory`` in MB (Flowcase's unit), ``image_path`` (a
picture in Flowcase) and the registry empty, ``server_ip``/``server_port`` where
a native client connects (Moorage's public host and the template's port).
An instance: ``{"id", "created_at", "updated_at", "status", "ip", "droplet",
"expires_at", "url"}`` with ``status`` ``running``, ``stopped``, ``starting``
or ``stopping`` (Moorage's ``state`` is there too), ``url`` its page.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from moorage.api.compat import SeedErrorRoute
from moorage.api.compat._auth import Compat, compat_user
from moorage.api.deps import ContextDep, DbDep, SessionServiceDep
from moorage.errors import MoorageError
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.schemas._input import InputModel
from moorage.services.audit import client_address
from moorage.services.session_lists import search_sessions
from moorage.services.templates import visible_templates

__all__ = ["PATHS", "router"]

ROUTER = "flowcase"
PATHS = ("/api/droplets", "/api/instance", "/api/instances")
"""Where CORS applies (:func:`moorage.api.compat.compat_paths`)."""

STATUS_OF_STATE = {
    "pending": "starting",
    "provisioning": "starting",
    "ready": "running",
    "stopped": "stopped",
    "releasing": "stopping",
}


class FlowcaseRoute(SeedErrorRoute):
    """Answers errors the way Flowcase does: ``{"success": false, "error"}``."""

    @staticmethod
    def error_body(error: MoorageError) -> dict[str, Any]:
        return {"success": False, "error": error.message, "code": error.code, **error.details}


router = APIRouter(tags=["compat: flowcase"], route_class=FlowcaseRoute)


class InstanceRequest(InputModel):
    droplet_id: str = Field(min_length=1, max_length=64, description="A template's id or name.")
    resolution: str | None = Field(
        None, max_length=16, description="Sent by Flowcase's dashboard; desktops size themselves."
    )


def droplet_of(template: Template, public_host: str) -> dict[str, Any]:
    """A template as a Flowcase droplet (see the module docstring)."""
    return {
        "id": template.id,
        "name": template.name,
        "display_name": template.display_name,
        "description": template.description,
        "image_path": None,
        "droplet_type": template.kind,
        "container_docker_image": template.image,
        "container_docker_registry": "",
        "container_cores": template.cpu_limit,
        "container_memory": template.memory_limit_mb,
        "server_ip": public_host,
        "server_port": template.port,
    }


def instance_of(session: WorkspaceSession, request: Request, public_host: str) -> dict[str, Any]:
    """A session as a Flowcase instance (see the module docstring)."""
    return {
        "id": session.id,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "status": STATUS_OF_STATE.get(session.state, session.state),
        "state": session.state,
        "ip": public_host,
        "url": f"{str(request.base_url).rstrip('/')}/sessions/{session.id}",
        "droplet": droplet_of(session.template, public_host),
    }


@router.get("/api/droplets", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def list_droplets(db: DbDep, context: ContextDep, user: User = compat_user) -> dict[str, Any]:
    """The templates the caller may launch, by display name."""
    templates = [t for t in await visible_templates(db, user) if t.enabled]
    templates.sort(key=lambda template: template.display_name.lower())
    host = context.settings.public_host
    return {"success": True, "droplets": [droplet_of(t, host) for t in templates]}


@router.get("/api/droplets/stats", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def droplet_stats(db: DbDep, user: User = compat_user) -> dict[str, Any]:
    """``{"success", "droplets", "instances", "running", "stopped", "per_droplet":
    [{"id", "display_name", "instances"}]}``: counts of the templates the caller may
    launch and of the caller's live sessions."""
    templates = [t for t in await visible_templates(db, user) if t.enabled]
    live = await search_sessions(db, user, states=LIVE_STATES)
    per_template = Counter(session.template_id for session in live)
    states = Counter(session.state for session in live)
    return {
        "success": True,
        "droplets": len(templates),
        "instances": len(live),
        "running": states["ready"],
        "stopped": states["stopped"],
        "per_droplet": [
            {"id": t.id, "display_name": t.display_name, "instances": per_template[t.id]}
            for t in templates
        ],
    }


@router.post("/api/instance/request", dependencies=[Compat(ROUTER, Role.MEMBER)])
async def request_instance(
    body: InstanceRequest,
    request: Request,
    sessions: SessionServiceDep,
    context: ContextDep,
    user: User = compat_user,
) -> dict[str, Any]:
    """Launch a session of the droplet (template id or name) for its default
    duration; answers once it is usable. Errors as ``POST /api/v1/sessions``."""
    session = await sessions.launch(user, body.droplet_id, source=client_address(request))
    return {
        "success": True,
        "instance_id": session.id,
        "id": session.id,
        "instance": instance_of(session, request, context.settings.public_host),
    }


@router.get("/api/instances", dependencies=[Compat(ROUTER, Role.VIEWER)])
async def list_instances(
    request: Request, db: DbDep, context: ContextDep, user: User = compat_user
) -> dict[str, Any]:
    """The caller's live sessions (running, stopped, starting), newest first."""
    live = await search_sessions(db, user, states=LIVE_STATES)
    host = context.settings.public_host
    return {"success": True, "instances": [instance_of(s, request, host) for s in live]}


@router.post("/api/instances/{instance_id}/start", dependencies=[Compat(ROUTER, Role.MEMBER)])
async def start_instance(
    instance_id: str,
    request: Request,
    sessions: SessionServiceDep,
    context: ContextDep,
    user: User = compat_user,
) -> dict[str, Any]:
    """Start a stopped session again; answers once it is usable (409 if it is not
    stopped, 404 for another user's)."""
    session = await sessions.start(user, instance_id, source=client_address(request))
    host = context.settings.public_host
    return {"success": True, "instance": instance_of(session, request, host)}


@router.post("/api/instances/{instance_id}/stop", dependencies=[Compat(ROUTER, Role.MEMBER)])
async def stop_instance(
    instance_id: str,
    request: Request,
    sessions: SessionServiceDep,
    context: ContextDep,
    user: User = compat_user,
) -> dict[str, Any]:
    """Stop a running session, keeping its disk; its deadline still runs (409 if it
    is not running, 404 for another user's)."""
    session = await sessions.stop(user, instance_id, source=client_address(request))
    host = context.settings.public_host
    return {"success": True, "instance": instance_of(session, request, host)}


@router.get(
    "/api/instance/{instance_id}/destroy",
    dependencies=[Compat(ROUTER, Role.VIEWER, cookie=False)],
)
async def destroy_instance(
    instance_id: str, request: Request, sessions: SessionServiceDep, user: User = compat_user
) -> dict[str, Any]:
    """End the session now (its container is removed); 404 for another user's."""
    await sessions.release(user, instance_id, source=client_address(request))
    return {"success": True}
