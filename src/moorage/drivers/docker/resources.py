"""Docker resources an operator manages: containers, logs, stats, images, volumes
(networks: :mod:`.networks`). Functions over one aiodocker client; every call translates errors
(see :mod:`._errors`): RuntimeUnavailable (unreachable), NotFound, Conflict.

Shapes follow the Docker Engine API (v1.41+) with the fields the UI shows.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiodocker
import aiohttp

from moorage.drivers.docker._errors import translated
from moorage.errors import InvalidInput, NotFound, RuntimeUnavailable

__all__ = [
    "CONTAINER_ACTIONS",
    "container_action",
    "container_stats",
    "create_container",
    "create_volume",
    "events",
    "follow_log_batches",
    "follow_logs",
    "inspect_container",
    "inspect_image",
    "list_containers",
    "list_images",
    "list_volumes",
    "prune",
    "read_logs",
    "remove_container",
    "remove_image",
    "remove_volume",
    "rename_container",
]

CONTAINER_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
STREAMS = {1: "stdout", 2: "stderr"}
# A log follow must stay open through long idle periods: no total or read timeout.
NO_READ_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None, connect=10)


def _summary(raw: dict[str, Any]) -> dict[str, Any]:
    labels = raw.get("Labels") or {}
    return {
        "id": raw["Id"],
        "name": (raw.get("Names") or ["/"])[0].lstrip("/"),
        "image": raw.get("Image", ""),
        "state": raw.get("State", ""),
        "status": raw.get("Status", ""),
        "created": raw.get("Created"),
        "ports": [
            {
                "private": p.get("PrivatePort"),
                "public": p.get("PublicPort"),
                "ip": p.get("IP"),
                "type": p.get("Type"),
            }
            for p in raw.get("Ports") or []
        ],
        "labels": labels,
        "stack": labels.get("com.docker.compose.project"),
        "size_rw": raw.get("SizeRw"),
    }


async def list_containers(
    client: aiodocker.Docker,
    endpoint: str,
    *,
    state: str | None = None,
    name: str | None = None,
    label: str | None = None,
    stack: str | None = None,
    size: bool = False,
) -> list[dict[str, Any]]:
    """Containers, running or not: ``[{id, name, image, state, status, created, ports,
    labels, stack, size_rw}]``; sizes only when ``size`` (slow on big engines)."""
    filters: dict[str, list[str]] = {}
    if state:
        filters["status"] = [state]
    if name:
        filters["name"] = [name]
    if label:
        filters.setdefault("label", []).append(label)
    if stack:
        filters.setdefault("label", []).append(f"com.docker.compose.project={stack}")
    params: dict[str, Any] = {"all": "1", "size": "1" if size else "0"}
    if filters:
        params["filters"] = json.dumps(filters)
    async with translated(endpoint, "list containers"):
        raw = await client._query_json("containers/json", method="GET", params=params)
    return [_summary(item) for item in raw]


async def inspect_container(client: aiodocker.Docker, endpoint: str, ref: str) -> dict[str, Any]:
    """``GET /containers/{id}/json``. Raises NotFound."""
    async with translated(endpoint, f"inspect container {ref}"):
        return await client.containers.container(ref).show()


async def container_action(
    client: aiodocker.Docker, endpoint: str, ref: str, action: str, *, timeout_seconds: int = 10
) -> None:
    """start, stop, restart, kill, pause or unpause a container.

    Raises:
        InvalidInput: unknown action. NotFound, Conflict (e.g. pausing a stopped one).
    """
    if action not in CONTAINER_ACTIONS:
        raise InvalidInput(
            f"unknown action {action!r}; use one of {', '.join(CONTAINER_ACTIONS)}", field="action"
        )
    path = f"containers/{ref}/{action}"
    params = {"t": str(timeout_seconds)} if action in ("stop", "restart") else None
    async with (
        translated(endpoint, f"{action} container {ref}"),
        client._query(path, method="POST", params=params),
    ):
        pass


async def rename_container(client: aiodocker.Docker, endpoint: str, ref: str, name: str) -> None:
    async with translated(endpoint, f"rename container {ref}"):
        await client.containers.container(ref).rename(name)


async def remove_container(
    client: aiodocker.Docker, endpoint: str, ref: str, *, volumes: bool = False, force: bool = True
) -> None:
    """Remove a container (and its anonymous volumes with ``volumes``)."""
    async with translated(endpoint, f"remove container {ref}"):
        await client.containers.container(ref).delete(force=force, v=volumes)


async def create_container(
    client: aiodocker.Docker,
    endpoint: str,
    config: dict[str, Any],
    name: str | None,
    *,
    start: bool = True,
) -> str:
    """Create (and start) a container from a Docker ``ContainerConfig``; returns its id."""
    async with translated(endpoint, f"create a container from {config.get('Image')}"):
        container = await client.containers.create(config=config, name=name)
        if start:
            await container.start()
    return container.id


def _log_params(
    *, tail: int | None, since: int | None, timestamps: bool, follow: bool
) -> dict[str, str]:
    params = {
        "stdout": "1",
        "stderr": "1",
        "follow": "1" if follow else "0",
        "timestamps": "1" if timestamps else "0",
        "tail": str(tail) if tail else "all",
    }
    if since:
        params["since"] = str(since)
    return params


async def _frames(response: Any, tty: bool) -> AsyncIterator[tuple[str, bytes]]:
    """Demultiplex Docker's log stream incrementally: 8-byte headers ``[stream, 0, 0, 0,
    size (big-endian u32)]`` then the payload (Engine API, "Attach to a container");
    a TTY container's stream is raw stdout. Consecutive frames of one stream within a
    read are merged (the json-file driver sends one frame per line)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        if tty:
            yield "stdout", chunk
            continue
        buffer += chunk
        offset = 0
        current = "stdout"
        parts: list[bytes] = []
        while len(buffer) - offset >= 8:
            stream_id, size = struct.unpack_from(">BxxxL", buffer, offset)
            if len(buffer) - offset < 8 + size:
                break
            stream = STREAMS.get(stream_id, "stdout")
            if stream != current and parts:
                yield current, b"".join(parts)
                parts = []
            current = stream
            parts.append(buffer[offset + 8 : offset + 8 + size])
            offset += 8 + size
        if parts:
            yield current, b"".join(parts)
        buffer = buffer[offset:]


async def _line_batches(
    frames: AsyncIterator[tuple[str, bytes]],
) -> AsyncIterator[tuple[str, list[str]]]:
    """Complete lines, batched per frame: ``(stream, [line, …])``. A line split across
    frames is held back until its end arrives (per stream)."""
    pending = {"stdout": b"", "stderr": b""}
    async for stream, data in frames:
        *complete, pending[stream] = (pending[stream] + data).split(b"\n")
        if complete:
            yield stream, [line.decode(errors="replace") for line in complete]
    for stream, rest in pending.items():
        if rest:
            yield stream, [rest.decode(errors="replace")]


async def follow_log_batches(
    client: aiodocker.Docker,
    endpoint: str,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
    follow: bool = True,
) -> AsyncIterator[tuple[str, list[str]]]:
    """Log lines in batches, ``(stream, [line, …])`` with ``stream`` ``stdout`` or
    ``stderr``, read incrementally (never buffering the whole log) and, with
    ``follow``, with no read timeout, so an idle container's follow stays open."""
    info = await inspect_container(client, endpoint, ref)
    tty = bool(info.get("Config", {}).get("Tty"))
    params = _log_params(tail=tail, since=since, timestamps=timestamps, follow=follow)
    async with (
        translated(endpoint, f"read the logs of {ref}"),
        client._query(
            f"containers/{ref}/logs",
            method="GET",
            params=params,
            timeout=NO_READ_TIMEOUT,
        ) as response,
    ):
        async for batch in _line_batches(_frames(response, tty)):
            yield batch


async def follow_logs(
    client: aiodocker.Docker,
    endpoint: str,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
    follow: bool = True,
) -> AsyncIterator[tuple[str, str]]:
    """Like :func:`follow_log_batches`, one ``(stream, line)`` at a time."""
    async for stream, lines in follow_log_batches(
        client, endpoint, ref, tail=tail, since=since, timestamps=timestamps, follow=follow
    ):
        for line in lines:
            yield stream, line


async def read_logs(
    client: aiodocker.Docker,
    endpoint: str,
    ref: str,
    *,
    tail: int | None = 100,
    since: int | None = None,
    timestamps: bool = False,
) -> list[tuple[str, str]]:
    """The last ``tail`` lines (all when None) as ``(stream, line)`` pairs."""
    return [
        pair
        async for pair in follow_logs(
            client, endpoint, ref, tail=tail, since=since, timestamps=timestamps, follow=False
        )
    ]


async def container_stats(client: aiodocker.Docker, endpoint: str, ref: str) -> dict[str, Any]:
    """One sample: ``{cpu_percent, memory_bytes, memory_limit_bytes, network_rx_bytes,
    network_tx_bytes, block_read_bytes, block_write_bytes}``. Memory is usage minus
    the inactive file cache, as ``docker stats`` shows it; CPU % is of one core × cores."""
    async with translated(endpoint, f"read the stats of {ref}"):
        (stats,) = await client.containers.container(ref).stats(stream=False)
    cpu, pre = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or [1])
    memory = stats.get("memory_stats", {})
    detail = memory.get("stats", {})
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    networks = stats.get("networks") or {}
    blkio = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return {
        "cpu_percent": round(cpu_delta / system_delta * cores * 100, 2)
        if system_delta > 0 and cpu_delta >= 0
        else 0.0,
        "memory_bytes": max(0, memory.get("usage", 0) - cache),
        "memory_limit_bytes": memory.get("limit", 0),
        "network_rx_bytes": sum(n.get("rx_bytes", 0) for n in networks.values()),
        "network_tx_bytes": sum(n.get("tx_bytes", 0) for n in networks.values()),
        "block_read_bytes": sum(
            e.get("value", 0) for e in blkio if e.get("op") in ("Read", "read")
        ),
        "block_write_bytes": sum(
            e.get("value", 0) for e in blkio if e.get("op") in ("Write", "write")
        ),
    }


async def events(
    client: aiodocker.Docker, endpoint: str, *, since: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The engine's event stream (``GET /events``), one dict per event:
    ``{type, action, id, name, image, time}`` (``time`` in Unix seconds). Ends when the
    engine closes the stream (e.g. it restarts); the caller reconnects."""
    params = {"since": str(since)} if since else None
    async with (
        translated(endpoint, "follow events"),
        client._query("events", method="GET", params=params, timeout=NO_READ_TIMEOUT) as response,
    ):
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                raw = json.loads(line)
                actor = raw.get("Actor") or {}
                attributes = actor.get("Attributes") or {}
                yield {
                    "type": raw.get("Type"),
                    "action": raw.get("Action"),
                    "id": actor.get("ID"),
                    "name": attributes.get("name"),
                    "image": attributes.get("image"),
                    "time": raw.get("time"),
                }


def _blkio(entries: list[dict[str, Any]], op: str) -> int:
    return sum(e.get("value", 0) for e in entries if str(e.get("op", "")).lower() == op)


async def list_images(client: aiodocker.Docker, endpoint: str) -> list[dict[str, Any]]:
    """``[{id, tags, size_bytes, created}]``."""
    async with translated(endpoint, "list images"):
        raw = await client.images.list()
    return [
        {
            "id": i["Id"],
            "tags": i.get("RepoTags") or [],
            "size_bytes": i.get("Size", 0),
            "created": i.get("Created"),
        }
        for i in raw
    ]


def split_reference(reference: str) -> tuple[str, str, str | None]:
    """``(registry host or "", repository, tag or None)`` of an image reference,
    following the Docker reference grammar (the first path component is a registry
    when it has a ``.`` or ``:`` or is ``localhost``)."""
    name, _, digest = reference.partition("@")
    repository, tag = name, None
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    first, _, rest = repository.partition("/")
    host = first if rest and ("." in first or ":" in first or first == "localhost") else ""
    return host, repository, (tag or None) if not digest else f"@{digest}"


async def pull_image(
    client: aiodocker.Docker, endpoint: str, reference: str, auth: dict[str, str] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Pull ``reference``, yielding Docker's progress messages as they come
    (``{"status", "id"?, "progressDetail": {"current", "total"}?}``).

    Raises:
        RuntimeUnavailable: the registry or the engine failed (with Docker's message).
    """
    _, _, tag = split_reference(reference)
    # An untagged name means :latest (never Docker's "pull all tags").
    from_image = reference if tag else f"{reference}:latest"
    async with translated(endpoint, f"pull {reference}"):
        stream = client.images.pull(from_image, auth=auth, stream=True)
        async for message in stream:
            if "error" in message:
                raise RuntimeUnavailable(
                    f"pulling {reference} failed: {message['error']}", code="pull_failed"
                )
            yield message


async def tag_image(
    client: aiodocker.Docker, endpoint: str, reference: str, repository: str, tag: str
) -> None:
    """Give image ``reference`` the name ``repository:tag``."""
    async with translated(endpoint, f"tag {reference}"):
        await client.images.tag(reference, repository, tag=tag)


async def inspect_image(client: aiodocker.Docker, endpoint: str, ref: str) -> dict[str, Any]:
    """``GET /images/{ref}/json`` as the engine gives it, plus ``history``: the layers'
    ``[{created_by, size, created}]`` (``GET /images/{ref}/history``)."""
    async with translated(endpoint, f"inspect image {ref}"):
        try:
            info = await client.images.inspect(ref)
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                raise NotFound(f"no image {ref} in this environment") from exc
            raise
        history: list[dict[str, Any]] = await client.images.history(ref)  # type: ignore[assignment]
    info["history"] = [
        {"created_by": h.get("CreatedBy"), "size": h.get("Size"), "created": h.get("Created")}
        for h in history
    ]
    return info


async def remove_image(
    client: aiodocker.Docker, endpoint: str, ref: str, *, force: bool = False
) -> None:
    async with translated(endpoint, f"remove image {ref}"):
        await client.images.delete(ref, force=force)


async def list_volumes(client: aiodocker.Docker, endpoint: str) -> list[dict[str, Any]]:
    """``[{name, driver, mountpoint, labels, created}]``."""
    async with translated(endpoint, "list volumes"):
        raw = await client.volumes.list()
    return [
        {
            "name": v["Name"],
            "driver": v.get("Driver"),
            "mountpoint": v.get("Mountpoint"),
            "labels": v.get("Labels") or {},
            "created": v.get("CreatedAt"),
        }
        for v in raw.get("Volumes") or []
    ]


async def create_volume(
    client: aiodocker.Docker, endpoint: str, name: str, labels: dict[str, str] | None = None
) -> None:
    async with translated(endpoint, f"create volume {name}"):
        await client.volumes.create({"Name": name, "Labels": labels or {}})


async def remove_volume(client: aiodocker.Docker, endpoint: str, name: str) -> None:
    async with translated(endpoint, f"remove volume {name}"):
        await (await client.volumes.get(name)).delete()


async def prune(client: aiodocker.Docker, endpoint: str, kind: str) -> dict[str, Any]:
    """Prune unused ``images``, ``volumes`` or ``networks``: ``{"deleted": [...],
    "reclaimed_bytes": N}``. Images: dangling only (as ``docker image prune``)."""
    if kind not in ("images", "volumes", "networks"):
        raise InvalidInput(f"cannot prune {kind!r}", field="kind")
    async with translated(endpoint, f"prune {kind}"):
        raw = await client._query_json(f"{kind}/prune", method="POST")
    deleted = raw.get(f"{kind.capitalize()}Deleted") or raw.get("ImagesDeleted") or []
    return {"deleted": deleted, "reclaimed_bytes": raw.get("SpaceReclaimed", 0)}
