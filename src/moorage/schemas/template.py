"""Template request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from moorage.models.template import TemplateKind
from moorage.schemas._input import InputModel

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
    created_at: datetime
    updated_at: datetime
