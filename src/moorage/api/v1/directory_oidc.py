"""OpenID Connect providers of the caller's org (admins; issue 13). The client
secret is write-only: answers say only whether one is set."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, ContextDep, DbDep, WriteDbDep
from moorage.models.oidc import OidcProvider
from moorage.models.user import Role
from moorage.schemas.oidc import OidcProviderCreate, OidcProviderPublic, OidcProviderUpdate
from moorage.security.access import Allow
from moorage.services import oidc_providers
from moorage.services.audit import client_address
from moorage.services.oidc_sign_in import callback_path

__all__ = ["provider_public", "router"]

router = APIRouter(tags=["directory"])


def provider_public(provider: OidcProvider, base_url: str) -> OidcProviderPublic:
    """``provider`` as the API shows it, with the redirect URI on the site at
    ``base_url`` (never the secret)."""
    return OidcProviderPublic(
        name=provider.name,
        display_name=provider.display_name,
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret_set=bool(provider.client_secret_sealed),
        scopes=provider.scopes,
        groups_claim=provider.groups_claim,
        username_claim=provider.username_claim,
        rules=provider.rules,
        default_role=Role(provider.default_role),
        enabled=provider.enabled,
        redirect_uri=str(base_url).rstrip("/") + callback_path(provider.name),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


@router.get(
    "/directory/oidc", response_model=list[OidcProviderPublic], dependencies=[Allow(Role.ADMIN)]
)
async def list_providers(request: Request, db: DbDep, admin: AdminUser):
    """Admins: the org's OpenID Connect providers, by name."""
    rows = await oidc_providers.providers_of(db, admin)
    return [provider_public(p, str(request.base_url)) for p in rows]


@router.post(
    "/directory/oidc",
    status_code=201,
    response_model=OidcProviderPublic,
    dependencies=[Allow(Role.ADMIN)],
)
async def add_provider(
    body: OidcProviderCreate,
    request: Request,
    db: WriteDbDep,
    admin: AdminUser,
    context: ContextDep,
):
    """Admins: a new provider of their org (audited ``oidc_provider.create``). 422
    names a bad field (``issuer``, ``scopes``, ``rules[i].role`` …); 409 when the
    name is taken (names are unique across orgs: they are in the redirect URI)."""
    settings = body.model_dump(exclude={"name", "client_secret"})
    secret = body.client_secret.get_secret_value() if body.client_secret else None
    provider = await oidc_providers.create_provider(
        db,
        context.keyring,
        admin,
        name=body.name,
        client_secret=secret,
        source=client_address(request),
        **settings,
    )
    await db.commit()
    return provider_public(provider, str(request.base_url))


@router.patch(
    "/directory/oidc/{name}", response_model=OidcProviderPublic, dependencies=[Allow(Role.ADMIN)]
)
async def update_provider(
    name: str,
    body: OidcProviderUpdate,
    request: Request,
    db: WriteDbDep,
    admin: AdminUser,
    context: ContextDep,
):
    """Admins: change a provider's settings (absent fields kept; ``client_secret``
    ``""`` removes it); audited ``oidc_provider.update``. 404 for another org's."""
    changes = body.model_dump(exclude_unset=True, exclude={"client_secret"})
    if body.client_secret is not None:
        changes["client_secret"] = body.client_secret.get_secret_value()
    provider = await oidc_providers.update_provider(
        db, context.keyring, admin, name, source=client_address(request), **changes
    )
    await db.commit()
    return provider_public(provider, str(request.base_url))


@router.delete("/directory/oidc/{name}", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def delete_provider(name: str, request: Request, db: WriteDbDep, admin: AdminUser):
    """Admins: remove a provider (audited ``oidc_provider.delete``); its users stay
    but can no longer sign in with it. 404 for another org's."""
    await oidc_providers.delete_provider(db, admin, name, source=client_address(request))
    await db.commit()
    return Response(status_code=204)
