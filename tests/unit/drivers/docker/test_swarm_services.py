"""A workspace as a swarm service: the spec sent to the Engine API, and what a
service's tasks say of its state and ports."""

from __future__ import annotations

from moorage.drivers.base import WorkspaceSpec
from moorage.drivers.docker.swarm_services import (
    constraints_of,
    latest_task,
    service_spec,
    swarm_capacity,
    task_ports,
    workspace_state,
    workspaces_of,
)

SPEC = WorkspaceSpec(
    name="moorage-s1",
    image="moorage/sshd:latest",
    labels={"moorage.session": "s1", "moorage.org": "o1"},
    cpu_limit=0.5,
    memory_limit_mb=256,
    env={"SSH_USER": "student"},
    ports=(22,),
    cap_add=("SETUID",),
    secret="pw",
    placement={"site": "lab-2", "gpu": "true"},
)


def task(state: str, created: str = "2026-01-01T00:00:00Z", **extra: object) -> dict:
    return {"ServiceID": "svc", "CreatedAt": created, "Status": {"State": state}, **extra}


def test_the_service_has_one_replica_never_restarted_with_labels_on_service_and_container():
    body = service_spec(SPEC, "net-1", "host")
    assert body["Name"] == "moorage-s1"
    assert body["Mode"] == {"Replicated": {"Replicas": 1}}
    assert body["Labels"] == SPEC.labels
    template = body["TaskTemplate"]
    assert template["ContainerSpec"]["Labels"] == SPEC.labels
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Networks"] == [{"Target": "net-1"}]


def test_limits_are_reserved_too_and_labels_become_node_constraints():
    template = service_spec(SPEC, "net-1", "host")["TaskTemplate"]
    limits, reserved = template["Resources"]["Limits"], template["Resources"]["Reservations"]
    assert limits["NanoCPUs"] == reserved["NanoCPUs"] == 500_000_000
    assert limits["MemoryBytes"] == reserved["MemoryBytes"] == 256 * 1024 * 1024
    assert limits["Pids"] == 512
    assert template["Placement"]["Constraints"] == [
        "node.labels.gpu==true",
        "node.labels.site==lab-2",
    ]
    assert constraints_of({}) == []


def test_the_container_drops_capabilities_and_gets_its_secret_on_a_tmpfs_never_in_env():
    container = service_spec(SPEC, "net-1", "host")["TaskTemplate"]["ContainerSpec"]
    assert container["CapabilityDrop"] == ["ALL"] and container["CapabilityAdd"] == ["SETUID"]
    assert container["Init"] is True
    assert container["Mounts"][0]["Type"] == "tmpfs"
    assert container["Mounts"][0]["Target"] == "/run/moorage"
    assert "MOORAGE_SECRET_FILE=/run/moorage/secret" in container["Env"]
    assert not any("pw" in value.split("=", 1)[1] for value in container["Env"])
    no_secret = WorkspaceSpec(name="n", image="i", labels={}, cpu_limit=1, memory_limit_mb=64)
    assert service_spec(no_secret, "net", "host")["TaskTemplate"]["ContainerSpec"]["Mounts"] == []


def test_host_mode_resolves_by_dns_round_robin_and_ingress_by_a_virtual_ip():
    host = service_spec(SPEC, "net-1", "host")["EndpointSpec"]
    ingress = service_spec(SPEC, "net-1", "ingress")["EndpointSpec"]
    assert host == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 22, "PublishMode": "host"}],
    }
    assert ingress["Mode"] == "vip" and ingress["Ports"][0]["PublishMode"] == "ingress"


def test_a_task_state_reads_as_a_container_state():
    assert workspace_state(None) == "created"
    assert workspace_state(task("preparing")) == "created"
    assert workspace_state(task("starting")) == "created"
    assert workspace_state(task("running")) == "running"
    for ended in ("complete", "failed", "shutdown", "rejected", "orphaned"):
        assert workspace_state(task(ended)) == "exited"


def test_the_latest_task_is_the_one_created_last():
    old, new = task("failed", "2026-01-01T00:00:00Z"), task("running", "2026-01-01T00:01:00Z")
    assert latest_task([new, old]) is new
    assert latest_task([]) is None


def test_ports_come_from_the_task_in_host_mode_and_from_the_service_in_ingress_mode():
    ports = [{"Protocol": "tcp", "TargetPort": 22, "PublishedPort": 30022}]
    running = task("running", Status={"State": "running", "PortStatus": {"Ports": ports}})
    service = {"Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 22, "PublishedPort": 31}]}}
    assert task_ports(running, service, "host") == {22: 30022}
    assert task_ports(running, service, "ingress") == {22: 31}
    assert task_ports(task("pending"), {}, "host") == {}


def test_the_capacity_is_the_sum_of_the_nodes_that_take_work():
    def node(cpus: int, memory_gb: int, availability: str = "active") -> dict:
        resources = {"NanoCPUs": cpus * 10**9, "MemoryBytes": memory_gb * 1024**3}
        return {"Spec": {"Availability": availability}, "Description": {"Resources": resources}}

    assert swarm_capacity([node(2, 4), node(4, 8), node(8, 16, "drain")]) == (6.0, 12 * 1024)
    assert swarm_capacity([]) == (None, None)


def test_services_list_as_workspaces_by_their_latest_task():
    services = [
        {"ID": "svc", "Spec": {"Name": "moorage-s1", "Labels": {"moorage.session": "s1"}}},
        {"ID": "fresh", "Spec": {"Name": "moorage-s2", "Labels": {}}},
    ]
    tasks = [task("failed", "2026-01-01T00:00:00Z"), task("running", "2026-01-01T00:01:00Z")]
    listed = {w.id: w for w in workspaces_of(services, tasks, "host")}
    assert listed["svc"].state == "running" and listed["svc"].name == "moorage-s1"
    assert listed["svc"].labels == {"moorage.session": "s1"}
    assert listed["fresh"].state == "created"
