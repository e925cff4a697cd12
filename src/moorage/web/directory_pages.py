"""The admins' directory sign-in page, ``/admin/directory``: LDAP / Active Directory
(the org's settings, a "test connection and look up a user" button that shows what
the directory answers, or its error, on the page, and a "sync now" button; same
services as ``/api/v1/directory/ldap``), then the org's OpenID Connect providers
(:mod:`moorage.web.oidc_settings_pages`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.errors import InvalidInput, MoorageError
from moorage.models.user import Role
from moorage.schemas.directory import LdapLookup, LdapSettingsIn
from moorage.security.access import Allow
from moorage.security.auth import AdminUser
from moorage.security.origin import require_same_origin
from moorage.services import ldap_accounts, ldap_settings
from moorage.services.audit import client_address
from moorage.services.ldap_sync import DirectorySync
from moorage.web.oidc_settings_pages import oidc_context
from moorage.web.pages import _invalid, _redirect, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_FLAGS = ("enabled", "start_tls", "nested_groups")
_NUMBERS = ("sync_interval_minutes", "timeout_seconds")


@router.get("/admin/directory", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def directory_page(request: Request, user: AdminUser, db: DbDep) -> Response:
    """Admins: the org's directory settings (never the bind password), the last sync,
    the look-up and sync buttons."""
    current = await ldap_settings.settings_of(db, user)
    return templates.TemplateResponse(
        request,
        "admin_directory.html",
        {
            "user": user,
            "ldap": current,
            "rules_json": json.dumps(current["group_rules"], indent=2),
            "roles": [r.value for r in Role],
            **await oidc_context(request, user, db),
        },
    )


def _form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: form[name]
        for name in LdapSettingsIn.model_fields
        if name in form and name not in (*_FLAGS, *_NUMBERS, "group_rules", "bind_password")
    }
    for name in _FLAGS:
        values[name] = form.get(name) == "on"
    for name in _NUMBERS:
        if name not in form:
            continue
        raw = str(form[name]).strip()
        try:
            values[name] = int(raw)
        except ValueError as exc:
            raise InvalidInput(
                "%(field)s must be a whole number", params={"field": name}, field=name
            ) from exc
    try:
        values["group_rules"] = json.loads(str(form.get("group_rules", "")).strip() or "[]")
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "group_rules must be JSON: %(reason)s",
            params={"reason": exc.msg},
            field="group_rules",
        ) from exc
    password = str(form.get("bind_password", ""))
    # An empty box keeps the stored password; the "clear" box removes it.
    values["bind_password"] = "" if form.get("clear_bind_password") == "on" else password or None
    values["ca_pem"] = values.get("ca_pem") or None
    return values


@router.post("/admin/directory", dependencies=[Allow(Role.ADMIN)])
async def directory_submit(
    request: Request, user: AdminUser, db: WriteDbDep, context: ContextDep
) -> Response:
    """Admins: save the settings (audited ``directory.update``); 422 names the field."""
    require_same_origin(request)
    values = _form_values(await request.form())
    try:
        body = LdapSettingsIn.model_validate(values)
    except ValidationError as exc:
        raise _invalid(exc, LdapSettingsIn.model_fields) from exc
    await ldap_settings.save(
        db, user, context.keyring, body.model_dump(mode="json"), source=client_address(request)
    )
    await db.commit()
    return _redirect(request, "/admin/directory")


@router.post("/admin/directory/test", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def directory_test(
    request: Request, user: AdminUser, db: DbDep, context: ContextDep
) -> Response:
    """Admins: connect and look a user up; the fragment shows what was found (DN,
    name, e-mail, groups, the role and groups the rules give) or the error."""
    require_same_origin(request)
    form = await request.form()
    found: dict[str, Any] | None = None
    error: str | None = None
    try:
        body = LdapLookup.model_validate({"username": form.get("username", "")})
        found = await ldap_accounts.lookup(db, user, context.keyring, body.username)
    except ValidationError:
        error = InvalidInput("username is required", field="username").localized_message()
    except MoorageError as exc:
        error = exc.localized_message()
    return templates.TemplateResponse(
        request, "_directory_lookup.html", {"found": found, "error": error}
    )


@router.post("/admin/directory/sync", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def directory_sync(request: Request, user: AdminUser, context: ContextDep) -> Response:
    """Admins: sync now; the fragment shows the report or the error."""
    require_same_origin(request)
    sync = context.directory_sync or DirectorySync(context.sessionmaker, context.keyring)
    report: dict[str, Any] | None = None
    error: str | None = None
    try:
        report = await sync.sync_now(user, source=client_address(request))
    except MoorageError as exc:
        error = exc.localized_message()
    return templates.TemplateResponse(
        request, "_directory_sync.html", {"report": report, "error": error}
    )
