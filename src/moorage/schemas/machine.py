"""Machine, pool and availability models. Credentials are write-only."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from moorage.schemas._input import InputModel, SshPrivateKey

__all__ = [
    "AvailabilityPublic",
    "ImportResult",
    "MachineCreate",
    "MachinePublic",
    "MachineUpdate",
    "PoolPublic",
    "PoolUpdate",
    "ProvisionCreate",
    "ProvisionRunPublic",
]


class MachineCreate(InputModel):
    """``POST /api/v1/machines``: give ``password`` or ``private_key`` (stored encrypted)."""

    multi_line_fields = frozenset({"private_key"})

    name: str = Field(min_length=1, max_length=64)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field("root", min_length=1, max_length=32, description="Login user (root or sudo).")
    password: SecretStr | None = None
    private_key: SshPrivateKey | None = Field(
        None, description="OpenSSH or PEM private key text (unencrypted)."
    )
    pool: str = Field("default", min_length=1, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=32)


class MachineUpdate(InputModel):
    """``PATCH``: absent fields keep their value. Changing host or port forgets the
    pinned host key. ``status`` may only be set to ``maintenance`` or back to ``unknown``."""

    multi_line_fields = frozenset({"private_key"})

    host: str | None = Field(None, min_length=1, max_length=253)
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = Field(None, min_length=1, max_length=32)
    password: SecretStr | None = None
    private_key: SshPrivateKey | None = None
    pool: str | None = Field(None, min_length=1, max_length=64)
    tags: list[str] | None = Field(None, max_length=32)
    status: str | None = Field(None, pattern="^(maintenance|unknown)$")
    reset_host_key: bool = False


class MachinePublic(BaseModel):
    name: str
    host: str
    port: int
    user: str
    pool: str
    tags: list[str]
    status: str
    last_error: str | None
    last_probe_at: datetime | None
    host_key: str | None
    reservation_id: str | None
    credential: str = Field(description="`password` or `private_key` (the value is never shown).")
    created_at: datetime


class ImportResult(BaseModel):
    imported: list[str]
    skipped: list[dict[str, object]] = Field(
        description="Lines left out with --skip-invalid: {line, message}."
    )


class PoolPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    default_duration_minutes: int
    max_duration_minutes: int
    max_machines_per_user: int
    max_extensions: int
    allow_sudo: bool


class PoolUpdate(InputModel):
    default_duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    max_duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    max_machines_per_user: int | None = Field(None, ge=1, le=1000)
    max_extensions: int | None = Field(None, ge=0, le=1000)
    allow_sudo: bool | None = None


class AvailabilityPublic(BaseModel):
    pool: str
    total: int
    available: int
    reserved: int
    offline: int
    dirty: int
    maintenance: int
    unknown: int
    next_free_at: datetime | None


class ProvisionCreate(InputModel):
    """``POST /api/v1/pools/{pool}/provision``: a playbook by file name (see
    ``GET /api/v1/playbooks``) and optional extra variables."""

    playbook: str = Field(min_length=1, max_length=255)
    extra_vars: dict[str, str] = Field(default_factory=dict, max_length=50)


class ProvisionRunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    playbook: str
    status: str = Field(description="queued, running, successful, failed or errored.")
    return_code: int | None
    output: str
    started_by: str
    created_at: datetime
    finished_at: datetime | None
