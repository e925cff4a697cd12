"""Group and quota request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from moorage.schemas._input import MAX_LEASE_MINUTES, InputModel

__all__ = ["GroupCreate", "GroupList", "GroupPublic", "GroupUpdate", "QuotaFields", "QuotaPublic"]


class QuotaFields(InputModel):
    """Limits on what the users of a group (or an org) hold together; null: no limit.
    See :mod:`moorage.services.quotas`."""

    max_live_sessions: int | None = Field(None, ge=0, le=100000, description="Live sessions.")
    max_cpu_cores: float | None = Field(
        None, ge=0, le=100000, description="CPU cores of running sessions (templates' limits)."
    )
    max_memory_mb: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Memory of running sessions, MiB."
    )
    max_reserved_machines: int | None = Field(
        None, ge=0, le=100000, description="Pool machines held by live reservations."
    )
    max_lease_minutes: int | None = Field(
        None, ge=1, le=MAX_LEASE_MINUTES, description="Longest lease, extensions included."
    )


class GroupCreate(QuotaFields):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="e.g. `class-3b`.")
    display_name: str = Field("", max_length=128)


class GroupUpdate(QuotaFields):
    """Fields to change; absent fields keep their value (a quota set to null: no limit)."""

    display_name: str | None = Field(None, max_length=128)


class QuotaPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    max_live_sessions: int | None
    max_cpu_cores: float | None
    max_memory_mb: int | None
    max_reserved_machines: int | None
    max_lease_minutes: int | None


class GroupPublic(QuotaPublic):
    id: str
    name: str
    display_name: str
    created_at: datetime
    members: list[str] = Field(default_factory=list, description="Usernames.")


class GroupList(InputModel):
    """The groups allowed on a template or pool (empty: everyone of the org)."""

    groups: list[str] = Field(max_length=200)
