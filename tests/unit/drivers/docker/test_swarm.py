"""The swarm driver against a simulated manager: it refuses an engine that is no
manager, reaches a host-mode port at the node the swarm reports, removes a service
idempotently, refuses to stop one, and lists services (not containers) as
workspaces."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from moorage.drivers.docker.driver import DockerDriver
from moorage.drivers.docker.swarm import SwarmDriver
from moorage.errors import Conflict, RuntimeUnavailable


def asyncs(**methods: Any) -> SimpleNamespace:
    """An object whose methods are coroutines answering ``methods``' values (a
    callable is called with the arguments)."""

    def method(answer: Any):
        async def call(*args: Any, **kwargs: Any) -> Any:
            return answer(*args, **kwargs) if callable(answer) else answer

        return call

    return SimpleNamespace(**{name: method(answer) for name, answer in methods.items()})


class Manager:
    """Just enough of an aiodocker client on a swarm manager for the driver."""

    def __init__(self, *, manager: bool = True) -> None:
        self.deleted: list[str] = []
        self.services_by_id: dict[str, dict[str, Any]] = {}
        self.tasks_listed: list[dict[str, Any]] = []
        swarm = {"ControlAvailable": manager, "NodeID": "n1", "NodeAddr": "10.9.0.1"}
        self.system = asyncs(info={"ServerVersion": "20.10.24", "Swarm": swarm})
        self.nodes = asyncs(inspect=lambda node_id: {"Status": {"Addr": f"addr-of-{node_id}"}})
        self.tasks = asyncs(list=lambda filters=None: self.tasks_listed)
        self.services = asyncs(
            inspect=self._inspect,
            delete=self.deleted.append,
            list=lambda filters=None: list(self.services_by_id.values()),
        )
        self.containers = asyncs(list=lambda **_: [])
        self.connector = None

    def _inspect(self, service_id: str) -> dict[str, Any]:
        if service_id not in self.services_by_id:
            from aiodocker.exceptions import DockerError

            raise DockerError(404, {"message": f"service {service_id} not found"})
        return self.services_by_id[service_id]


def driver(client: Manager, mode: str = "host") -> SwarmDriver:
    return SwarmDriver(client, "unix:///swarm.sock", publish_mode=mode)  # type: ignore[arg-type]


async def test_an_engine_that_is_no_swarm_manager_is_refused_with_a_clear_error():
    with pytest.raises(RuntimeUnavailable) as caught:
        await driver(Manager(manager=False)).ping()
    assert caught.value.code == "not_a_swarm_manager"
    assert await driver(Manager()).ping() == "20.10.24"


async def test_a_host_mode_port_is_reached_at_the_node_running_its_task():
    client = Manager()
    ports = [{"Protocol": "tcp", "TargetPort": 22, "PublishedPort": 30022}]
    client.tasks_listed = [
        {"NodeID": "n7", "Status": {"State": "running", "PortStatus": {"Ports": ports}}}
    ]
    assert await driver(client).reach(30022, "127.0.0.1") == ("addr-of-n7", 30022)
    with pytest.raises(RuntimeUnavailable):
        await driver(client).reach(30023, "127.0.0.1")


async def test_an_ingress_port_is_reached_at_the_manager():
    assert await driver(Manager(), "ingress").reach(31000, "127.0.0.1") == ("10.9.0.1", 31000)


async def test_removing_a_service_that_is_gone_is_success():
    client = Manager()
    await driver(client).remove("no-such-service")
    assert client.deleted == []


async def test_removing_a_service_deletes_it():
    client = Manager()
    client.services_by_id["svc"] = {"ID": "svc", "Spec": {"TaskTemplate": {}}}
    await driver(client).remove("svc")
    assert client.deleted == ["svc"]


async def test_a_swarm_session_cannot_be_stopped():
    with pytest.raises(Conflict) as caught:
        await driver(Manager()).stop_workspace("svc")
    assert caught.value.code == "swarm_no_stop"


async def test_services_not_containers_are_the_workspaces_the_reconciler_sees():
    client = Manager()
    client.services_by_id["svc"] = {
        "ID": "svc",
        "Spec": {"Name": "moorage-s1", "Labels": {"moorage.session": "s1"}},
    }
    client.tasks_listed = [{"ServiceID": "svc", "CreatedAt": "t", "Status": {"State": "running"}}]
    [workspace] = await driver(client).list_workspaces("moorage.session")
    assert (workspace.id, workspace.state) == ("svc", "running")


def test_a_swarm_driver_takes_over_a_plain_driver_s_client_and_transport():
    transport = SimpleNamespace(last_error=None)
    plain = DockerDriver(Manager(), "ssh://u@h", transport=transport)  # type: ignore[arg-type]
    swarm = SwarmDriver.over(plain, "ingress")
    assert swarm.client is plain.client and swarm.endpoint == "ssh://u@h"
    assert swarm._transport is transport
