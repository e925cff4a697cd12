"""Environment and Docker resource request/response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from moorage.schemas._input import InputModel, PemCertificates, PemPrivateKey, SshPrivateKey

__all__ = [
    "CapacityOverride",
    "ContainerCreate",
    "EnvironmentCreate",
    "EnvironmentPublic",
    "EnvironmentUpdate",
    "ImagePull",
    "ImageTag",
    "RegistryLogin",
]

NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
LABEL_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$"
LABEL_VALUE = r"^[A-Za-z0-9_.\-]{0,63}$"


def check_labels(labels: dict[str, str] | None, field: str) -> dict[str, str] | None:
    """``labels`` if every key and value is a short label (``site``, ``lab-2``), else a
    ValueError naming ``field`` and the bad entry (the API answers 422)."""
    import re

    for key, value in (labels or {}).items():
        if not re.match(LABEL_KEY, key) or not re.match(LABEL_VALUE, str(value)):
            raise ValueError(
                f"{field}: {key}={value} is not a label (letters, digits, '_', '.', '-')"
            )
    return labels


KIND_DESCRIPTION = (
    "`swarm`: `url` is a swarm manager and sessions there run as swarm services; "
    "`engine` (the default): sessions are containers of that engine. The environment's "
    "`kind` is then `swarm`, or its transport (`socket`, `tcp`, `ssh`)."
)


class CapacityOverride(InputModel):
    """The CPU cores and memory an environment gives workspaces at most: launches
    that would pass them go elsewhere (or get 503). Null: no limit (the engine's own
    figures then only weigh the placement policy)."""

    cpu_cores: float | None = Field(None, gt=0, le=4096)
    memory_mb: int | None = Field(None, gt=0, le=64 * 1024 * 1024)


class EnvironmentCreate(InputModel):
    """``POST /api/v1/environments``. ``url``: ``unix:///path``, ``tcp://host:port`` or
    ``ssh://user@host[:port]``. TLS material (PEM) makes a TCP endpoint HTTPS with a
    client certificate; ``ssh_private_key`` (OpenSSH or PEM) is the SSH login, and the
    host key the server presents when saved is pinned."""

    multi_line_fields = frozenset({"tls_ca", "tls_cert", "tls_key", "ssh_private_key"})

    name: str = Field(pattern=NAME)
    url: str = Field(min_length=8, max_length=255)
    kind: Literal["engine", "swarm"] | None = Field(None, description=KIND_DESCRIPTION)
    tls_ca: PemCertificates | None = None
    tls_cert: PemCertificates | None = None
    tls_key: PemPrivateKey | None = None
    ssh_private_key: SshPrivateKey | None = None


class EnvironmentUpdate(InputModel):
    multi_line_fields = frozenset({"tls_ca", "tls_cert", "tls_key", "ssh_private_key"})

    url: str | None = Field(None, min_length=8, max_length=255)
    kind: Literal["engine", "swarm"] | None = Field(None, description=KIND_DESCRIPTION)
    tls_ca: PemCertificates | None = None
    tls_cert: PemCertificates | None = None
    tls_key: PemPrivateKey | None = None
    ssh_private_key: SshPrivateKey | None = None
    reset_host_key: bool = Field(
        False, description="Pin the SSH host key the server presents now (after a reinstall)."
    )
    labels: dict[str, str] | None = Field(
        None,
        max_length=32,
        description='Labels templates match (`{"site": "lab-2"}`); replaces them all.',
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value, "labels")

    capacity: CapacityOverride | None = Field(
        None, description="CPU cores and memory (MB) for workspaces; null values: the engine's."
    )
    state: Literal["active", "cordoned", "draining"] | None = Field(
        None,
        description="`cordoned`: no new sessions, live ones keep running; `draining`: "
        "cordoned, and the page shows what is left.",
    )
    allow_host_access: bool | None = Field(
        None,
        description="Admins only: let containers and stacks created here reach the host "
        "(host-path binds, privileged, host network/PID/IPC, added capabilities, devices, "
        "the Docker socket). Off by default; it binds admins too.",
    )


class EnvironmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("labels", mode="before", check_fields=False)
    @classmethod
    def _no_labels(cls, value: object) -> object:
        return value or {}

    id: str
    name: str
    kind: str = Field(description="swarm, or the transport of a plain engine.")
    transport: str = Field(description="socket, tcp or ssh: from the URL's scheme.")
    url: str
    status: str = Field(description="unknown, reachable or unreachable.")
    last_error: str | None
    engine_version: str | None
    containers_total: int | None
    containers_running: int | None
    images_total: int | None
    checked_at: datetime | None
    tls: bool = False
    ssh_host_key: str | None = Field(None, description="The pinned SSH host key (OpenSSH).")
    allow_host_access: bool = Field(
        False, description="Containers and stacks created here may reach the host."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    state: str = Field("active", description="active, cordoned or draining.")
    capacity: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="Its size for workspaces: `cpu_cores`, `memory_mb`; the operator's "
        "limit, else what the engine reports (null: unknown).",
    )
    capacity_limit: dict[str, float | int | None] = Field(
        default_factory=dict,
        description='The limits an operator set (`PATCH … {"capacity"}`): a launch that '
        "would pass one goes elsewhere or gets 503; null: no limit (templates' limits "
        "are ceilings, overcommitted).",
    )
    used: dict[str, float | int] = Field(
        default_factory=dict,
        description="What live sessions and warm workspaces hold: `cpu_cores`, "
        "`memory_mb`, and `sessions` (how many live sessions run here).",
    )


class PortBinding(InputModel):
    container_port: int = Field(ge=1, le=65535)
    host_port: int | None = Field(None, ge=1, le=65535, description="Empty: a random port.")
    host_ip: str = Field("127.0.0.1", description="Address to bind; 127.0.0.1 by default.")
    protocol: Literal["tcp", "udp"] = "tcp"


class ContainerCreate(InputModel):
    """``POST …/containers``: a container from a form."""

    image: str = Field(min_length=1, max_length=255)
    name: str | None = Field(None, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    ports: list[PortBinding] = Field(default_factory=list)
    volumes: list[str] = Field(
        default_factory=list, description="Docker bind strings: `volume:/path[:ro]`."
    )
    restart_policy: Literal["no", "always", "unless-stopped", "on-failure"] = "no"
    cpu_limit: float | None = Field(None, gt=0, le=64, description="Cores.")
    memory_limit_mb: int | None = Field(None, ge=6, le=262144)
    labels: dict[str, str] = Field(default_factory=dict)
    start: bool = True


class ImagePull(InputModel):
    image: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._:/@-]*$",
        description="e.g. `debian:bookworm`, `127.0.0.1:5000/team/app:v1`.",
    )


class ImageTag(InputModel):
    image: str = Field(min_length=1, max_length=255)
    repository: str = Field(min_length=1, max_length=255, pattern=r"^[a-z0-9][a-z0-9._:/-]*$")
    tag: str = Field("latest", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class RegistryLogin(InputModel):
    username: str = Field(min_length=1, max_length=255)
    password: SecretStr
