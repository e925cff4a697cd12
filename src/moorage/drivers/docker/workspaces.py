"""What isolates one workspace container on a Docker engine: a shared bridge on
which containers cannot talk to each other, and its secret delivered through a
file on a tmpfs instead of its environment.

Used by :class:`~moorage.drivers.docker.driver.DockerDriver` only. Every workspace
of an engine joins ONE user-defined bridge, :data:`WORKSPACES_NETWORK`, created on
demand with inter-container communication disabled
(``com.docker.network.bridge.enable_icc=false``):

- A network per session would exhaust Docker's default address pools (about 31
  bridges per engine), capping an engine at ~30 concurrent sessions; one bridge
  holds thousands of containers.
- With ICC off the engine's firewall drops traffic between two containers on the
  bridge, so a workspace cannot open a connection to another's ports (a
  container still reaches its own address, which never crosses the bridge).
  Outbound traffic and NAT work as on the default bridge.
- Ports published on the publish address still work: the gateway connects from
  the host, not from the bridge.
- Names resolve through Docker's embedded DNS server (``127.0.0.11``) of
  user-defined networks.

The bridge carries the label ``moorage.workspaces=1``, never ``moorage.session``:
the reconciler's sweep, which removes networks labelled ``moorage.session`` whose
session is not live (left behind by versions that gave each session its own
bridge), never touches it. A network of that name whose ICC is not off is refused,
never used.

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
    "ICC_OPTION",
    "SECRET_TMPFS",
    "WORKSPACES_LABEL",
    "WORKSPACES_NETWORK",
    "deliver_secret",
    "ensure_workspaces_network",
    "exec_with_input",
    "isolation_config",
    "list_labelled_networks",
    "remove_network",
]

WORKSPACES_NETWORK = "moorage-workspaces"
"""The name of the bridge every workspace of an engine joins."""

WORKSPACES_LABEL = "moorage.workspaces"
"""The label key (value ``"1"``) of :data:`WORKSPACES_NETWORK`."""

ICC_OPTION = "com.docker.network.bridge.enable_icc"
"""The bridge driver option that, set to ``"false"``, drops traffic between its containers."""

SECRET_TMPFS = posixpath.dirname(SECRET_FILE)
"""``/run/moorage``: a small tmpfs (never on disk, gone with the container)."""

# Sticky and world-writable, like /tmp: the secret is written as the image's user
# (root for sshd and xrdp, ``user`` for the desktop and Jupyter), mode 0600.
TMPFS_OPTIONS = "rw,nosuid,nodev,noexec,size=64k,mode=1777"


def isolation_config(spec: WorkspaceSpec, network_id: str) -> dict[str, Any]:
    """The parts of a ``ContainerConfig`` that isolate ``spec``'s container on the
    workspaces bridge ``network_id`` (see :func:`ensure_workspaces_network`):
    ``Env`` additions and ``HostConfig`` additions (``NetworkMode``, ``Tmpfs``)."""
    env = [f"{key}={value}" for key, value in spec.env.items()]
    host: dict[str, Any] = {"NetworkMode": network_id}
    if spec.secret is not None:
        env.append(f"MOORAGE_SECRET_FILE={SECRET_FILE}")
        host["Tmpfs"] = {SECRET_TMPFS: TMPFS_OPTIONS}
    return {"Env": env, "HostConfig": host}


async def ensure_workspaces_network(driver: DockerDriver) -> str:
    """The id of :data:`WORKSPACES_NETWORK`, created unless it exists.

    Race-safe: when another launch (or another Moorage process) creates it first,
    the 409 is answered by looking it up.

    Raises:
        RuntimeUnavailable: Docker fails, or the existing network of that name is
            not a bridge with inter-container communication disabled (it would let
            workspaces reach each other; remove it with ``docker network rm``).
    """
    config = {
        "Name": WORKSPACES_NETWORK,
        "Driver": "bridge",
        "Labels": {WORKSPACES_LABEL: "1"},
        "Options": {ICC_OPTION: "false"},
        "CheckDuplicate": True,
    }
    try:
        async with translated(driver.endpoint, f"create the network {WORKSPACES_NETWORK}"):
            network = await driver.client.networks.create(config)
        return str(network.id)
    except Conflict:
        pass  # it exists (perhaps created a moment ago by a concurrent launch)
    async with translated(driver.endpoint, f"inspect the network {WORKSPACES_NETWORK}"):
        raw = await DockerNetwork(driver.client, WORKSPACES_NETWORK).show()
    options = raw.get("Options") or {}
    if raw.get("Driver") != "bridge" or options.get(ICC_OPTION) != "false":
        raise RuntimeUnavailable(
            f"the network {WORKSPACES_NETWORK} on Docker at {driver.endpoint} lets its "
            f"containers reach each other (driver {raw.get('Driver')!r}, {ICC_OPTION}="
            f"{options.get(ICC_OPTION)!r}); refusing to start workspaces on it. Remove it "
            f"(`docker network rm {WORKSPACES_NETWORK}`) and Moorage recreates it with "
            f"{ICC_OPTION}=false."
        )
    return str(raw["Id"])


async def remove_network(driver: DockerDriver, ref: str) -> None:
    """Remove the network ``ref`` (id or name), disconnecting any container still
    attached (force). Idempotent: a missing network is success. Used by the
    reconciler's sweep of per-session bridges left by earlier versions."""
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
    await exec_with_input(
        driver, container, ["sh", "-c", script], "", data, "give the container its secret"
    )


async def exec_with_input(
    driver: DockerDriver,
    container: aiodocker.containers.DockerContainer,
    command: list[str],
    user: str,
    data: bytes,
    what: str,
) -> None:
    """Run ``command`` as ``user`` (the image's when empty) with ``data`` on standard
    input and wait for its exit; ``what`` names the step in errors.

    Raises:
        NotFound: no such container. RuntimeUnavailable: the exec failed or exited
        non-zero (its exit code and output in the message).
    """
    async with translated(driver.endpoint, what):
        exec_ = await container.exec(command, stdin=True, stdout=True, stderr=True, user=user or "")
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
            f"could not {what} (exit {info.get('ExitCode')}: "
            f"{output.decode(errors='replace').strip()[:200]})"
        )
