"""Docker environments (operators and admins) and the audit log (admins).

Every mutating call is written to the audit log.
"""

from __future__ import annotations

from typing import Any

import asyncssh
from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from moorage.api.deps import AdminUser, ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.drivers.docker.ssh_tunnel import fetch_host_key, parse_ssh_url
from moorage.drivers.docker.tls import CA_CONTEXT, CERT_CONTEXT, KEY_CONTEXT, SSH_KEY_CONTEXT
from moorage.errors import Conflict, InvalidInput
from moorage.models.audit import AuditEvent
from moorage.models.environment import Environment
from moorage.models.session import WorkspaceSession
from moorage.models.user import User
from moorage.schemas.environment import (
    EnvironmentCreate,
    EnvironmentPublic,
    EnvironmentUpdate,
)
from moorage.services.audit import audit
from moorage.services.environments import find_environment

router = APIRouter(tags=["environments"])


def environment_public(environment: Environment) -> EnvironmentPublic:
    public = EnvironmentPublic.model_validate(environment)
    public.tls = bool(environment.tls_ca_sealed or environment.tls_cert_sealed)
    public.ssh_host_key = environment.ssh_host_key
    return public


KINDS = {"unix:///": "socket", "tcp://": "tcp", "ssh://": "ssh"}


def _kind_of(url: str) -> str:
    """``socket``, ``tcp`` or ``ssh`` from the URL's scheme. Raises InvalidInput."""
    for prefix, kind in KINDS.items():
        if url.startswith(prefix):
            if kind == "ssh":
                parse_ssh_url(url)
            return kind
    raise InvalidInput(
        "url must be unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port]",
        field="url",
    )


async def _set_ssh(environment: Environment, context, body, *, pin: bool) -> None:
    """Seal the SSH key and, when ``pin``, pin the host key the server presents now."""
    if environment.kind != "ssh":
        return
    if body.ssh_private_key is not None:
        text = body.ssh_private_key.get_secret_value()
        try:
            asyncssh.import_private_key(text)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise InvalidInput(
                f"ssh_private_key is not a private key ({exc})", field="ssh_private_key"
            ) from exc
        environment.ssh_key_sealed = context.keyring.seal(text, SSH_KEY_CONTEXT)
    if not environment.ssh_key_sealed:
        raise InvalidInput("an ssh:// environment needs ssh_private_key", field="ssh_private_key")
    if pin or not environment.ssh_host_key:
        environment.ssh_host_key = await fetch_host_key(parse_ssh_url(environment.url))


def _seal_tls(environment: Environment, context, body) -> None:
    keyring = context.keyring
    if body.tls_ca is not None:
        environment.tls_ca_sealed = keyring.seal(body.tls_ca.get_secret_value(), CA_CONTEXT)
    if body.tls_cert is not None:
        environment.tls_cert_sealed = keyring.seal(body.tls_cert.get_secret_value(), CERT_CONTEXT)
    if body.tls_key is not None:
        environment.tls_key_sealed = keyring.seal(body.tls_key.get_secret_value(), KEY_CONTEXT)
    if bool(environment.tls_cert_sealed) != bool(environment.tls_key_sealed):
        raise InvalidInput("give tls_cert and tls_key together", field="tls_key")


# -- environments -------------------------------------------------------------------


@router.get("/environments", response_model=list[EnvironmentPublic])
async def list_environments(db: DbDep, user: User = Operator):
    rows = await db.scalars(
        select(Environment)
        .where(Environment.org_id == user.org_id)
        .order_by(Environment.created_at)
    )
    return [environment_public(row) for row in rows]


@router.post("/environments", status_code=201, response_model=EnvironmentPublic)
async def add_environment(
    body: EnvironmentCreate,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
):
    """Add an environment and test the connection at once: the answer carries its status
    (``unreachable`` with the error when the test fails; it is kept and retried)."""
    if await db.scalar(select(Environment.id).where(Environment.name == body.name)):
        raise Conflict(f"an environment named {body.name!r} exists", code="environment_exists")
    environment = Environment(
        org_id=user.org_id, name=body.name, url=body.url, kind=_kind_of(body.url)
    )
    _seal_tls(environment, context, body)
    await _set_ssh(environment, context, body, pin=True)
    db.add(environment)
    await db.commit()
    checked = await context.environment_status.check(environment)
    await audit(
        context.sessionmaker, request, user, "environment.add", "environment", environment.name
    )
    return environment_public(checked)


@router.get("/environments/{env}", response_model=EnvironmentPublic)
async def get_environment(env: str, db: DbDep, user: User = Operator):
    return environment_public(await find_environment(db, user.org_id, env))


@router.patch("/environments/{env}", response_model=EnvironmentPublic)
async def update_environment(
    env: str,
    body: EnvironmentUpdate,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
):
    """Change the address, TLS material or SSH key; the connection is tested again. A
    new SSH address, or ``reset_host_key``, pins the host key presented now."""
    environment = await find_environment(db, user.org_id, env)
    moved = body.url is not None and body.url != environment.url
    if body.url is not None:
        environment.kind = _kind_of(body.url)
        environment.url = body.url
    _seal_tls(environment, context, body)
    await _set_ssh(environment, context, body, pin=moved or body.reset_host_key)
    await db.commit()
    await context.drivers.invalidate(environment.id)
    checked = await context.environment_status.check(environment)
    await audit(
        context.sessionmaker, request, user, "environment.update", "environment", environment.name
    )
    return environment_public(checked)


@router.delete("/environments/{env}", status_code=204)
async def remove_environment(
    env: str, request: Request, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Forget an environment (its containers are left alone). 409 while sessions ran there."""
    environment = await find_environment(db, user.org_id, env)
    if await db.scalar(
        select(WorkspaceSession.id)
        .where(WorkspaceSession.environment_id == environment.id)
        .limit(1)
    ):
        raise Conflict(
            f"sessions have run on {environment.name}; it cannot be removed",
            code="environment_in_use",
        )
    await db.delete(environment)
    await db.commit()
    await context.drivers.invalidate(environment.id)
    await audit(context.sessionmaker, request, user, "environment.remove", "environment", env)
    return Response(status_code=204)


# -- audit -----------------------------------------------------------------------------


@router.get("/audit")
async def list_audit(
    db: DbDep,
    admin: AdminUser,
    limit: int = 200,
    action: str | None = None,
    username: str | None = None,
) -> list[dict[str, Any]]:
    """Admins: the newest audit events first (``limit`` ≤ 1000), filtered by ``action``
    prefix and ``username``."""
    query = select(AuditEvent).where(AuditEvent.org_id == admin.org_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if username:
        query = query.where(AuditEvent.username == username)
    rows = await db.scalars(query.order_by(AuditEvent.at.desc()).limit(max(1, min(limit, 1000))))
    return [
        {
            "at": row.at,
            "username": row.username,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "environment": row.environment,
            "source": row.source,
            "detail": row.detail,
        }
        for row in rows
    ]


__all__ = ["router"]
