"""Orgs and their API keys. Platform admins (admins of the default org) create,
rename and remove orgs; an org's own admins change its settings and keys. An org
API key is shown once; see :mod:`moorage.services.orgs`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, ContextDep, DbDep, WriteDbDep
from moorage.context import Context
from moorage.models.user import Role
from moorage.schemas.org import OrgApiKeyCreate, OrgCreate, OrgUpdate
from moorage.security.access import Allow
from moorage.services import orgs
from moorage.services.audit import client_address
from moorage.services.org_admin import OrgRemoval

router = APIRouter(tags=["orgs"])


def org_removal(context: Context) -> OrgRemoval:
    """The org removal service over the app's lease services and fleet ingest."""
    return OrgRemoval(
        context.sessionmaker,
        (context.sessions, context.reservations),
        context.ingest,
        context.agent_connections,
    )


@router.get("/orgs", dependencies=[Allow(Role.ADMIN)])
async def list_orgs(db: DbDep, admin: AdminUser) -> list[dict[str, Any]]:
    """Admins: the orgs they manage, by name (platform admins: every org), each
    ``{"id", "name", "display_name", "created_at", "two_factor_required_roles"}``."""
    return [orgs.org_public(org) for org in await orgs.orgs_of(db, admin)]


@router.post("/orgs", status_code=201, dependencies=[Allow(Role.ADMIN)])
async def add_org(
    body: OrgCreate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, Any]:
    """Platform admins: a new org, its first API key and, with ``admin``, its first
    admin: ``{"id", "name", "display_name", "created_at", "api_key"}`` (the key is
    shown once; audited ``org.create``). 403 for other admins, 422 for a bad name,
    409 when it (or the admin's username) is taken."""
    new = await orgs.create_org(
        db,
        admin,
        body.name,
        display_name=body.display_name,
        admin_username=body.admin.username if body.admin else None,
        admin_password=body.admin.password if body.admin else None,
        source=client_address(request),
    )
    await db.commit()
    return {**orgs.org_public(new.org), "api_key": new.api_key}


@router.get("/orgs/{name}", dependencies=[Allow(Role.ADMIN)])
async def get_org(name: str, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Admins of org ``name`` (and platform admins): the org. 404 otherwise."""
    return orgs.org_public(await orgs.find_managed_org(db, admin, name))


@router.post("/orgs/{name}/api-keys", status_code=201, dependencies=[Allow(Role.ADMIN)])
async def add_org_api_key(
    name: str, body: OrgApiKeyCreate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, str]:
    """Admins of org ``name`` (and platform admins): a new API key for it, ``{"org",
    "name", "api_key"}`` (shown once; audited ``org.api_key``). 404 for another org."""
    org = await orgs.find_managed_org(db, admin, name)
    key = await orgs.issue_org_api_key(
        db, admin, org, name=body.name, source=client_address(request)
    )
    await db.commit()
    return {"org": org.name, "name": body.name, "api_key": key}


@router.post("/orgs/{name}/api-keys/rotate", status_code=201, dependencies=[Allow(Role.ADMIN)])
async def rotate_org_api_keys(
    name: str, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, Any]:
    """Admins of org ``name`` (and platform admins): revoke every API key of the org
    and issue one new key, ``{"org", "api_key", "revoked"}`` (the key shown once;
    audited ``org.api_key_rotate``). 404 for another org."""
    org = await orgs.find_managed_org(db, admin, name)
    key, revoked = await orgs.rotate_org_api_keys(db, admin, org, source=client_address(request))
    await db.commit()
    return {"org": org.name, "api_key": key, "revoked": revoked}


@router.patch("/orgs/{name}", dependencies=[Allow(Role.ADMIN)])
async def update_org(
    name: str, body: OrgUpdate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, Any]:
    """Admins of org ``name``: change its ``display_name``, ``placement_policy``
    (``spread`` or ``pack``) and ``two_factor_required_roles`` (a list of roles;
    audited ``org.update``); platform
    admins also ``name`` (audited ``org.rename``). Answers the org. 404 for another
    org; 403 for a rename by an admin who is not a platform admin."""
    org = await orgs.find_managed_org(db, admin, name)
    source = client_address(request)
    if body.name is not None:
        await orgs.rename_org(db, admin, org, body.name, source=source)
    if body.display_name is not None:
        orgs.set_display_name(db, admin, org, body.display_name, source=source)
    if body.placement_policy is not None:
        orgs.set_placement_policy(db, admin, org, body.placement_policy, source=source)
    if body.two_factor_required_roles is not None:
        await orgs.set_two_factor_required_roles(
            db, admin, org, body.two_factor_required_roles, source=source
        )
    await db.commit()
    return orgs.org_public(org)


@router.delete("/orgs/{name}", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def remove_org(
    name: str, request: Request, context: ContextDep, admin: AdminUser
) -> Response:
    """Platform admins: remove org ``name``: its users disabled, their tokens and the
    org's API keys revoked, its templates disabled, its nodes' credentials revoked,
    its live sessions and reservations released (audited ``org.remove``). 403 for
    other admins; 404 for an unknown org; 409 for the default org or one's own."""
    await org_removal(context).remove(admin, name, source=client_address(request))
    return Response(status_code=204)
