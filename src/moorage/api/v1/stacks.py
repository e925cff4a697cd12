"""Compose stacks of an environment (operators): create, deploy, stop, start, down,
services, logs, adopt. The Docker services check the role and write the audit log."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from moorage.api.v1._docker import DockerDep, OperatorCaller
from moorage.errors import Conflict, NotFound
from moorage.models.user import Role
from moorage.schemas.docker_objects import StackCreate, StackFiles
from moorage.security.access import Allow

router = APIRouter(tags=["stacks"])


@router.get("/environments/{env}/stacks", dependencies=[Allow(Role.OPERATOR)])
async def list_stacks(env: str, docker: DockerDep, caller: OperatorCaller) -> list[dict[str, Any]]:
    """Managed stacks (files here) and stacks started elsewhere (from Compose's labels):
    ``[{name, managed, git, containers, running}]`` (``git``: it comes from a repository)."""
    rows = await docker.stacks.list_stacks(caller, env)
    from_git = await docker.git_stacks.names(caller, env)
    return [{**row, "git": row["name"] in from_git} for row in rows]


@router.post("/environments/{env}/stacks", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_stack(
    env: str, body: StackCreate, request: Request, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """Store a stack's files (checked with ``docker-compose config``); deploy it next.

    With ``git`` instead of ``compose``: fetch the ref (422 naming ``git.url``,
    ``git.ref`` or ``git.path`` when it cannot be fetched or lacks the file), record
    the stack and deploy it in the background. The answer is then ``{name, git,
    webhook_url, webhook_secret}`` (``git`` as in :func:`get_stack`); the secret is
    shown this once."""
    if body.git is None:
        await docker.stacks.create(caller, env, body.name, body.compose or "", body.env)
        return {"name": body.name}
    git = await docker.git_stacks.create(caller, env, body)
    secret = git.pop("webhook_secret")
    return {
        "name": body.name,
        "git": git,
        "webhook_url": _absolute(request, git["webhook_path"]),
        "webhook_secret": secret,
    }


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


@router.put(
    "/environments/{env}/stacks/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def update_stack(
    env: str, name: str, body: StackFiles, docker: DockerDep, caller: OperatorCaller
) -> Response:
    """Replace the stack's files; redeploy to apply them. 409 ``stack_from_git`` for a
    stack whose files come from Git (push to its repository instead)."""
    if name in await docker.git_stacks.names(caller, env):
        raise Conflict(
            f"the files of {name} come from Git: push to its repository", code="stack_from_git"
        )
    await docker.stacks.update(caller, env, name, body.compose, body.env)
    return Response(status_code=204)


@router.get("/environments/{env}/stacks/{name}", dependencies=[Allow(Role.OPERATOR)])
async def get_stack(
    env: str, name: str, request: Request, docker: DockerDep, caller: OperatorCaller
) -> dict[str, Any]:
    """The files and services (``docker-compose ps``) of a managed stack: ``{name,
    compose, env, services, git}``. ``git`` is null unless the stack comes from a
    repository: ``{url, ref, path, policy, poll_seconds, commit (deployed),
    previous_commit, deployed_at, checked_at, check (the last check's result), error
    (the last error, in full), rolled_back_commit, pending ({commit, compose_diff, env:
    {added, removed, missing}} or null), drift ([what differs]), …}``, and then
    ``webhook_url`` is set too."""
    git = await docker.git_stacks.describe(caller, env, name)
    try:
        stack = await docker.stacks.get(caller, env, name)
    except NotFound:
        if git is None:
            raise
        # Its first deploy has not written the files yet (or failed before).
        stack = {"name": name, "compose": "", "env": "", "services": []}
    stack["git"] = git
    if git is not None:
        stack["webhook_url"] = _absolute(request, git["webhook_path"])
    return stack


@router.get(
    "/environments/{env}/stacks/{name}/logs",
    response_class=PlainTextResponse,
    dependencies=[Allow(Role.OPERATOR)],
)
async def stack_logs(
    env: str,
    name: str,
    docker: DockerDep,
    caller: OperatorCaller,
    service: str | None = None,
    tail: int = 200,
) -> PlainTextResponse:
    """The services' logs (``docker-compose logs``), one service with ``service``."""
    return PlainTextResponse(
        await docker.stacks.logs(caller, env, name, service=service, tail=tail)
    )


@router.post(
    "/environments/{env}/stacks/{name}/adopt", status_code=201, dependencies=[Allow(Role.OPERATOR)]
)
async def adopt_stack(
    env: str, name: str, docker: DockerDep, caller: OperatorCaller
) -> dict[str, str]:
    """Take over a stack started outside Moorage: its compose files (from Compose's
    ``config_files`` label) are copied here, so it can be managed like the others.
    404 when no such project runs; 422 when its files cannot be read here."""
    await docker.stacks.adopt(caller, env, name)
    return {"name": name}


@router.delete(
    "/environments/{env}/stacks/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def forget_stack(env: str, name: str, docker: DockerDep, caller: OperatorCaller) -> Response:
    """Delete a stack's files (take it ``down`` first to remove its containers), and
    its Git source when it has one."""
    if not await docker.git_stacks.forget(caller, env, name):
        await docker.stacks.forget(caller, env, name)
    else:  # a Git stack whose first deploy failed has no files yet
        with contextlib.suppress(NotFound):
            await docker.stacks.forget(caller, env, name)
    return Response(status_code=204)


@router.post("/environments/{env}/stacks/{name}/{action}", dependencies=[Allow(Role.OPERATOR)])
async def stack_action(
    env: str,
    name: str,
    action: str,
    docker: DockerDep,
    caller: OperatorCaller,
    pull: bool = False,
    volumes: bool = False,
) -> dict[str, str]:
    """``deploy`` (``up -d``; ``pull=true`` pulls images first: a redeploy), ``stop``,
    ``start`` or ``down`` (``volumes=true`` also removes its volumes). Returns
    Compose's output."""
    output = await docker.stacks.act(caller, env, name, action, pull=pull, volumes=volumes)
    return {"output": output}
