"""Workspace images: ``moorage images build`` and ``moorage images bootstrap-base``.

The shell scripts under ``scripts/`` and ``images/base/`` are the one
implementation (they also run before the Python environment exists, from
``make``); these functions run them with ``asyncio.create_subprocess_exec``
(never a shell string) and stream their output line by line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["ImageBuildError", "bootstrap_base", "build_images"]

REPOSITORY = Path(__file__).resolve().parents[2]
BASE_TAG = "moorage/base:bookworm"


class ImageBuildError(Exception):
    """A build step failed; the message names the step and its exit code."""


async def _run(argv: list[str], what: str, output: Callable[[str], None]) -> None:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=REPOSITORY,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except FileNotFoundError as exc:
        raise ImageBuildError(f"{what}: {exc}") from exc
    assert process.stdout is not None
    async for line in process.stdout:
        output(line.decode(errors="replace").rstrip("\n"))
    code = await process.wait()
    if code != 0:
        raise ImageBuildError(f"{what} failed with exit code {code}")


async def bootstrap_base(force: bool = False, *, output: Callable[[str], None] = print) -> str:
    """Make ``moorage/base:bookworm`` with mmdebstrap and ``docker import``.

    Returns:
        The image tag.

    Raises:
        ImageBuildError: mmdebstrap, docker or the script failed.
    """
    argv = ["bash", str(REPOSITORY / "images/base/bootstrap.sh")]
    if force:
        argv.append("--force")
    await _run([*argv, BASE_TAG], "bootstrapping the base image", output)
    return BASE_TAG


async def build_images(
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
    output: Callable[[str], None] = print,
) -> list[str]:
    """Build ``moorage/<name>:latest`` for each ``images/<name>/Dockerfile``
    (all of them when ``names`` is empty), skipping present images unless ``force``.

    Returns:
        The tags asked for.

    Raises:
        ImageBuildError: an unknown name, or a failed build (naming the exit code).
    """
    available = sorted(p.parent.name for p in (REPOSITORY / "images").glob("*/Dockerfile"))
    wanted = list(names or available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise ImageBuildError(f"no image named {', '.join(unknown)}; known: {', '.join(available)}")
    argv = ["bash", str(REPOSITORY / "scripts/build-images.sh")]
    if force:
        argv.append("--force")
    await _run([*argv, *wanted], f"building {', '.join(wanted)}", output)
    return [f"moorage/{name}:latest" for name in wanted]
