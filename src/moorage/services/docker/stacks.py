"""Compose stacks of an environment (operators): list, create, update, show, logs,
adopt, forget, and the actions deploy, stop, start, down. Changes are audited as
``stack.<verb>``. Compose itself runs in :mod:`moorage.drivers.docker.compose`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.drivers.docker import containers
from moorage.drivers.docker.compose import (
    StackFiles,
    compose,
    services_of,
    stack_dir,
    write_files,
)
from moorage.drivers.pool import DriverPool
from moorage.errors import InvalidInput, NotFound, RuntimeUnavailable
from moorage.models.environment import Environment
from moorage.services.docker._operation import Caller, DockerService
from moorage.services.docker.host_access import (
    compose_file_references,
    compose_host_reach,
    refuse,
)

__all__ = ["PROJECT_LABEL", "StackService", "check_stack_folder"]

PROJECT_LABEL = "com.docker.compose.project"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
ACTIONS = {
    "deploy": ["up", "--detach", "--remove-orphans"],
    "stop": ["stop"],
    "start": ["start"],
}


async def check_stack_folder(environment: Environment, files: StackFiles, name: str) -> None:
    """Refuse a stack whose files reach outside their folder or, unless the
    environment has ``allow_host_access``, into the host (see
    :mod:`moorage.services.docker.host_access`). The Compose file is read as
    written (PyYAML) for file references, then as Compose resolves it
    (``docker-compose config --format json``) for host reach.

    Raises:
        InvalidInput: naming the offending key (``services.web.privileged``), or a
            compose file that is not YAML (field ``compose``).
    """
    import yaml  # heavy: only when a stack is checked

    root = str(files.root.absolute())  # as Compose makes paths absolute
    try:
        raw = yaml.safe_load(files.compose_file.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the compose file is not YAML: {exc}", field="compose") from exc
    refuse(compose_file_references(raw, root))
    if environment.allow_host_access:
        return
    try:
        output = await compose(environment, files, name, "config", "--format", "json")
    except RuntimeUnavailable:
        return  # not valid Compose: write_files reports Compose's own message
    # Compose's warnings (an unset variable) come first in the merged output.
    start = output.find("\n{") + 1 if not output.startswith("{") else 0
    refuse(compose_host_reach(json.loads(output[start:]), root))


async def _check_new_files(
    environment: Environment, files: StackFiles, name: str, compose_yaml: str, env_text: str
) -> None:
    """:func:`check_stack_folder` on the files about to be written, staged next to
    the stack's folder so relative paths mean the same."""
    staging = files.root.with_name(f".{name}.check")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / "compose.yaml").write_text(compose_yaml)
        if env_text:
            (staging / ".env").write_text(env_text)
        await check_stack_folder(environment, StackFiles(staging), name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class StackService(DockerService):
    """Stacks, their files kept under ``<data-dir>/stacks/<environment>/<name>/``.
    Every method raises Forbidden below operator, NotFound for an unknown environment
    or stack, InvalidInput for a bad name or compose file, RuntimeUnavailable when
    Compose or the engine fails.

    Args:
        data_dir: the process's data directory.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drivers: DriverPool,
        data_dir: Path,
    ) -> None:
        super().__init__(sessionmaker, drivers)
        self._data_dir = data_dir

    async def list_stacks(self, caller: Caller, env: str) -> list[dict[str, Any]]:
        """Managed stacks (files here) and stacks started elsewhere (from Compose's
        labels): ``[{name, managed, containers, running}]`` by name."""
        target = await self.target(caller, env)
        labelled = await containers.list_containers(target.driver, label=PROJECT_LABEL)
        found: dict[str, dict[str, Any]] = {}
        root = self._data_dir / "stacks" / target.environment.name
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / "compose.yaml").is_file():
                    found[folder.name] = {
                        "name": folder.name,
                        "managed": True,
                        "containers": 0,
                        "running": 0,
                    }
        for container in labelled:
            project = container["labels"].get(PROJECT_LABEL)
            row = found.setdefault(
                project, {"name": project, "managed": False, "containers": 0, "running": 0}
            )
            row["containers"] += 1
            row["running"] += container["state"] == "running"
        return sorted(found.values(), key=lambda row: row["name"])

    async def create(
        self, caller: Caller, env: str, name: str, compose_yaml: str, env_text: str
    ) -> None:
        """Store a new stack's files once ``docker-compose config`` accepts them
        (Conflict when it exists); deploy it next."""
        async with self.operation(caller, env, "stack.create", name) as op:
            files = stack_dir(self._data_dir, op.environment, name)
            await _check_new_files(op.environment, files, name, compose_yaml, env_text)
            await write_files(op.environment, files, name, compose_yaml, env_text, create=True)

    async def update(
        self, caller: Caller, env: str, name: str, compose_yaml: str, env_text: str
    ) -> None:
        """Replace the stack's files; a redeploy applies them."""
        async with self.operation(caller, env, "stack.update", name) as op:
            files = stack_dir(self._data_dir, op.environment, name)
            await _check_new_files(op.environment, files, name, compose_yaml, env_text)
            await write_files(op.environment, files, name, compose_yaml, env_text, create=False)

    async def get(self, caller: Caller, env: str, name: str) -> dict[str, Any]:
        """``{name, compose, env, services}`` of a managed stack (``docker-compose ps``)."""
        target = await self.target(caller, env)
        files = stack_dir(self._data_dir, target.environment, name)
        output = await compose(target.environment, files, name, "ps", "--all", "--format", "json")
        return {
            "name": name,
            "compose": files.compose_file.read_text(),
            "env": files.env_file.read_text() if files.env_file.is_file() else "",
            "services": services_of(output),
        }

    async def logs(
        self, caller: Caller, env: str, name: str, *, service: str | None, tail: int
    ) -> str:
        """The services' logs (``docker-compose logs``; ``tail`` clamped to 1…10000)."""
        target = await self.target(caller, env)
        files = stack_dir(self._data_dir, target.environment, name)
        args = ["logs", "--no-color", "--tail", str(max(1, min(tail, 10_000)))]
        if service:
            args.append(service)
        return await compose(target.environment, files, name, *args)

    async def adopt(self, caller: Caller, env: str, name: str) -> None:
        """Take over a stack started outside Moorage: copy its compose file (from
        Compose's ``config_files`` label) and ``.env`` here.

        Raises:
            NotFound: no such project runs. InvalidInput: its files cannot be read here.
        """
        async with self.operation(caller, env, "stack.adopt", name) as op:
            found = await containers.list_containers(op.driver, label=f"{PROJECT_LABEL}={name}")
            if not found:
                raise NotFound(
                    f"no stack named {name!r} runs on {op.environment.name}",
                    code="stack_not_found",
                )
            config = found[0]["labels"].get(CONFIG_FILES_LABEL, "")
            sources = [Path(p) for p in config.split(",") if p]
            if len(sources) != 1 or not sources[0].is_file():
                raise InvalidInput(
                    f"the compose file of {name} ({config or 'unknown'}) cannot be read "
                    "here; create the stack with its files instead",
                    field="name",
                )
            files = stack_dir(self._data_dir, op.environment, name)
            env_source = sources[0].parent / ".env"
            env_text = env_source.read_text() if env_source.is_file() else ""
            compose_yaml = sources[0].read_text()
            await _check_new_files(op.environment, files, name, compose_yaml, env_text)
            await write_files(op.environment, files, name, compose_yaml, env_text, create=True)

    async def forget(self, caller: Caller, env: str, name: str) -> None:
        """Delete a stack's files (its containers stay: take it ``down`` first)."""
        async with self.operation(caller, env, "stack.forget", name) as op:
            files = stack_dir(self._data_dir, op.environment, name)
            if not files.root.exists():
                raise NotFound(
                    f"no stack named {name!r} on {op.environment.name}", code="stack_not_found"
                )
            shutil.rmtree(files.root)

    async def act(
        self,
        caller: Caller,
        env: str,
        name: str,
        action: str,
        *,
        pull: bool = False,
        volumes: bool = False,
    ) -> str:
        """``deploy`` (``up -d``; ``pull`` pulls images first), ``stop``, ``start`` or
        ``down`` (``volumes`` removes its volumes too); returns Compose's output."""
        async with self.operation(caller, env, f"stack.{action}", name) as op:
            files = stack_dir(self._data_dir, op.environment, name)
            if action == "down":
                args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
            elif action in ACTIONS:
                if action == "deploy":  # host access may have been turned off since
                    await check_stack_folder(op.environment, files, name)
                pulling = ["--pull", "always"] if action == "deploy" and pull else []
                args = ACTIONS[action] + pulling
            else:
                raise InvalidInput(
                    f"unknown action {action!r}; use deploy, stop, start or down", field="action"
                )
            return await compose(op.environment, files, name, *args)
