"""An org's LDAP / Active Directory settings, its test look-up and its sync, for the
org's admins (:mod:`moorage.services.ldap_settings`, :mod:`.ldap_accounts`,
:mod:`.ldap_sync`). The bind password is write-only."""

from __future__ import annotations

from fastapi import APIRouter, Request

from moorage.api.deps import AdminUser, ContextDep, DbDep, WriteDbDep
from moorage.models.user import Role
from moorage.schemas.directory import (
    LdapLookup,
    LdapLookupResult,
    LdapSettingsIn,
    LdapSettingsPublic,
)
from moorage.security.access import Allow
from moorage.services import ldap_accounts, ldap_settings
from moorage.services.audit import client_address
from moorage.services.ldap_sync import DirectorySync

__all__ = ["router"]

router = APIRouter(prefix="/directory", tags=["directory"])


@router.get("/ldap", response_model=LdapSettingsPublic, dependencies=[Allow(Role.ADMIN)])
async def get_ldap(db: DbDep, admin: AdminUser):
    """The caller's org's settings (``configured: false`` and the defaults when none);
    ``bind_password_set`` instead of the password."""
    return await ldap_settings.settings_of(db, admin)


@router.put("/ldap", response_model=LdapSettingsPublic, dependencies=[Allow(Role.ADMIN)])
async def put_ldap(
    body: LdapSettingsIn, request: Request, db: WriteDbDep, admin: AdminUser, context: ContextDep
):
    """Create or replace the caller's org's settings (audited ``directory.update``).
    422 names the wrong field (``url``, ``start_tls``, ``user_filter``,
    ``group_rules[0].role`` ...)."""
    values = body.model_dump(mode="json")
    directory = await ldap_settings.save(
        db, admin, context.keyring, values, source=client_address(request)
    )
    await db.commit()
    return ldap_settings.public(directory)


@router.post("/ldap/test", response_model=LdapLookupResult, dependencies=[Allow(Role.ADMIN)])
async def test_ldap(body: LdapLookup, db: DbDep, admin: AdminUser, context: ContextDep):
    """Connect, bind as the service account and look ``username`` up: the entry's DN,
    name, e-mail and groups, and the role and Moorage groups the rules give
    (``found: false`` when there is no such entry). Changes nothing. 404
    ``no_directory``; 503 ``directory_unavailable`` / ``directory_bind_failed`` with
    the reason."""
    return await ldap_accounts.lookup(db, admin, context.keyring, body.username)


@router.post("/ldap/sync", dependencies=[Allow(Role.ADMIN)])
async def sync_ldap(request: Request, admin: AdminUser, context: ContextDep):
    """Sync the org's directory users now (audited ``directory.sync``): ``{"entries",
    "updated", "disabled", "missing_groups", "seconds"}``. 404 ``no_directory``, 409
    ``sync_running``, 503 when the directory cannot be read."""
    sync = context.directory_sync or DirectorySync(context.sessionmaker, context.keyring)
    return await sync.sync_now(admin, source=client_address(request))
