"""What isolates one workspace container on a Docker engine: its own network, and
its secret delivered through a file on a tmpfs instead of its environment.

Used by :class:`~moorage.drivers.docker.driver.DockerDriver` only. Every session
gets a user-defined bridge named like its container: Docker's isolation rules
drop traffic between two bridges, so a workspace cannot open a connection to
another's ports, while outbound traffic, NAT and the embedded DNS server work as
on the default bridge. Ports published on the publish address are unaffected.

Errors are translated as in :mod:`._errors` (RuntimeUnavailable, NotFound, Conflict).
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from typing import TYPE_CHECKING, Any

from aiodocker.networks import DockerNetwork

from moorage.drivers.base import SECRET_FILE, WorkspaceNetwork, WorkspaceSpec
from moorage.drivers.docker._errors import translated
from moorage.errors import Conflict, NotFound, RuntimeUnavailable

if TYPE_CHECKING:
    import aiodocker

    from moorage.drivers.docker.driver import DockerDriver

__all__ = [
    "SECRET_TMPFS",
    "deliver_secret",
    "ensure_network",
    "isolation_config",
    "list_labelled_networks",
    "remove_network",
]

SECRET_TMPFS = posixpath.dirname(SECRET_FILE)
"""``/run/moorage``: a small tmpfs (never on disk, gone with the container)."""

# Sticky and world-writable, like /tmp: the secret is written as the image's user
# (root for sshd and xrdp, ``user`` for the desktop and Jupyter), mode 0600.
TMPFS_OPTIONS = "rw,nosuid,nodev,noexec,size=64k,mode=1777"


def isolation_config(spec: WorkspaceSpec) -> dict[str, Any]:
    """The parts of a ``ContainerConfig`` that isolate ``spec``'s container:
    ``Env`` additions and ``HostConfig`` additions (``NetworkMode``, ``Tmpfs``)."""
    env = [f"{key}={value}" for key, value in spec.env.items()]
    host: dict[str, Any] = {"NetworkMode": spec.name}
    if spec.secret is not None:
        env.append(f"MOORAGE_SECRET_FILE={SECRET_FILE}")
        host["Tmpfs"] = {SECRET_TMPFS: TMPFS_OPTIONS}
    return {"Env": env, "HostConfig": host}


async def ensure_network(driver: DockerDriver, name: str, labels: dict[str, str]) -> str:
    """The id of the bridge network ``name``, created with ``labels`` unless it exists
    (idempotent: a retried launch reuses it)."""
    config = {"Name": name, "Driver": "bridge", "Labels": labels, "CheckDuplicate": True}
    try:
        async with translated(driver.endpoint, f"create the network {name}"):
            network = await driver.client.networks.create(config)
        return str(network.id)
    except Conflict:
        async with translated(driver.endpoint, f"inspect the network {name}"):
            raw = await DockerNetwork(driver.client, name).show()
        return str(raw["Id"])


async def remove_network(driver: DockerDriver, ref: str) -> None:
    """Remove the network ``ref`` (id or name), disconnecting any container still
    attached (force). Idempotent: a missing network is success."""
    network = DockerNetwork(driver.client, ref)
    try:
        async with translated(driver.endpoint, f"inspect the network {ref}"):
            raw = await network.show()
        for container_id in raw.get("Containers") or {}:
            try:
                async with translated(driver.endpoint, f"disconnect from the network {ref}"):
                    await network.disconnect({"Container": container_id, "Force": True})
            except (NotFound, Conflict):
                pass  # gone meanwhile
        async with translated(driver.endpoint, f"remove the network {ref}"):
            await network.delete()
    except NotFound:
        return


async def list_labelled_networks(driver: DockerDriver, label: str) -> list[WorkspaceNetwork]:
    """Networks carrying the label key ``label``."""
    async with translated(driver.endpoint, "list networks"):
        raw = await driver.client.networks.list(filters={"label": [label]})
    return [
        WorkspaceNetwork(id=n["Id"], name=n["Name"], labels=dict(n.get("Labels") or {}))
        for n in raw
    ]


async def deliver_secret(
    driver: DockerDriver, container: aiodocker.containers.DockerContainer, secret: str
) -> None:
    """Write ``secret`` to :data:`SECRET_FILE` in the running container.

    A ``docker exec`` as the image's user reads it from standard input (so it
    appears in no command line, environment or ``docker inspect``) and renames it
    into place, so the entrypoint never reads half a secret.

    Raises:
        RuntimeUnavailable: the exec failed (the container stopped, no shell).
    """
    data = secret.encode()
    partial = f"{SECRET_TMPFS}/.secret.partial"
    script = (
        f"umask 077 && head -c {len(data)} > {partial} && "
        f"mv -f {partial} {shlex.quote(SECRET_FILE)}"
    )
    async with translated(driver.endpoint, "give the container its secret"):
        exec_ = await container.exec(["sh", "-c", script], stdin=True, stdout=True, stderr=True)
        output = b""
        async with exec_.start(detach=False) as stream:
            await stream.write_in(data)
            while (message := await stream.read_out()) is not None:
                output += message.data
        info = await exec_.inspect()
        for _ in range(50):  # the stream may close a moment before the exec is reaped
            if not info.get("Running"):
                break
            await asyncio.sleep(0.02)
            info = await exec_.inspect()
    if info.get("ExitCode") != 0:
        raise RuntimeUnavailable(
            f"could not give the container its secret (exit {info.get('ExitCode')}: "
            f"{output.decode(errors='replace').strip()[:200]})"
        )
