"""Users (admins) and the caller's own API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from moorage.api.deps import AdminUser, CurrentUser, DbDep, WriteDbDep
from moorage.api.pagination import Page
from moorage.models.user import Role, User
from moorage.schemas.user import TokenCreate, TokenCreated, UserCreate, UserPublic
from moorage.security.access import Allow
from moorage.services.audit import client_address
from moorage.services.users import create_api_token, create_user

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserPublic], dependencies=[Allow(Role.ADMIN)])
async def list_users(db: DbDep, admin: AdminUser, page: Page, request: Request, response: Response):
    """Admins: the users of the admin's org, by username. Pages: ``limit`` and
    ``cursor``, the next page's URL in ``Link``."""
    rows = await db.scalars(select(User).where(User.org_id == admin.org_id).order_by(User.username))
    return page.apply(request, response, list(rows))


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


@router.post(
    "/tokens", status_code=201, response_model=TokenCreated, dependencies=[Allow(Role.VIEWER)]
)
async def add_token(body: TokenCreate, request: Request, db: WriteDbDep, user: CurrentUser):
    """A new API token for the caller, shown once (audited ``token.create``)."""
    token = await create_api_token(db, user, name=body.name, source=client_address(request))
    await db.commit()
    return TokenCreated(token=token, name=body.name)
