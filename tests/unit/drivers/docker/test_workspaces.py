"""The shared workspaces bridge on a simulated engine: created once with ICC off,
race-safe, refused when unsafe, recreated when it vanished."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiodocker.containers import DockerContainers
from aiodocker.exceptions import DockerError
from aiodocker.networks import DockerNetworks

from moorage.drivers.base import WorkspaceSpec
from moorage.drivers.docker.driver import DockerDriver
from moorage.drivers.docker.workspaces import ICC_OPTION, WORKSPACES_NETWORK
from moorage.errors import RuntimeUnavailable


class Engine:
    """Just enough of the Engine API for :meth:`DockerDriver.create_workspace`:
    networks (unique names, 409 on a duplicate), and containers whose
    ``NetworkMode`` must name an existing network (404 otherwise)."""

    def __init__(self) -> None:
        self.bridges: dict[str, dict[str, Any]] = {}  # by id
        self.created: dict[str, dict[str, Any]] = {}  # containers, by id
        self.network_creates = 0
        # The resource APIs the driver uses on an aiodocker client, over this engine.
        self.networks = DockerNetworks(self)
        self.containers = DockerContainers(self)

    def add_network(self, name: str, options: dict[str, str], driver: str = "bridge") -> str:
        network_id = uuid.uuid4().hex * 2
        self.bridges[network_id] = {
            "Id": network_id,
            "Name": name,
            "Driver": driver,
            "Options": options,
            "Labels": {},
        }
        return network_id

    def _network(self, ref: str) -> dict[str, Any]:
        for network in self.bridges.values():
            if ref in (network["Id"], network["Name"]):
                return network
        raise DockerError(404, f"network {ref} not found")

    async def _query_json(
        self, path: str, method: str = "GET", *, data: Any = None, params: Any = None
    ) -> dict[str, Any]:
        await asyncio.sleep(0)  # let concurrent callers interleave
        if path == "networks/create":
            config = json.loads(data)
            self.network_creates += 1
            if any(n["Name"] == config["Name"] for n in self.bridges.values()):
                raise DockerError(409, f"network with name {config['Name']} already exists")
            network_id = self.add_network(config["Name"], config.get("Options") or {})
            self.bridges[network_id]["Labels"] = config.get("Labels") or {}
            return {"Id": network_id}
        if path.startswith("networks/"):
            return self._network(path.removeprefix("networks/"))
        if path == "containers/create":
            config = json.loads(data)
            self._network(config["HostConfig"]["NetworkMode"])
            container_id = uuid.uuid4().hex * 2
            self.created[container_id] = config
            return {"Id": container_id}
        raise AssertionError(f"unexpected call {method} {path}")

    @asynccontextmanager
    async def _query(self, path: str, method: str = "GET", **_: Any):
        assert method == "POST" and path.endswith("/start"), path
        yield None


def driver_on(engine: Engine) -> DockerDriver:
    client: Any = engine
    return DockerDriver(client, "stub://")


def spec(name: str) -> WorkspaceSpec:
    return WorkspaceSpec(
        name=name,
        image="moorage/terminal:latest",
        labels={"moorage.session": name},
        cpu_limit=1,
        memory_limit_mb=64,
    )


def shared_network(engine: Engine) -> dict[str, Any]:
    (network,) = [n for n in engine.bridges.values() if n["Name"] == WORKSPACES_NETWORK]
    return network


async def test_concurrent_launches_create_one_bridge_with_icc_off_and_all_join_it():
    engine = Engine()
    driver = driver_on(engine)
    await asyncio.gather(*(driver.create_workspace(spec(f"moorage-{i}")) for i in range(40)))
    network = shared_network(engine)
    assert len(engine.bridges) == 1 and engine.network_creates == 1
    assert network["Options"] == {ICC_OPTION: "false"}
    assert network["Labels"] == {"moorage.workspaces": "1"}  # no session label: never swept
    modes = {c["HostConfig"]["NetworkMode"] for c in engine.created.values()}
    assert modes == {network["Id"]} and len(engine.created) == 40


async def test_two_drivers_racing_both_end_on_the_same_bridge():
    engine = Engine()
    first, second = driver_on(engine), driver_on(engine)
    await asyncio.gather(first.create_workspace(spec("a")), second.create_workspace(spec("b")))
    network = shared_network(engine)
    assert engine.network_creates == 2  # one of them got the 409 and looked it up
    assert {c["HostConfig"]["NetworkMode"] for c in engine.created.values()} == {network["Id"]}


async def test_an_existing_safe_bridge_is_reused():
    engine = Engine()
    existing = engine.add_network(WORKSPACES_NETWORK, {ICC_OPTION: "false"})
    await driver_on(engine).create_workspace(spec("a"))
    assert len(engine.bridges) == 1
    (container,) = engine.created.values()
    assert container["HostConfig"]["NetworkMode"] == existing


@pytest.mark.parametrize(
    ("options", "driver"),
    [({}, "bridge"), ({ICC_OPTION: "true"}, "bridge"), ({ICC_OPTION: "false"}, "macvlan")],
)
async def test_a_network_of_that_name_that_lets_containers_talk_is_refused(options, driver):
    engine = Engine()
    engine.add_network(WORKSPACES_NETWORK, options, driver=driver)
    with pytest.raises(RuntimeUnavailable) as caught:
        await driver_on(engine).create_workspace(spec("a"))
    assert ICC_OPTION in caught.value.message and "docker network rm" in caught.value.message
    assert engine.created == {}


async def test_a_bridge_that_vanished_is_created_again():
    engine = Engine()
    driver = driver_on(engine)
    await driver.create_workspace(spec("a"))
    engine.bridges.clear()  # an operator removed it; the driver still holds its id
    await driver.create_workspace(spec("b"))
    network = shared_network(engine)
    assert network["Options"] == {ICC_OPTION: "false"}
    assert engine.created[list(engine.created)[-1]]["HostConfig"]["NetworkMode"] == (network["Id"])
