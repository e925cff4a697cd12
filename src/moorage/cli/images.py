"""``moorage images build|pull|bootstrap-base``: the workspace images under images/
(:mod:`moorage.images`) and pulls into the local engine."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(help="Workspace images under images/.", no_args_is_help=True)


@app.command("build")
def build(
    names: Annotated[
        list[str] | None, typer.Argument(help="Images to build (default: all).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild images that exist.")] = False,
) -> None:
    """Build the workspace images under images/ (bootstrapping the base when needed)."""
    from moorage import images

    try:
        built = asyncio.run(images.build_images(names or None, force=force))
    except images.ImageBuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("images ready: " + ", ".join(built))


@app.command("pull")
def pull(
    image: Annotated[str, typer.Argument(help="Image reference, e.g. debian:bookworm.")],
    docker_url: Annotated[
        str, typer.Option(envvar="MOORAGE_DOCKER_URL", help="Docker endpoint.")
    ] = "unix:///var/run/docker.sock",
) -> None:
    """Pull IMAGE into the local engine with a progress bar per layer."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

    from moorage.drivers.docker import DockerDriver, docker_client
    from moorage.drivers.docker.images import pull_image
    from moorage.errors import MoorageError

    async def go() -> None:
        driver = DockerDriver(docker_client(docker_url, 30), docker_url)
        try:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), transient=False
            ) as progress:
                tasks: dict[str, TaskID] = {}
                async for message in pull_image(driver, image):
                    layer = message.get("id")
                    detail = message.get("progressDetail") or {}
                    if not layer:
                        progress.console.print(message.get("status", ""))
                        continue
                    if layer not in tasks:
                        tasks[layer] = progress.add_task(layer, total=None)
                    progress.update(
                        tasks[layer],
                        description=f"{layer} {message.get('status')}",
                        completed=detail.get("current"),
                        total=detail.get("total"),
                    )
        finally:
            await driver.close()

    try:
        asyncio.run(go())
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command("bootstrap-base")
def bootstrap_base(
    force: Annotated[bool, typer.Option(help="Rebuild the base when it exists.")] = False,
) -> None:
    """Make the Debian base image with mmdebstrap and `docker import` (no registry needed)."""
    from moorage import images

    try:
        tag = asyncio.run(images.bootstrap_base(force=force))
    except images.ImageBuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"base image: {tag}")
