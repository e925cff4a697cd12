"""Networks of an environment (operators): list, inspect, create, remove, connect and
disconnect a container. Changes are audited as ``network.<verb>``."""

from __future__ import annotations

from typing import Any

from moorage.drivers.docker import networks
from moorage.errors import NotFound
from moorage.services.docker._operation import Caller, DockerService

__all__ = ["NetworkService"]


class NetworkService(DockerService):
    """Networks of the caller's environments. Every method raises Forbidden below
    operator, NotFound for an unknown environment or network, RuntimeUnavailable when
    the engine cannot be reached."""

    async def list_networks(self, caller: Caller, env: str) -> list[dict[str, Any]]:
        """``[{id, name, driver, scope, internal, containers}]``."""
        target = await self.target(caller, env)
        return await networks.list_networks(target.driver)

    async def inspect(self, caller: Caller, env: str, ref: str) -> dict[str, Any]:
        """The network with ``subnets``, ``labels`` and ``attached`` containers."""
        target = await self.target(caller, env)
        return await networks.inspect_network(target.driver, ref)

    async def create(
        self,
        caller: Caller,
        env: str,
        name: str,
        *,
        labels: dict[str, str] | None = None,
        internal: bool = False,
    ) -> str:
        """Create a bridge network; its id. Conflict when the name is taken."""
        async with self.operation(caller, env, "network.create", name) as op:
            return await networks.create_network(op.driver, name, labels=labels, internal=internal)

    async def remove(self, caller: Caller, env: str, ref: str) -> None:
        """Remove a network; Conflict while containers are attached."""
        async with self.operation(caller, env, "network.remove", ref) as op:
            await networks.remove_network(op.driver, ref)

    async def attach(
        self,
        caller: Caller,
        env: str,
        ref: str,
        action: str,
        container: str,
        *,
        aliases: list[str] | None = None,
        force: bool = False,
    ) -> None:
        """``connect`` ``container`` (with DNS ``aliases``) or ``disconnect`` it
        (``force``). NotFound for another action."""
        if action not in ("connect", "disconnect"):
            self.authorize(caller)
            raise NotFound(f"no network action {action!r}; use connect or disconnect")
        async with self.operation(caller, env, f"network.{action}", ref, detail=container) as op:
            if action == "connect":
                await networks.connect_container(op.driver, ref, container, aliases)
            else:
                await networks.disconnect_container(op.driver, ref, container, force)
