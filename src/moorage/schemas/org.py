"""Org models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from moorage.models.user import Role
from moorage.schemas._input import InputModel

__all__ = ["OrgAdminCreate", "OrgApiKeyCreate", "OrgCreate", "OrgUpdate"]


class OrgAdminCreate(InputModel):
    """The new org's first admin."""

    username: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=8, max_length=256)


class OrgCreate(InputModel):
    name: str = Field(min_length=1, max_length=28, description="[a-z_][a-z0-9_.-]*")
    display_name: str = Field("", max_length=128)
    admin: OrgAdminCreate | None = Field(
        None, description="The org's first admin (username, password); none: add one later."
    )


class OrgApiKeyCreate(InputModel):
    name: str = Field("org API key", min_length=1, max_length=128, description="A label.")


class OrgUpdate(InputModel):
    """``PATCH /api/v1/orgs/{name}``: absent (or null) fields are kept."""

    name: str | None = Field(
        None, min_length=1, max_length=28, description="A new name (platform admins)."
    )
    display_name: str | None = Field(None, min_length=1, max_length=128)
    placement_policy: Literal["spread", "pack"] | None = Field(
        None,
        description="How launches pick an environment: `spread` (the most free room) or "
        "`pack` (the least free room that fits).",
    )

    two_factor_required_roles: list[Role] | None = Field(
        None,
        max_length=5,
        description="Roles whose users must sign in with a second factor (TOTP); [] for none.",
    )
