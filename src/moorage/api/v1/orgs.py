"""Orgs and their API keys (admins). An org API key is shown once; see
:mod:`moorage.services.orgs`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from moorage.api.deps import AdminUser, WriteDbDep
from moorage.errors import NotFound
from moorage.models.user import Role
from moorage.schemas.org import OrgApiKeyCreate, OrgCreate, OrgUpdate
from moorage.security.access import Allow
from moorage.services import orgs
from moorage.services.audit import client_address

router = APIRouter(tags=["orgs"])


@router.post("/orgs", status_code=201, dependencies=[Allow(Role.ADMIN)])
async def add_org(
    body: OrgCreate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, Any]:
    """Admins: a new org and its first API key: ``{"id", "name", "display_name",
    "created_at", "api_key"}`` (the key is shown once; audited ``org.create``).
    422 for a bad name, 409 when it is taken."""
    new = await orgs.create_org(
        db, admin, body.name, display_name=body.display_name, source=client_address(request)
    )
    await db.commit()
    return {**orgs.org_public(new.org), "api_key": new.api_key}


@router.post("/orgs/{name}/api-keys", status_code=201, dependencies=[Allow(Role.ADMIN)])
async def add_org_api_key(
    name: str, body: OrgApiKeyCreate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, str]:
    """Admins of org ``name``: a new API key for it, ``{"org", "name", "api_key"}``
    (shown once; audited ``org.api_key``). 404 for another org."""
    org = await orgs.find_org(db, name)
    if org.id != admin.org_id:
        raise NotFound(f"no org named {name!r}", code="org_not_found")
    key = await orgs.issue_org_api_key(
        db, admin, org, name=body.name, source=client_address(request)
    )
    await db.commit()
    return {"org": org.name, "name": body.name, "api_key": key}


@router.patch("/orgs/{name}", dependencies=[Allow(Role.ADMIN)])
async def update_org(
    name: str, body: OrgUpdate, request: Request, db: WriteDbDep, admin: AdminUser
) -> dict[str, Any]:
    """Admins of org ``name``: change its settings, ``two_factor_required_roles`` (a
    list of roles, audited ``org.update``); answers the org. 404 for another org."""
    org = await orgs.find_org(db, name)
    if org.id != admin.org_id:
        raise NotFound(f"no org named {name!r}", code="org_not_found")
    if body.two_factor_required_roles is not None:
        await orgs.set_two_factor_required_roles(
            db, admin, org, body.two_factor_required_roles, source=client_address(request)
        )
    await db.commit()
    return orgs.org_public(org)
