"""Org models."""

from __future__ import annotations

from pydantic import Field

from moorage.schemas._input import InputModel

__all__ = ["OrgApiKeyCreate", "OrgCreate"]


class OrgCreate(InputModel):
    name: str = Field(min_length=1, max_length=28, description="[a-z_][a-z0-9_.-]*")
    display_name: str = Field("", max_length=128)


class OrgApiKeyCreate(InputModel):
    name: str = Field("org API key", min_length=1, max_length=128, description="A label.")
