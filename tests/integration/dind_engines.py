"""Docker engines in containers (Docker-in-Docker), for tests that need several real
engines on one machine (issue 15, "Many Docker hosts").

Each engine is Debian's ``dockerd`` in a container of the image that
``tests/integration/dind/Dockerfile`` builds on the local Debian base. It listens
only on a Unix socket in a temporary folder of this machine, bind-mounted at
``/var/run/dind``: Moorage reaches it as ``unix://<folder>/docker.sock``, as it
would a second engine on the host. The containers sit on an internal Docker network
of their own, so neither they nor the workspaces they run reach anything outside.

Why not ``--privileged``: Docker then gives the container every capability the
kernel knows, and where the engine's own bounding set lacks one (CAP_SYS_RESOURCE
on the virtual machine these tests were written on) runc cannot start it ("unable
to apply caps"). The engine gets every capability but that one instead, no seccomp
or AppArmor profile and an unmasked ``/proc``; its entrypoint makes its own cgroups
writable. That works where ``--privileged`` would too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import httpx
import pytest

from tests.databases import fresh_database
from tests.live_server import Server

__all__ = [
    "Engine",
    "build_image",
    "load_image",
    "own_server",
    "release_all",
    "remove_engines",
    "start_engine_in",
    "start_engines",
]

CONTEXT = Path(__file__).parent / "dind"
TEST_LABEL = {"moorage.test": "dind"}
# Where scripts/build-images.sh builds the workspace images: Debian's own image when
# the machine has it, else the base images/base/bootstrap.sh makes with mmdebstrap.
BASES = ("debian:bookworm-slim", "moorage/base:bookworm")
START_TIMEOUT_SECONDS = 60


@dataclass
class Engine:
    """One running engine: its name (the container's host name), the host folder
    holding its socket, its container on the host engine and a client of it."""

    name: str
    socket_dir: Path
    container: aiodocker.containers.DockerContainer
    client: aiodocker.Docker

    @property
    def url(self) -> str:
        """The engine's address for Moorage and aiodocker."""
        return f"unix://{self.socket_dir}/docker.sock"


async def build_image(docker: aiodocker.Docker) -> str:
    """The tag of the engine image, built on the host engine ``docker`` unless an
    image of the same sources and base is there already (the tag names their hash).

    Raises:
        LookupError: no Debian base image is on the host engine (``make test``
            builds one).
        aiodocker.DockerError: the build failed (the message has Docker's error).
    """
    base = await _base_image(docker)
    digest = hashlib.sha256(base.encode())
    for path in sorted(CONTEXT.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    tag = f"moorage-test/dind:{digest.hexdigest()[:16]}"
    try:
        await docker.images.inspect(tag)
        return tag
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            raise
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path in sorted(CONTEXT.iterdir()):
            tar.add(path, arcname=path.name)
    context.seek(0)
    await docker.images.build(
        fileobj=context,
        encoding="identity",
        tag=tag,
        buildargs={"BASE": base},
        labels=TEST_LABEL,
        rm=True,
        forcerm=True,
    )
    return tag


async def _base_image(docker: aiodocker.Docker) -> str:
    for base in BASES:
        try:
            await docker.images.inspect(base)
            return base
        except aiodocker.DockerError:
            continue
    raise LookupError(f"none of the base images {', '.join(BASES)} is built; run `make test`")


async def start_engines(
    docker: aiodocker.Docker, image: str, names: list[str]
) -> tuple[str, list[Engine]]:
    """Start one engine per name on a new internal network; return the network's name
    and the engines once each answers. On failure, what was started is removed.

    Raises:
        RuntimeError: an engine did not answer within a minute (its log is in the
            message).
    """
    network = f"moorage-test-dind-{uuid.uuid4().hex[:8]}"
    await docker.networks.create({"Name": network, "Internal": True, "Labels": TEST_LABEL})
    engines: list[Engine] = []
    try:
        for name in names:
            engines.append(await _start_engine(docker, image, network, name))
        await asyncio.gather(*(_wait_until_up(engine) for engine in engines))
    except BaseException:
        await remove_engines(docker, network, engines)
        raise
    return network, engines


async def start_engine_in(
    docker: aiodocker.Docker, image: str, network_mode: str, name: str, socket_dir: Path
) -> Engine:
    """One engine in ``network_mode`` (``container:<id>``: sharing another container's
    network namespace, so that its loopback is the engine's), its socket in
    ``socket_dir``; returned once it answers. On failure its container is removed.

    Raises:
        RuntimeError: the engine did not answer within a minute.
    """
    engine = await _start_engine(docker, image, network_mode, name, socket_dir)
    try:
        await _wait_until_up(engine)
    except BaseException:
        await remove_engines(docker, None, [engine])
        raise
    return engine


async def _start_engine(
    docker: aiodocker.Docker,
    image: str,
    network: str,
    name: str,
    socket_dir: Path | None = None,
) -> Engine:
    # /tmp keeps the socket's path well under the 108 bytes a Unix socket address holds.
    socket_dir = socket_dir or Path(tempfile.mkdtemp(prefix=f"moorage-dind-{name}-"))
    try:
        container = await docker.containers.run(
            name=f"{network.replace(':', '-')}-{name}",
            config={
                "Image": image,
                **({} if network.startswith("container:") else {"Hostname": name}),
                "Labels": TEST_LABEL,
                "HostConfig": {
                    "Init": True,  # reaps what dockerd's children leave
                    "CapAdd": ["ALL"],
                    "CapDrop": ["SYS_RESOURCE"],  # the module docstring says why
                    "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
                    "MaskedPaths": [],
                    "ReadonlyPaths": [],
                    "Binds": [f"{socket_dir}:/var/run/dind"],
                    "NetworkMode": network,
                },
            },
        )
    except BaseException:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    client = aiodocker.Docker(url=f"unix://{socket_dir}/docker.sock")
    return Engine(name, socket_dir, container, client)


async def _wait_until_up(engine: Engine) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_SECONDS
    while loop.time() < deadline:
        if (engine.socket_dir / "docker.sock").exists():
            try:
                await engine.client.version()
                return
            except (aiodocker.DockerError, OSError):
                pass
        if not (await engine.container.show())["State"]["Running"]:
            break
        await asyncio.sleep(0.2)
    log = "".join(await engine.container.log(stdout=True, stderr=True, tail=30))
    raise RuntimeError(f"the engine {engine.name} did not answer:\n{log}")


async def load_image(docker: aiodocker.Docker, engines: list[Engine], image: str) -> None:
    """Copy ``image`` from the host engine into each engine: ``docker save`` piped into
    ``docker load``, the archive read once and sent to all at once."""
    async with docker.images.export_image(image) as archive:
        data = await archive.read()
    await asyncio.gather(*(engine.client.images.import_image(data) for engine in engines))
    for engine in engines:
        await engine.client.images.inspect(image)  # raises when the load failed


async def remove_engines(
    docker: aiodocker.Docker, network: str | None, engines: list[Engine]
) -> None:
    """Remove the engines' containers with their data volumes (what ran inside goes
    with them), their network and socket folders. Idempotent; never raises for
    what is already gone."""
    failures: list[aiodocker.DockerError] = []
    for engine in engines:
        await engine.client.close()
        try:
            await engine.container.delete(force=True, v=True)
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                failures.append(exc)
        shutil.rmtree(engine.socket_dir, ignore_errors=True)
    try:
        if network is not None:
            await (await docker.networks.get(network)).delete()
    except aiodocker.DockerError as exc:
        if exc.status != 404:
            failures.append(exc)
    if failures:
        raise failures[0]


@contextlib.asynccontextmanager
async def own_server(
    tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """A ``moorage serve`` of the calling module's own, on a fresh database: tests over
    these engines add environments that cannot be removed once sessions ran there.
    Its live sessions are released before it stops (the engines go after it)."""
    async with fresh_database(tmp_path_factory.mktemp("db")) as url:
        instance = Server(tmp_path_factory.mktemp("data"), url, extra_env=extra_env or {})
        instance.start()
        try:
            yield instance
        finally:
            client = await instance.login()
            try:
                await release_all(client)
            finally:
                await client.aclose()
                instance.stop()


async def release_all(client: httpx.AsyncClient) -> list[httpx.Response]:
    """Release every live session the server holds (an admin's ``client``)."""
    live = (await client.get("/api/v1/sessions?all=true&live=true")).json()
    return await asyncio.gather(*(client.delete(f"/api/v1/sessions/{row['id']}") for row in live))
