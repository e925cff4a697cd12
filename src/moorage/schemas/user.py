"""User and login models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from moorage.models.user import Role
from moorage.schemas._input import InputModel

__all__ = ["LoginRequest", "TokenCreate", "TokenCreated", "UserCreate", "UserPublic"]


class LoginRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserCreate(InputModel):
    username: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=8, max_length=1024)
    role: Role = Role.MEMBER
    display_name: str = Field("", max_length=128)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    display_name: str
    role: str
    is_active: bool
    created_at: datetime


class TokenCreate(InputModel):
    name: str = Field("", max_length=128, description="A label to recognise the token by.")


class TokenCreated(BaseModel):
    token: str = Field(description="The bearer token. Shown once; store it now.")
    name: str
