"""Stacks from Git: check now, approve a held commit (operators), and the signed
webhook Git hosts call (no login: the HMAC signature is the proof)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.errors import PayloadTooLarge
from moorage.models.user import Role
from moorage.schemas.docker_objects import GitApproval
from moorage.security.access import Allow, Public
from moorage.services.audit import client_address
from moorage.services.docker.git_stacks import MAX_WEBHOOK_BYTES

router = APIRouter(tags=["stacks"])


@router.post(
    "/environments/{env}/stacks/{name}/git/check",
    status_code=202,
    dependencies=[Allow(Role.OPERATOR)],
)
async def check_git_stack(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Fetch the stack's ref now and deploy a new commit as its policy says, in the
    background; the stack's ``git.checked_at``, ``git.check`` and ``git.error`` tell
    the outcome. 404 for a stack that does not come from Git."""
    await docker.git_stacks.check_now(caller, env, name)
    return {"status": "accepted"}


@router.post(
    "/environments/{env}/stacks/{name}/git/approve",
    status_code=202,
    dependencies=[Allow(Role.OPERATOR)],
)
async def approve_git_commit(
    env: str, name: str, body: GitApproval, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Deploy the commit held for approval (policy ``confirm``), in the background.
    409 ``not_pending`` when ``commit`` is not the one waiting."""
    await docker.git_stacks.approve(caller, env, name, body.commit)
    return {"status": "accepted"}


@router.post("/stacks/webhooks/{stack_id}", status_code=202, dependencies=[Public])
async def stack_webhook(stack_id: str, request: Request, docker: DockerDep) -> JSONResponse:
    """A push notification from GitHub (``X-Hub-Signature-256``), Gitea/Forgejo
    (``X-Gitea-Signature``) or GitLab (``X-Gitlab-Token``), signed with the stack's
    webhook secret. Answers 202 at once and syncs the stack in the background; 401 for a
    missing or wrong signature, 404 for an unknown stack, 413 over 25 MB."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge("a webhook payload is at most 25 MB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge("a webhook payload is at most 25 MB")
    kind = await docker.git_stacks.webhook(
        stack_id, request.headers, bytes(body), client_address(request)
    )
    return JSONResponse({"status": "accepted", "format": kind}, status_code=202)
