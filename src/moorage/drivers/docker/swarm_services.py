"""A workspace as a Docker Swarm service: the service spec made from a
:class:`~moorage.drivers.base.WorkspaceSpec`, and what a service's tasks say of it
(state, published ports). Pure functions over the Engine API's JSON (``POST
/services/create``, ``GET /tasks``), used by :class:`~.swarm.SwarmDriver`.

Publish modes (``EndpointSpec.Ports[].PublishMode``):

- ``host``: the task's node publishes each port on a free port of its own, on all
  its interfaces (a swarm port has no host address); the swarm reports it in the
  task's ``Status.PortStatus``. The service then resolves by DNS round robin
  (``dnsrr``), which needs no IPVS in the nodes' kernels.
- ``ingress``: the routing mesh publishes each port on every node of the swarm
  (the service's ``Endpoint.Ports``); it needs IPVS (the ``ip_vs`` kernel module)
  on every node, and a virtual IP (``vip``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from moorage.drivers.base import WorkspaceContainer, WorkspaceSpec
from moorage.drivers.docker.workspaces import SECRET_TMPFS

__all__ = [
    "PublishMode",
    "constraints_of",
    "latest_task",
    "service_spec",
    "swarm_capacity",
    "task_ended",
    "task_ports",
    "workspace_state",
    "workspaces_of",
]

PublishMode = Literal["host", "ingress"]

PIDS_LIMIT = 512
SECRET_TMPFS_BYTES = 64 * 1024

# Task states (swarmkit's TaskState) in the order a task goes through them.
_STARTING = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready"}
_ENDED = {"complete", "shutdown", "failed", "rejected", "remove", "orphaned"}


def constraints_of(placement: Mapping[str, str]) -> list[str]:
    """Swarm placement constraints for the template's labels:
    ``{"site": "lab-2"}`` → ``["node.labels.site==lab-2"]`` (sorted by key)."""
    return [f"node.labels.{key}=={value}" for key, value in sorted(placement.items())]


def service_spec(spec: WorkspaceSpec, network_id: str, mode: PublishMode) -> dict[str, Any]:
    """The body of ``POST /services/create`` for ``spec``: one replica that the swarm
    never restarts (a workspace that ended is over, as with a container's restart
    policy ``no``), on the overlay network ``network_id``.

    - labels: ``spec.labels`` on the service *and* on its containers;
    - resources: limits of ``spec.cpu_limit`` cores and ``spec.memory_limit_mb`` MiB
      (and 512 processes), reserved as well, so the swarm places a task only on a
      node with that room free (the same sum Moorage's own placement counts);
    - placement: ``node.labels.<key>==<value>`` for each of ``spec.placement``;
    - the container as :class:`~.driver.DockerDriver` makes it: every capability
      dropped but ``spec.cap_add``, an init process, no new privileges (engines of
      API 1.46 and later; older ones ignore it), and a tmpfs at ``/run/moorage`` when
      ``spec.secret`` is set;
    - ports: each of ``spec.ports`` published in ``mode`` (module docstring).
    """
    env = [f"{key}={value}" for key, value in spec.env.items()]
    mounts: list[dict[str, Any]] = []
    if spec.secret is not None:
        env.append(f"MOORAGE_SECRET_FILE={SECRET_TMPFS}/secret")
        mounts.append(
            {
                "Type": "tmpfs",
                "Target": SECRET_TMPFS,
                "TmpfsOptions": {"SizeBytes": SECRET_TMPFS_BYTES, "Mode": 0o1777},
            }
        )
    nano_cpus = int(spec.cpu_limit * 1e9)
    memory_bytes = spec.memory_limit_mb * 1024 * 1024
    return {
        "Name": spec.name,
        "Labels": dict(spec.labels),
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": spec.image,
                "Labels": dict(spec.labels),
                "Env": env,
                "Init": True,
                "TTY": False,
                "OpenStdin": False,
                "Mounts": mounts,
                "CapabilityDrop": ["ALL"],
                "CapabilityAdd": list(spec.cap_add),
                "Privileges": {"NoNewPrivileges": True},
            },
            "Resources": {
                "Limits": {"NanoCPUs": nano_cpus, "MemoryBytes": memory_bytes, "Pids": PIDS_LIMIT},
                "Reservations": {"NanoCPUs": nano_cpus, "MemoryBytes": memory_bytes},
            },
            "RestartPolicy": {"Condition": "none", "MaxAttempts": 0},
            "Placement": {"Constraints": constraints_of(spec.placement)},
            "Networks": [{"Target": network_id}],
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {
            "Mode": "dnsrr" if mode == "host" else "vip",
            "Ports": [
                {"Protocol": "tcp", "TargetPort": port, "PublishMode": mode} for port in spec.ports
            ],
        },
    }


def latest_task(tasks: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest of a service's tasks (``GET /tasks?filters={"service": …}``): the one
    created last; None when there is none yet."""
    return max(tasks, key=lambda task: str(task.get("CreatedAt", "")), default=None)


def workspace_state(task: Mapping[str, Any] | None) -> str:
    """A Docker container state word for a service's latest task, as the reconciler
    reads workspaces: ``created`` while the swarm places and starts it (or before it
    has a task), ``running``, ``exited`` once it ended (complete, failed, shut down,
    rejected …)."""
    if task is None:
        return "created"
    state = str((task.get("Status") or {}).get("State", ""))
    if state == "running":
        return "running"
    if state in _STARTING or state == "starting":
        return "created"
    return "exited"


def task_ended(task: Mapping[str, Any]) -> bool:
    """Whether the task reached a state it never leaves (it will not run)."""
    return str((task.get("Status") or {}).get("State", "")) in _ENDED


def task_ports(
    task: Mapping[str, Any], service: Mapping[str, Any], mode: PublishMode
) -> dict[int, int]:
    """Container port → published port (TCP), as the swarm reports it: the task's
    ``Status.PortStatus`` in ``host`` mode, the service's ``Endpoint.Ports`` in
    ``ingress`` mode."""
    if mode == "host":
        listed = ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []
    else:
        listed = (service.get("Endpoint") or {}).get("Ports") or []
    return {
        int(port["TargetPort"]): int(port["PublishedPort"])
        for port in listed
        if port.get("Protocol", "tcp") == "tcp" and port.get("PublishedPort")
    }


def swarm_capacity(nodes: Iterable[Mapping[str, Any]]) -> tuple[float | None, int | None]:
    """``(CPU cores, memory MB)`` of the nodes (``GET /nodes``) that take work
    (``Spec.Availability`` ``active``); None where they report nothing."""
    cpus = memory = 0
    for node in nodes:
        if (node.get("Spec") or {}).get("Availability") != "active":
            continue
        resources = (node.get("Description") or {}).get("Resources") or {}
        cpus += int(resources.get("NanoCPUs", 0))
        memory += int(resources.get("MemoryBytes", 0))
    return (cpus / 1e9 or None), (memory // (1024 * 1024) or None)


def workspaces_of(
    services: Iterable[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]], mode: PublishMode
) -> list[WorkspaceContainer]:
    """``services`` (``GET /services``) as workspaces: ``id`` the service id, ``name``
    and ``labels`` the service's, ``state`` that of its latest task among ``tasks``
    (``GET /tasks``; :func:`workspace_state`), ``ports`` as :func:`task_ports`."""
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for task in tasks:
        by_service.setdefault(str(task.get("ServiceID")), []).append(task)
    result = []
    for service in services:
        spec = service.get("Spec") or {}
        latest = latest_task(by_service.get(str(service["ID"]), []))
        result.append(
            WorkspaceContainer(
                id=str(service["ID"]),
                name=str(spec.get("Name", "")),
                labels=dict(spec.get("Labels") or {}),
                state=workspace_state(latest),
                ports=task_ports(latest, service, mode) if latest else {},
            )
        )
    return result
