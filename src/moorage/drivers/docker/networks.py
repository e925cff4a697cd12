"""Docker networks: list, inspect, create, remove, connect and disconnect a container.

Shapes follow the Docker Engine API (v1.41+, ``/networks``); errors are translated
as in :mod:`._errors` (RuntimeUnavailable, NotFound, Conflict).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import translated
from moorage.errors import Conflict

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = [
    "connect_container",
    "create_network",
    "disconnect_container",
    "inspect_network",
    "list_networks",
    "remove_network",
]


def _summary(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": raw["Id"],
        "name": raw["Name"],
        "driver": raw.get("Driver"),
        "scope": raw.get("Scope"),
        "internal": raw.get("Internal", False),
        "containers": len(raw.get("Containers") or {}),
    }


async def list_networks(driver: DockerDriver) -> list[dict[str, Any]]:
    """``[{id, name, driver, scope, internal, containers}]`` (``containers`` is a count)."""
    async with translated(driver.endpoint, "list networks"):
        raw = await driver.client.networks.list()
    return [_summary(n) for n in raw]


async def inspect_network(driver: DockerDriver, ref: str) -> dict[str, Any]:
    """The summary plus ``subnets`` (``[{subnet, gateway}]``), ``labels``, ``created`` and
    ``attached``: ``[{id, name, ipv4_address, mac_address}]`` of the connected containers."""
    async with translated(driver.endpoint, f"inspect network {ref}"):
        raw = await (await driver.client.networks.get(ref)).show()
    config = (raw.get("IPAM") or {}).get("Config") or []
    return {
        **_summary(raw),
        "created": raw.get("Created"),
        "labels": raw.get("Labels") or {},
        "subnets": [{"subnet": c.get("Subnet"), "gateway": c.get("Gateway")} for c in config],
        "attached": [
            {
                "id": container_id,
                "name": info.get("Name"),
                "ipv4_address": info.get("IPv4Address"),
                "mac_address": info.get("MacAddress"),
            }
            for container_id, info in (raw.get("Containers") or {}).items()
        ],
    }


async def create_network(
    driver: DockerDriver,
    name: str,
    labels: dict[str, str] | None = None,
    internal: bool = False,
) -> str:
    """Create a bridge network; returns its id. Conflict when the name is taken."""
    async with translated(driver.endpoint, f"create network {name}"):
        existing = await driver.client.networks.list(filters={"name": [name]})
        if any(n["Name"] == name for n in existing):
            raise Conflict(f"network {name} already exists in this environment")
        network = await driver.client.networks.create(
            {"Name": name, "Labels": labels or {}, "Internal": internal, "CheckDuplicate": True}
        )
    return network.id


async def remove_network(driver: DockerDriver, ref: str) -> None:
    """Remove network ``ref``. Conflict while containers are attached; NotFound."""
    async with translated(driver.endpoint, f"remove network {ref}"):
        await (await driver.client.networks.get(ref)).delete()


async def connect_container(
    driver: DockerDriver,
    ref: str,
    container: str,
    aliases: list[str] | None = None,
) -> None:
    """Attach ``container`` (id or name) to network ``ref``, with DNS ``aliases``."""
    async with translated(driver.endpoint, f"connect {container} to network {ref}"):
        network = await driver.client.networks.get(ref)
        await network.connect(
            {"Container": container, "EndpointConfig": {"Aliases": aliases or []}}
        )


async def disconnect_container(
    driver: DockerDriver, ref: str, container: str, force: bool = False
) -> None:
    """Detach ``container`` from network ``ref``."""
    async with translated(driver.endpoint, f"disconnect {container} from network {ref}"):
        network = await driver.client.networks.get(ref)
        await network.disconnect({"Container": container, "Force": force})
