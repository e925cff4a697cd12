"""The OpenID Connect part of the admins' directory page ``/admin/directory``: the
org's providers (issue 13). Same services and checks as ``/api/v1/directory/oidc``
(:mod:`moorage.services.oidc_providers`); the client secret is never shown, only
whether one is set (an empty box keeps it)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.errors import InvalidInput
from moorage.models.user import Role
from moorage.schemas.oidc import OidcProviderCreate, OidcProviderUpdate
from moorage.security.access import Allow
from moorage.security.auth import AdminUser
from moorage.security.origin import require_same_origin
from moorage.services import oidc_providers
from moorage.services.audit import client_address
from moorage.services.oidc_sign_in import callback_path
from moorage.web.pages import _invalid, _redirect

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE = "/admin/directory"
_TEXT_FIELDS = (
    "display_name",
    "issuer",
    "client_id",
    "scopes",
    "groups_claim",
    "username_claim",
    "default_role",
)


async def oidc_context(request: Request, user: AdminUser, db: DbDep) -> dict[str, Any]:
    """What ``/admin/directory`` shows of the org's OpenID Connect providers (the page
    itself is :mod:`moorage.web.directory_pages`): each with its settings form and
    the redirect URI to register at the provider, and a form to add one."""
    providers = await oidc_providers.providers_of(db, user)
    base = str(request.base_url).rstrip("/")
    return {
        "providers": providers,
        "redirect_uris": {p.name: base + callback_path(p.name) for p in providers},
        "callback_example": base + callback_path("NAME"),
        "login_url": base + "/login",
        "oidc_rules_json": {p.name: json.dumps(p.rules, indent=2) for p in providers},
        "oidc_roles": [r.value for r in Role],
    }


def _form_fields(form: Any) -> dict[str, Any]:
    """The settings of a provider's form: blank boxes left out (kept), the rules
    parsed from JSON, the checkbox read as on or off."""
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    fields: dict[str, Any] = {
        f: values[f].strip() for f in _TEXT_FIELDS if values.get(f, "").strip()
    }
    if values.get("client_secret"):
        fields["client_secret"] = values["client_secret"]
    rules = values.get("rules", "").strip()
    if rules:
        try:
            fields["rules"] = json.loads(rules)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested
            raise InvalidInput("rules must be JSON: a list of objects", field="rules") from exc
    fields["enabled"] = values.get("enabled") == "on"
    return fields


@router.post(f"{PAGE}/oidc", dependencies=[Allow(Role.ADMIN)])
async def provider_create_submit(
    request: Request, user: AdminUser, db: WriteDbDep, context: ContextDep
) -> Response:
    """Admins: add a provider (audited ``oidc_provider.create``)."""
    require_same_origin(request)
    form = await request.form()
    try:
        body = OidcProviderCreate.model_validate(
            {"name": str(form.get("name") or "").strip(), **_form_fields(form)}
        )
    except ValidationError as exc:
        raise _invalid(exc, OidcProviderCreate.model_fields) from exc
    secret = body.client_secret.get_secret_value() if body.client_secret else None
    await oidc_providers.create_provider(
        db,
        context.keyring,
        user,
        name=body.name,
        client_secret=secret,
        source=client_address(request),
        **body.model_dump(exclude={"name", "client_secret"}),
    )
    await db.commit()
    return _redirect(request, PAGE)


@router.post(PAGE + "/oidc/{name}", dependencies=[Allow(Role.ADMIN)])
async def provider_update_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep, context: ContextDep
) -> Response:
    """Admins: save a provider's settings (an empty secret box keeps the secret; the
    "remove secret" box removes it); audited ``oidc_provider.update``."""
    require_same_origin(request)
    form = await request.form()
    fields = _form_fields(form)
    if form.get("remove_client_secret") == "on":
        fields["client_secret"] = ""
    try:
        body = OidcProviderUpdate.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc, OidcProviderUpdate.model_fields) from exc
    changes = body.model_dump(exclude_unset=True, exclude={"client_secret"})
    if body.client_secret is not None:
        changes["client_secret"] = body.client_secret.get_secret_value()
    await oidc_providers.update_provider(
        db, context.keyring, user, name, source=client_address(request), **changes
    )
    await db.commit()
    return _redirect(request, PAGE)


@router.post(PAGE + "/oidc/{name}/delete", dependencies=[Allow(Role.ADMIN)])
async def provider_delete_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: remove a provider (the page asked first)."""
    require_same_origin(request)
    await oidc_providers.delete_provider(db, user, name, source=client_address(request))
    await db.commit()
    return _redirect(request, PAGE)
