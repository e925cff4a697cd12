"""Replacing a container by one from another image with the same configuration, waiting
for it to be healthy, and putting the old one back; what image updates do.

The new container gets the old one's name, environment, command, labels, mounts
(anonymous volumes included, so their data stays), ports, networks with their
aliases, restart policy and every other ``HostConfig`` field, as
``GET /containers/{id}/json`` shows them. What the old *image* put in the
container's configuration (its ``ENV``, ``LABEL``, ``CMD``, ``ENTRYPOINT``,
``HEALTHCHECK`` …) is left out, so the new image's values apply: an ``ENV`` the
image changed, or a new healthcheck, is not masked by the old one.

Errors are translated as in :mod:`._errors`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiodocker

from moorage.drivers.docker._errors import translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = [
    "PREVIOUS_SUFFIX",
    "Replacement",
    "clone_config",
    "image_state",
    "replace_container",
    "restore_container",
    "retag",
    "wait_healthy",
]

PREVIOUS_SUFFIX = "-moorage-previous"
"""Added to the old container's name while its replacement is on trial."""

# Config fields a container inherits from its image when they are not given.
_IMAGE_DEFAULTS = ("Cmd", "Entrypoint", "WorkingDir", "User", "Healthcheck", "StopSignal")
_ENDPOINT_FIELDS = ("Aliases", "IPAMConfig", "Links", "DriverOpts", "MacAddress")


@dataclass(frozen=True)
class Replacement:
    """What :func:`replace_container` did: the new container's id, the old one's id and
    its name while on trial, whether the old one was running."""

    new_id: str
    old_id: str
    old_name: str
    name: str
    was_running: bool


async def image_state(driver: DockerDriver, ref: str) -> tuple[str | None, list[str]]:
    """``(image id, RepoDigests)`` of image ``ref`` (``["127.0.0.1:5000/app@sha256:…"]``);
    ``(None, [])`` when the engine has no such image."""
    async with translated(driver.endpoint, f"inspect image {ref}"):
        try:
            info = await driver.client.images.inspect(ref)
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return None, []
            raise
    return info["Id"], list(info.get("RepoDigests") or [])


def clone_config(
    info: dict[str, Any], old_image_config: dict[str, Any], image: str
) -> dict[str, Any]:
    """The ``POST /containers/create`` body of a copy of container ``info`` (its
    inspect document) running ``image``, leaving out what ``old_image_config`` (the
    old image's ``Config``) put there. Networks beyond the first are connected by
    :func:`replace_container`."""
    source: dict[str, Any] = info.get("Config") or {}
    config = {k: v for k, v in source.items() if k not in ("Image", "Hostname")}
    config["Image"] = image
    if source.get("Hostname") and not info["Id"].startswith(source["Hostname"]):
        config["Hostname"] = source["Hostname"]  # chosen, not Docker's short id
    image_env = set(old_image_config.get("Env") or [])
    config["Env"] = [e for e in source.get("Env") or [] if e not in image_env]
    image_labels = old_image_config.get("Labels") or {}
    config["Labels"] = {
        k: v for k, v in (source.get("Labels") or {}).items() if image_labels.get(k) != v
    }
    for key in _IMAGE_DEFAULTS:
        if key in config and config[key] == old_image_config.get(key):
            del config[key]
    host = dict(info.get("HostConfig") or {})
    named = {bind.split(":", 1)[0] for bind in host.get("Binds") or []}
    named |= {m.get("Source") for m in host.get("Mounts") or []}
    anonymous = [
        f"{m['Name']}:{m['Destination']}"
        for m in info.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Name") and m["Name"] not in named
    ]
    if anonymous:
        host["Binds"] = [*(host.get("Binds") or []), *anonymous]
    config["HostConfig"] = host
    networks = _endpoints(info)
    mode = host.get("NetworkMode") or "default"
    first = mode if mode in networks else next(iter(networks), None)
    if first is not None and not mode.startswith("container:") and mode != "host":
        config["NetworkingConfig"] = {"EndpointsConfig": {first: networks[first]}}
    return config


def _endpoints(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Network name → the endpoint settings to give the copy (aliases without the old
    container's short id, which Docker adds by itself)."""
    short_id = info["Id"][:12]
    found: dict[str, dict[str, Any]] = {}
    for name, settings in ((info.get("NetworkSettings") or {}).get("Networks") or {}).items():
        endpoint = {k: settings[k] for k in _ENDPOINT_FIELDS if settings.get(k)}
        if endpoint.get("Aliases"):
            endpoint["Aliases"] = [a for a in endpoint["Aliases"] if a != short_id]
        found[name] = endpoint
    return found


async def replace_container(driver: DockerDriver, ref: str, image: str) -> Replacement:
    """Stop container ``ref``, rename it ``<name>-moorage-previous``, create and start a
    copy of it (see :func:`clone_config`) from ``image`` under its name. When the copy
    cannot be made, the old container gets its name back and is started again, and
    the error is raised.

    Raises:
        NotFound: no container ``ref``. RuntimeUnavailable, Conflict: as Docker says.
    """
    client = driver.client
    async with translated(driver.endpoint, f"inspect container {ref}"):
        info = await client.containers.container(ref).show()
        old_image = await client.images.inspect(info["Image"])
    name = info["Name"].lstrip("/")
    old = client.containers.container(info["Id"])
    was_running = bool((info.get("State") or {}).get("Running"))
    config = clone_config(info, old_image.get("Config") or {}, image)
    networks = _endpoints(info)
    first = next(iter((config.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}), None)
    trial_name = f"{name}{PREVIOUS_SUFFIX}"
    async with translated(driver.endpoint, f"stop container {name}"):
        if was_running:
            await old.stop(t=10)
        await old.rename(trial_name)
    new_id = ""
    try:
        async with translated(driver.endpoint, f"create the new {name} from {image}"):
            created = await client.containers.create(config=config, name=name)
            new_id = created.id
            for network, endpoint in networks.items():
                if network != first and first is not None:
                    attached = await client.networks.get(network)
                    await attached.connect({"Container": new_id, "EndpointConfig": endpoint})
            await created.start()
    except BaseException:
        replacement = Replacement(new_id, info["Id"], trial_name, name, was_running)
        await asyncio.shield(restore_container(driver, replacement))
        raise
    return Replacement(new_id, info["Id"], trial_name, name, was_running)


async def restore_container(driver: DockerDriver, replacement: Replacement) -> None:
    """Undo :func:`replace_container`: remove the new container (if any), give the old
    one its name back and start it again if it was running. Idempotent."""
    client = driver.client
    async with translated(driver.endpoint, f"put back the previous {replacement.name}"):
        if replacement.new_id:
            try:
                await client.containers.container(replacement.new_id).delete(force=True)
            except Exception as exc:
                if getattr(exc, "status", None) != 404:
                    raise
        old = client.containers.container(replacement.old_id)
        info = await old.show()
        if info["Name"].lstrip("/") != replacement.name:
            await old.rename(replacement.name)
        if replacement.was_running and not info["State"].get("Running"):
            await old.start()


async def retag(driver: DockerDriver, image_id: str, reference: str) -> None:
    """Point tag ``reference`` (``host/app:1.4``) at ``image_id`` again."""
    repository, _, tag = reference.rpartition(":")
    if "/" in tag or not repository:
        repository, tag = reference, "latest"
    async with translated(driver.endpoint, f"tag {image_id} as {reference}"):
        await driver.client.images.tag(image_id, repository, tag=tag)


async def wait_healthy(
    driver: DockerDriver,
    container_ids: list[str],
    *,
    timeout_seconds: float,
    stable_seconds: float,
    poll_seconds: float = 0.5,
) -> str | None:
    """Wait until every container of ``container_ids`` is healthy: ``healthy`` by its
    healthcheck when it has one, else running without a restart for
    ``stable_seconds``. Returns None when they all are, else why not (a container
    exited, turned ``unhealthy`` with its healthcheck's last output, or
    ``timeout_seconds`` passed)."""
    deadline = time.monotonic() + timeout_seconds
    running_since: dict[str, tuple[float, int]] = {}
    pending = list(container_ids)
    while True:
        for container_id in list(pending):
            async with translated(driver.endpoint, f"inspect container {container_id}"):
                info = await driver.client.containers.container(container_id).show()
            name = info["Name"].lstrip("/")
            state = info.get("State") or {}
            health = state.get("Health")
            if not state.get("Running") or state.get("Restarting"):
                code = state.get("ExitCode")
                return f"{name} stopped (exit code {code}, {state.get('Status')})"
            if health:
                if health.get("Status") == "healthy":
                    pending.remove(container_id)
                elif health.get("Status") == "unhealthy":
                    log = health.get("Log") or [{}]
                    output = str(log[-1].get("Output") or "").strip()[:300]
                    return f"{name} is unhealthy" + (f": {output}" if output else "")
                continue
            restarts = int(info.get("RestartCount") or 0)
            first_seen = running_since.setdefault(container_id, (time.monotonic(), restarts))
            if first_seen[1] != restarts:
                return f"{name} restarted"
            if time.monotonic() - first_seen[0] >= stable_seconds:
                pending.remove(container_id)
        if not pending:
            return None
        if time.monotonic() >= deadline:
            return f"not healthy after {timeout_seconds:.0f} s"
        await asyncio.sleep(poll_seconds)
