"""Volumes of one engine: list, create, remove (their files: :mod:`.volume_browser`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moorage.drivers.docker._errors import translated

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["create_volume", "list_volumes", "remove_volume"]


async def list_volumes(driver: DockerDriver) -> list[dict[str, Any]]:
    """``[{name, driver, mountpoint, labels, created}]``."""
    async with translated(driver.endpoint, "list volumes"):
        raw = await driver.client.volumes.list()
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
    driver: DockerDriver, name: str, labels: dict[str, str] | None = None
) -> None:
    async with translated(driver.endpoint, f"create volume {name}"):
        await driver.client.volumes.create({"Name": name, "Labels": labels or {}})


async def remove_volume(driver: DockerDriver, name: str) -> None:
    async with translated(driver.endpoint, f"remove volume {name}"):
        await (await driver.client.volumes.get(name)).delete()
