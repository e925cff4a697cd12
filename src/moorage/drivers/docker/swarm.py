"""Workspaces as Docker Swarm services (an environment of kind ``swarm``, issue 15).

The environment's URL is a swarm *manager* (``unix://``, ``tcp://`` with TLS,
``ssh://``, or an agent tunnel: the transport is the plain driver's). Each workspace
is one service of one replica (:func:`.swarm_services.service_spec`) that the swarm
schedules on a node with room for its reservations and the template's placement
labels. A workspace's id, for the rest of Moorage (the session row, the reconciler's
sweep, the gateway), is the **service id**; the driver finds the service's running
task and its container where an operation needs one.

Images: a service names the image by its id on the manager (``sha256:…``) when the
manager holds it, so that a task starts from the very image placement checked, with
no registry lookup (which, with no registry reachable, held each start ~20 s). Every
node that may run a workspace then needs the image (``docker load`` or a pull by the
operator); a node without it rejects the task (``image_missing``). An image the
manager lacks is named as the template says and pulled by the nodes.

Exec, terminals and secrets go through the manager's engine: they reach the task's
container when it runs on the manager, which is always the case on a single-node
swarm. On a multi-node swarm a task on a worker has its container on that worker's
engine, which the manager's API does not exec into: exec would need a driver per
node (each node's engine as an environment's transport) and is refused here
(Conflict, ``swarm_task_elsewhere``) rather than run in the wrong container.

Isolation: each workspace gets an overlay network of its own
(``moorage-<session id>``, carrying the workspace's labels), so two workspaces share
no network and cannot reach each other; outbound traffic leaves through each node's
``docker_gwbridge``. The swarm's default pool (10.0.0.0/8 in /24s) holds 65 536
such networks. A network left behind
(its removal raced its task's shutdown) carries ``moorage.session`` and is swept by
the reconciler like the per-session bridges of earlier versions. What this does NOT
give: a swarm publishes ports on all of a node's interfaces (a swarm port has no
host address), so ``MOORAGE_PUBLISH_ADDRESS`` does not apply; firewall the nodes
so that only Moorage reaches their published ports.

Reaching a port: in ``host`` publish mode (the default) the gateway connects to the
node that runs the task, at the address the swarm reports for that node
(``Status.Addr``); in ``ingress`` mode to the manager's address (``Swarm.NodeAddr``),
whose routing mesh forwards to the task. With a transport (SSH, agent) the
connection is carried from the manager's host.
Sessions on a swarm cannot be stopped (Conflict ``swarm_no_stop``): no disk is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiodocker

from moorage.drivers.base import CommandResult, TerminalStream, WorkspaceContainer, WorkspaceSpec
from moorage.drivers.docker import workspaces
from moorage.drivers.docker._errors import translated
from moorage.drivers.docker.driver import DockerDriver, Transport
from moorage.drivers.docker.engine_info import EngineInfo
from moorage.drivers.docker.swarm_services import (
    PublishMode,
    latest_task,
    service_spec,
    swarm_capacity,
    task_ended,
    task_ports,
    workspace_state,
    workspaces_of,
)
from moorage.errors import Conflict, NotFound, RuntimeUnavailable

__all__ = ["SwarmDriver"]

TASK_START_SECONDS = 120.0
"""How long a new service's task may take to run (a launch's timeout may be shorter)."""

REMOVAL_WAIT_SECONDS = 20.0
"""How long :meth:`SwarmDriver.remove` waits for the task's container before removing
the workspace's network (left to the reconciler's sweep after that)."""


def _no_stop() -> Conflict:
    return Conflict(
        "sessions on a swarm cannot be stopped (the swarm would not keep their disk)",
        code="swarm_no_stop",
    )


class SwarmDriver(DockerDriver):
    """Runs workspaces as services of the swarm whose manager ``client`` reaches.

    Args:
        client: an aiodocker client of the manager's engine, injected.
        endpoint: the manager's address, for messages.
        transport: what carries the client's connections (SSH tunnel), as for
            :class:`DockerDriver`.
        publish_mode: ``host`` or ``ingress`` (:mod:`.swarm_services`).
    """

    def __init__(
        self,
        client: aiodocker.Docker,
        endpoint: str,
        transport: Transport | None = None,
        *,
        publish_mode: PublishMode = "host",
    ) -> None:
        super().__init__(client, endpoint, transport)
        self._publish_mode: PublishMode = publish_mode

    @classmethod
    def over(cls, driver: DockerDriver, publish_mode: PublishMode = "host") -> SwarmDriver:
        """A swarm driver on the client and transport of a plain ``driver`` (which it
        takes over: close the swarm driver, not both)."""
        transport = driver._transport  # this package's own class
        return cls(driver.client, driver.endpoint, transport, publish_mode=publish_mode)

    async def _manager_info(self) -> Mapping[str, Any]:
        """``GET /info`` of the manager.

        Raises:
            RuntimeUnavailable: unreachable, or the engine is no swarm manager (code
                ``not_a_swarm_manager``).
        """
        async with translated(self.endpoint, "describe itself"):
            info = await self.client.system.info()
        if not (info.get("Swarm") or {}).get("ControlAvailable"):
            raise RuntimeUnavailable(
                "Docker at %(endpoint)s is not a swarm manager (run `docker swarm init` "
                "there, or give the address of a manager)",
                params={"endpoint": self.endpoint},
                code="not_a_swarm_manager",
            )
        return info

    async def ping(self) -> str:
        info = await self._manager_info()
        return str(info.get("ServerVersion", "unknown"))

    async def engine_info(self) -> EngineInfo:
        """The manager's version and counts, with the CPUs and memory of the swarm's
        nodes that take work (``Spec.Availability`` ``active``) as its capacity.

        Raises:
            RuntimeUnavailable: unreachable, or not a swarm manager.
        """
        info = await self._manager_info()
        async with translated(self.endpoint, "list the swarm's nodes"):
            nodes = await self.client.nodes.list()
        cpus, memory_mb = swarm_capacity(nodes)
        return dataclasses.replace(EngineInfo.of(info), cpus=cpus, memory_mb=memory_mb)

    async def create_workspace(self, spec: WorkspaceSpec) -> WorkspaceContainer:
        """Create the workspace's overlay network and service, wait for its task to
        run, give it its secret. Returns the service as a workspace (``id``: the
        service id; ``ports``: published ports as the swarm reports them). On failure
        the service and network are removed before the error is raised.

        Raises:
            RuntimeUnavailable: the manager fails or is unreachable, the task did not
                run within :data:`TASK_START_SECONDS` (the swarm's reason in the
                message: no node with room or labels, image missing …).
            Conflict: the task runs on another node than the manager and needs a
                secret (module docstring).
        """
        network_id = await self._create_network(spec)
        service_id: str | None = None
        try:
            # Pinned to the image's id where the manager holds it: a swarm task then
            # starts from the image there, with no registry lookup (module docstring).
            pinned = dataclasses.replace(spec, image=await self.image_id(spec.image) or spec.image)
            body = service_spec(pinned, network_id, self._publish_mode)
            async with translated(self.endpoint, f"create the service for {spec.image}"):
                # The body is the Engine API's JSON already; aiodocker's services.create
                # would rewrite its ``Env`` (it expects a mapping there).
                created = await self.client._query_json("services/create", method="POST", data=body)
            service_id = str(created["ID"])
            task = await self._wait_running(service_id, spec.image)
            if spec.secret is not None:
                container = self.client.containers.container(await self._container_of(task))
                await workspaces.deliver_secret(self, container, spec.secret)
            async with translated(self.endpoint, "inspect the service"):
                service = await self.client.services.inspect(service_id)
        except BaseException:
            await asyncio.shield(self._discard(service_id, network_id))
            raise
        ports = task_ports(task, service, self._publish_mode) if spec.ports else {}
        return WorkspaceContainer(service_id, spec.name, dict(spec.labels), "running", ports)

    async def _create_network(self, spec: WorkspaceSpec) -> str:
        config = {
            "Name": spec.name,
            "Driver": "overlay",
            "Labels": dict(spec.labels),
            "CheckDuplicate": True,
        }
        async with translated(self.endpoint, f"create the overlay network {spec.name}"):
            network = await self.client.networks.create(config)
        return str(network.id)

    async def _discard(self, service_id: str | None, network_id: str) -> None:
        # What a failed launch created; what cannot be removed is left to the sweep.
        try:
            if service_id is not None:
                await self.remove(service_id)
            else:
                await workspaces.remove_network(self, network_id)
        except (RuntimeUnavailable, Conflict):
            pass

    async def _tasks(self, service_id: str) -> list[Mapping[str, Any]]:
        async with translated(self.endpoint, "list the service's tasks"):
            return list(await self.client.tasks.list(filters={"service": service_id}))

    async def _wait_running(self, service_id: str, image: str) -> Mapping[str, Any]:
        deadline = time.monotonic() + TASK_START_SECONDS
        reason = "no task yet"
        while time.monotonic() < deadline:
            task = latest_task(await self._tasks(service_id))
            if task is not None:
                status = task.get("Status") or {}
                reason = str(status.get("Err") or status.get("Message") or status.get("State"))
                if status.get("State") == "running":
                    return task
                if task_ended(task):
                    break
            await asyncio.sleep(0.2)
        code = "image_missing" if "no such image" in reason.lower() else "runtime_unavailable"
        raise RuntimeUnavailable(
            "the swarm at %(endpoint)s did not run the service for %(image)s: %(reason)s",
            params={"endpoint": self.endpoint, "image": image, "reason": reason},
            code=code,
        )

    async def _container_of(self, task: Mapping[str, Any]) -> str:
        """The id of ``task``'s container on the manager's engine.

        Raises:
            Conflict: the task has no container yet, or it runs on another node.
        """
        container_id = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        if not container_id:
            raise Conflict("the workspace's task is not running", code="session_not_ready")
        async with translated(self.endpoint, "describe itself"):
            info = await self.client.system.info()
        if task.get("NodeID") != (info.get("Swarm") or {}).get("NodeID"):
            raise Conflict(
                "the workspace runs on another swarm node than the manager at %(endpoint)s; "
                "commands and terminals reach only tasks on the manager",
                params={"endpoint": self.endpoint},
                code="swarm_task_elsewhere",
            )
        return str(container_id)

    async def _running_container(self, service_id: str) -> str:
        """The container of the service's running task.

        Raises:
            NotFound: no such service. Conflict: no running task (or on another node).
        """
        async with translated(self.endpoint, "inspect the service"):
            await self.client.services.inspect(service_id)
        task = latest_task(await self._tasks(service_id))
        if task is None or workspace_state(task) != "running":
            raise Conflict("the workspace's task is not running", code="session_not_ready")
        return await self._container_of(task)

    async def exec_with_input(
        self, container_id: str, command: list[str], *, user: str, data: bytes
    ) -> None:
        target = await self._running_container(container_id)
        await super().exec_with_input(target, command, user=user, data=data)

    async def run_command(
        self, container_id: str, command: list[str], *, user: str, max_output_bytes: int
    ) -> CommandResult:
        target = await self._running_container(container_id)
        return await super().run_command(
            target, command, user=user, max_output_bytes=max_output_bytes
        )

    async def wait_usable(self, container_id: str, user: str, timeout_seconds: float) -> None:
        try:
            target = await self._running_container(container_id)
        except (Conflict, NotFound) as exc:
            raise RuntimeUnavailable(
                "the workspace's service stopped while starting: %(reason)s",
                params={"reason": exc.message},
            ) from exc
        await super().wait_usable(target, user, timeout_seconds)

    async def open_terminal(
        self, container_id: str, *, user: str, command: list[str], cols: int, rows: int
    ) -> TerminalStream:
        target = await self._running_container(container_id)
        return await super().open_terminal(target, user=user, command=command, cols=cols, rows=rows)

    async def cpu_percent(self, container_id: str) -> float | None:
        target = await self._container_or_none(container_id)
        return None if target is None else await super().cpu_percent(target)

    async def tty_input_at(self, container_id: str) -> datetime | None:
        target = await self._container_or_none(container_id)
        return None if target is None else await super().tty_input_at(target)

    async def _container_or_none(self, service_id: str) -> str | None:
        try:
            return await self._running_container(service_id)
        except (Conflict, NotFound):
            return None

    async def remove(self, container_id: str, *, wait_seconds: float = 30.0) -> None:
        """Remove the service (the swarm stops its task), then, once the task's
        container is gone from the manager's engine, the workspace's overlay
        network. Idempotent: a service already gone is success. A network still in
        use after :data:`REMOVAL_WAIT_SECONDS` is left to the reconciler's sweep.

        Raises:
            RuntimeUnavailable: the manager cannot be reached (the caller retries).
        """
        try:
            async with translated(self.endpoint, "inspect the service"):
                service = await self.client.services.inspect(container_id)
        except NotFound:
            return
        template = (service.get("Spec") or {}).get("TaskTemplate") or {}
        networks = [str(n["Target"]) for n in template.get("Networks") or [] if n.get("Target")]
        try:
            async with translated(self.endpoint, "remove the service"):
                await self.client.services.delete(container_id)
        except NotFound:
            pass  # removed meanwhile by another caller
        label = f"com.docker.swarm.service.id={container_id}"
        deadline = time.monotonic() + min(wait_seconds, REMOVAL_WAIT_SECONDS)
        while time.monotonic() < deadline:
            async with translated(self.endpoint, "list the service's containers"):
                left = await self.client.containers.list(all=True, filters={"label": [label]})
            if not left:
                break
            await asyncio.sleep(0.2)
        for network in networks:
            try:
                await workspaces.remove_network(self, network)
            except Conflict:
                pass  # still attached somewhere: the reconciler's sweep removes it later

    async def stop_workspace(self, container_id: str, *, grace_seconds: int = 10) -> None:
        raise _no_stop()

    async def start_workspace(
        self, container_id: str, *, secret: str | None = None
    ) -> WorkspaceContainer:
        raise _no_stop()

    async def list_workspaces(self, label: str) -> list[WorkspaceContainer]:
        """The services carrying the label key ``label``, as workspaces: ``id`` the
        service id, ``state`` that of its latest task (:func:`.workspace_state`)."""
        async with translated(self.endpoint, "list services"):
            services = await self.client.services.list(filters={"label": [label]})
        if not services:
            return []
        async with translated(self.endpoint, "list tasks"):
            tasks = await self.client.tasks.list()
        return workspaces_of(services, tasks, self._publish_mode)

    async def reach(self, host_port: int, publish_address: str) -> tuple[str, int]:
        """Where the gateway connects to a port the swarm published as ``host_port``
        (``publish_address`` does not apply to a swarm): the node running the task in
        ``host`` mode, the manager in ``ingress`` mode (module docstring), through the
        transport when there is one.

        Raises:
            RuntimeUnavailable: the manager cannot be reached, or no running task
                publishes ``host_port``.
        """
        address = await self._address_of(host_port)
        if self._transport is None:
            return address, host_port
        return await self._transport.forward(address, host_port)

    async def _address_of(self, host_port: int) -> str:
        if self._publish_mode == "ingress":
            return str(((await self._manager_info()).get("Swarm") or {}).get("NodeAddr"))
        async with translated(self.endpoint, "list tasks"):
            tasks = await self.client.tasks.list(filters={"desired-state": ["running"]})
        for task in tasks:
            if host_port in task_ports(task, {}, "host").values():
                async with translated(self.endpoint, "inspect the swarm node"):
                    node = await self.client.nodes.inspect(node_id=str(task["NodeID"]))
                return str((node.get("Status") or {}).get("Addr"))
        raise RuntimeUnavailable(
            "no task of the swarm at %(endpoint)s publishes port %(port)s",
            params={"endpoint": self.endpoint, "port": str(host_port)},
        )
