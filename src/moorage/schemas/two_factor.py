"""Two-factor sign-in models (:mod:`moorage.services.two_factor`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel

__all__ = [
    "RecoveryCodes",
    "TwoFactorCode",
    "TwoFactorDisable",
    "TwoFactorPublic",
    "TwoFactorSetup",
]


class TwoFactorCode(InputModel):
    code: str = Field(min_length=1, max_length=64, description="A 6-digit TOTP code.")


class TwoFactorDisable(InputModel):
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=64, description="A TOTP code or a recovery code.")


class TwoFactorSetup(BaseModel):
    secret: str = Field(description="The base32 secret, for typing into an app by hand.")
    otpauth_uri: str = Field(description="otpauth://totp/… (Key URI Format).")
    qr_svg: str = Field(description="The URI as a QR code, an inline <svg> element.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown once.")


class TwoFactorPublic(BaseModel):
    enabled: bool
    recovery_codes_left: int
    required: bool = Field(description="The org requires it of the user's role.")
