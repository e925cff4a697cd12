"""Users (admins), the caller's own API tokens and password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, ContextDep, CurrentUser, DbDep, WriteDbDep, credential_of
from moorage.api.pagination import Page
from moorage.context import Context
from moorage.models.user import Role, User
from moorage.schemas.user import (
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from moorage.security.access import Allow, Owner
from moorage.security.throttle import throttled
from moorage.security.tokens import parse_prefix
from moorage.services import self_service
from moorage.services.audit import client_address
from moorage.services.groups import group_names_of
from moorage.services.user_admin import UserAdmin, UserChanges
from moorage.services.users import create_user, users_of

router = APIRouter(tags=["users"])


def user_admin(context: Context) -> UserAdmin:
    """The user administration of this process (releases sessions and reservations)."""
    return UserAdmin(context.sessionmaker, (context.sessions, context.reservations))


async def _public(context: Context, user: User) -> UserPublic:
    async with context.sessionmaker() as db:
        groups = await group_names_of(db, user.id)
    return UserPublic.model_validate(user).model_copy(update={"groups": groups})


@router.get("/users", response_model=list[UserPublic], dependencies=[Allow(Role.ADMIN)])
async def list_users(db: DbDep, admin: AdminUser, page: Page, request: Request, response: Response):
    """Admins: the users of the admin's org, by username, with their groups (deleted
    users are left out). Pages: ``limit`` and ``cursor``, the next page's URL in
    ``Link``."""
    users = page.apply(request, response, await users_of(db, admin))
    return [
        UserPublic.model_validate(u).model_copy(update={"groups": await group_names_of(db, u.id)})
        for u in users
    ]


@router.post("/users", status_code=201, response_model=UserPublic, dependencies=[Allow(Role.ADMIN)])
async def add_user(body: UserCreate, request: Request, db: WriteDbDep, admin: AdminUser):
    """Admins: add a user in the admin's org (audited ``user.create``). 422 for a bad
    username or a short password; 409 when the username is taken."""
    user = await create_user(
        db,
        org_id=admin.org_id,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        by=admin,
        source=client_address(request),
    )
    await db.commit()
    return user


@router.patch("/users/{user_id}", response_model=UserPublic, dependencies=[Allow(Role.ADMIN)])
async def update_user(
    user_id: str, body: UserUpdate, request: Request, context: ContextDep, admin: AdminUser
):
    """Admins: change any of ``display_name``, ``role``, ``groups`` (names; replaces
    them), ``is_active``, ``password`` of a user of the org (audited ``user.update``).
    ``is_active: false`` releases the user's live sessions and reservations and
    revokes their tokens; a new password signs them out. 404 for an unknown user,
    422 for an unknown group, 409 for an admin changing their own role or
    disabling themselves."""
    changes = UserChanges(**body.model_dump(exclude_none=True))
    user = await user_admin(context).update(admin, user_id, changes, source=client_address(request))
    return await _public(context, user)


@router.delete("/users/{user_id}", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def delete_user(
    user_id: str, request: Request, context: ContextDep, admin: AdminUser
) -> Response:
    """Admins: delete a user of the org (audited ``user.delete``): their live sessions
    and reservations are released, their tokens revoked, and their username is free
    again. 404 for an unknown user; 409 for deleting yourself."""
    await user_admin(context).delete(admin, user_id, source=client_address(request))
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/password-reset",
    response_model=PasswordReset,
    dependencies=[Allow(Role.ADMIN)],
)
async def reset_password(user_id: str, request: Request, context: ContextDep, admin: AdminUser):
    """Admins: give a user a new random password, returned once, and sign them out
    everywhere (audited ``user.reset_password``). 404 for an unknown user."""
    _, password = await user_admin(context).reset_password(
        admin, user_id, source=client_address(request)
    )
    return PasswordReset(password=password)


# -- the caller's own account ---------------------------------------------------


@router.post(
    "/tokens", status_code=201, response_model=TokenCreated, dependencies=[Allow(Role.VIEWER)]
)
async def add_token(body: TokenCreate, request: Request, db: WriteDbDep, user: CurrentUser):
    """A new API token for the caller, shown once (audited ``token.create``), with a
    ``scope`` (``read``: GET/HEAD only; ``write``) and an optional expiry in days."""
    token = await self_service.create_own_token(
        db,
        user,
        name=body.name,
        scope=body.scope,
        expires_in_days=body.expires_in_days,
        source=client_address(request),
    )
    await db.commit()
    mine = await self_service.own_tokens(db, user)
    expires_at = next((t.expires_at for t in mine if parse_prefix(token) == t.prefix), None)
    return TokenCreated(token=token, name=body.name, scope=body.scope.value, expires_at=expires_at)


@router.get("/tokens", response_model=list[TokenPublic], dependencies=[Allow(Role.VIEWER)])
async def list_tokens(db: DbDep, user: CurrentUser):
    """The caller's own API tokens, newest first (never their secrets, nor anyone
    else's tokens)."""
    return await self_service.own_tokens(db, user)


@router.delete("/tokens/{token_id}", status_code=204, dependencies=[Owner])
async def revoke_token(
    token_id: str, request: Request, db: WriteDbDep, user: CurrentUser
) -> Response:
    """Revoke one of the caller's API tokens (audited ``token.revoke``); 404 for an
    unknown token or someone else's."""
    await self_service.revoke_own_token(db, user, token_id, source=client_address(request))
    await db.commit()
    return Response(status_code=204)


@router.post("/account/password", status_code=204, dependencies=[Allow(Role.VIEWER)])
async def change_password(
    body: PasswordChange, request: Request, db: WriteDbDep, user: CurrentUser
) -> Response:
    """Change the caller's password (the current one required; throttled like a
    sign-in). Their other logins end; this one and their API tokens stay. 422 names
    ``current_password`` when it is wrong, ``new_password`` when too short."""
    async with throttled(request, user.username):
        await self_service.change_password(
            db,
            user,
            body.current_password,
            body.new_password,
            keep=credential_of(request),
            source=client_address(request),
        )
        await db.commit()
    return Response(status_code=204)
