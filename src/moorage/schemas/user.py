"""User and login models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from moorage.models.token import TokenScope
from moorage.models.user import Role
from moorage.schemas._input import InputModel
from moorage.schemas.two_factor import TwoFactorPublic

__all__ = [
    "LoginRequest",
    "MePublic",
    "PasswordChange",
    "PasswordReset",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]


class LoginRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    code: str | None = Field(
        None,
        max_length=64,
        description="A TOTP code or a recovery code, for users with two-factor sign-in.",
    )


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
    groups: list[str] = Field(
        default_factory=list, description="Names of the user's groups (admins' lists)."
    )


class MePublic(UserPublic):
    """``GET /api/v1/auth/me``: the user and the state of their second factor."""

    two_factor: TwoFactorPublic


class UserUpdate(InputModel):
    """``PATCH /api/v1/users/{id}``: any of these; absent (or null) fields are kept."""

    display_name: str | None = Field(None, min_length=1, max_length=128)
    role: Role | None = None
    groups: list[str] | None = Field(
        None, max_length=200, description="The user's groups, by name (replaces them all)."
    )
    is_active: bool | None = Field(
        None,
        description="False disables the user: their live sessions and reservations are "
        "released and their tokens revoked. True enables them again.",
    )
    password: str | None = Field(
        None, min_length=8, max_length=1024, description="A new password; signs them out."
    )


class PasswordReset(BaseModel):
    password: str = Field(description="The new random password. Shown once.")


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class TokenCreate(InputModel):
    name: str = Field("", max_length=128, description="A label to recognise the token by.")
    scope: TokenScope = Field(
        TokenScope.WRITE,
        description="`read`: GET and HEAD only (no change, no terminal); `write`: all "
        "the user may do.",
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Days until the token stops working; absent: never."
    )


class TokenCreated(BaseModel):
    token: str = Field(description="The bearer token. Shown once; store it now.")
    name: str
    scope: str = TokenScope.WRITE.value
    expires_at: datetime | None = None


class TokenPublic(BaseModel):
    """One of the caller's API tokens (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The token's lookup part: `mrg_<prefix>_…`.")
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
