"""Enrolment tokens (operators): made here or with ``moorage agent token create``,
spent by ``POST /api/v1/agents/enroll``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from moorage.api.deps import DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.fleet import EnrollmentTokenCreate
from moorage.security.access import Allow
from moorage.services.fleet import enrolment

router = APIRouter(tags=["fleet"])


@router.post("/enrollment-tokens", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_token(
    body: EnrollmentTokenCreate, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """A token to enrol agents: ``{id, name, prefix, token, uses, expires_at, max_uses,
    tags}``; ``token`` is shown once. 422 names a bad field."""
    return await enrolment.issue_enrollment_token(db, user, body)


@router.get("/enrollment-tokens", dependencies=[Allow(Role.OPERATOR)])
async def list_tokens(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's enrolment tokens, newest first (never the token itself)."""
    return await enrolment.list_enrollment_tokens(db, user)


@router.delete(
    "/enrollment-tokens/{token_id}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def revoke_token(token_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Delete a token; nodes it enrolled keep their credentials. 404 when unknown."""
    await enrolment.revoke_enrollment_token(db, user, token_id)
    return Response(status_code=204)
