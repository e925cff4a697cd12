"""Template request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from moorage.models.template import TemplateKind
from moorage.schemas._input import InputModel
from moorage.schemas.environment import check_labels
from moorage.schemas.warm import MAX_WARM, WarmSchedule, public_warm

__all__ = ["TemplateCreate", "TemplatePublic", "TemplateUpdate"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class _TemplateFields(InputModel):
    multi_line_fields = frozenset({"description"})

    display_name: str | None = Field(None, min_length=1, max_length=128)
    description: str | None = Field(None, max_length=4000)
    image: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Image reference, e.g. `moorage/terminal:latest`.",
    )
    kind: TemplateKind | None = None
    shell_user: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$|^root$",
        description="User the terminal shell runs as.",
    )
    port: int | None = Field(
        None, ge=1, le=65535, description="Container port of the web app (http kind)."
    )
    cpu_limit: float | None = Field(None, gt=0, le=64, description="CPU limit in cores.")
    memory_limit_mb: int | None = Field(None, ge=16, le=262144, description="Memory limit, MiB.")
    default_duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    max_duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 30)
    max_sessions_per_user: int | None = Field(None, ge=1, le=1000)
    enabled: bool | None = None
    recording: bool | None = Field(
        None, description="Record its sessions (terminal: asciicast v2; desktop: the VNC stream)."
    )
    record_input: bool | None = Field(
        None, description='Terminal recordings keep the keys typed too (asciicast "i" events).'
    )
    idle_timeout_seconds: int | None = Field(
        None,
        ge=0,
        le=60 * 60 * 24 * 30,
        description="End a session after this long without activity (at least 10); 0: never.",
    )
    idle_ignore_paths: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None,
        max_length=20,
        description="Regular expressions of web-app paths (with query) that are the app's "
        "own polling, not activity, e.g. `^/s/[^/]+/api/kernels`.",
    )
    idle_cpu_percent: float | None = Field(
        None, ge=1, le=6400, description="CPU use (% of one core) that counts as activity."
    )

    @field_validator("idle_timeout_seconds")
    @classmethod
    def _idle_timeout(cls, value: int | None) -> int | None:
        if value is not None and 0 < value < 10:
            raise ValueError("idle_timeout_seconds must be 0 (never) or at least 10")
        return value

    @field_validator("idle_ignore_paths")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return value

    environment_labels: dict[str, str] | None = Field(
        None,
        max_length=16,
        description="Where it may run: labels an environment must carry, all of them "
        '(`{"site": "lab-2"}`); `{}`: any environment of the org.',
    )

    @field_validator("environment_labels")
    @classmethod
    def _environment_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value, "environment_labels")

    warm: int | WarmSchedule | None = Field(
        None,
        description=(
            f"Warm workspaces started ahead (0 to {MAX_WARM}): a number, or a schedule "
            '`{"count": 30, "from": "08:45", "to": "12:00", "days": "mon-fri", '
            '"timezone": "UTC", "outside": 0}` (see moorage.schemas.warm).'
        ),
    )

    @field_validator("warm", mode="before")
    @classmethod
    def _warm_number_or_schedule(cls, value: Any) -> Any:
        """A number 0 to MAX_WARM, or a schedule object whose first error is named
        (``warm.days: …``) rather than pydantic's guess at the union's branches."""
        if isinstance(value, bool):
            raise ValueError("warm must be a number or a schedule object")
        if isinstance(value, int):
            if not 0 <= value <= MAX_WARM:
                raise ValueError(f"warm must be between 0 and {MAX_WARM}")
            return value
        if isinstance(value, dict):
            try:
                return WarmSchedule.model_validate(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                raise ValueError(f"warm{'.' + where if where else ''}: {message}") from None
        if value is None or isinstance(value, WarmSchedule):
            return value
        raise ValueError("warm must be a number or a schedule object")


class TemplateCreate(_TemplateFields):
    name: str = Field(pattern=NAME_PATTERN, description="Unique short name, e.g. `debian-shell`.")
    display_name: str = Field(min_length=1, max_length=128)
    image: str = Field(min_length=1, max_length=255)
    kind: TemplateKind = TemplateKind.TERMINAL
    description: str = ""
    shell_user: str = Field("user", pattern=r"^[a-z_][a-z0-9_-]{0,31}$|^root$")
    cpu_limit: float = Field(1.0, gt=0, le=64)
    memory_limit_mb: int = Field(512, ge=16, le=262144)
    default_duration_minutes: int = Field(60, ge=1, le=60 * 24 * 30)
    max_duration_minutes: int = Field(240, ge=1, le=60 * 24 * 30)
    max_sessions_per_user: int = Field(2, ge=1, le=1000)
    enabled: bool = True
    recording: bool = False
    record_input: bool = False
    idle_cpu_percent: float = Field(20.0, ge=1, le=6400)
    warm: int | WarmSchedule = 0

    @model_validator(mode="after")
    def _default_within_max(self) -> TemplateCreate:
        if self.default_duration_minutes > self.max_duration_minutes:
            raise ValueError("default_duration_minutes must not exceed max_duration_minutes")
        if self.kind == TemplateKind.HTTP and self.port is None:
            self.port = 8888
        return self


class TemplateUpdate(_TemplateFields):
    """Fields to change; absent fields keep their value."""


class TemplatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    display_name: str
    description: str
    image: str
    kind: str
    shell_user: str
    port: int | None
    cpu_limit: float
    memory_limit_mb: int
    default_duration_minutes: int
    max_duration_minutes: int
    max_sessions_per_user: int
    enabled: bool
    recording: bool
    record_input: bool
    idle_timeout_seconds: int | None
    idle_ignore_paths: list[str] | None
    idle_cpu_percent: float
    warm: int | dict[str, Any] = Field(
        description="Warm workspaces kept started ahead: a number or a schedule object."
    )
    environment_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels an environment must carry to run it."
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("environment_labels", mode="before")
    @classmethod
    def _labels_public(cls, value: Any) -> Any:
        return value or {}

    @field_validator("warm", mode="before")
    @classmethod
    def _warm_public(cls, value: Any) -> int | dict[str, Any]:
        return value if isinstance(value, int) else public_warm(value)
