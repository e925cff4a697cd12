"""Strict request bodies: the base model and field types every input schema uses.

* :class:`InputModel` refuses unknown fields, ``true``/``false`` where a number
  is expected (pydantic would read ``true`` as 1), and control characters (NUL,
  escape, newlines ...) in every string, list of strings and mapping of
  strings; fields named in ``multi_line_fields`` may hold tab, CR and LF.
* :data:`LeaseMinutes` / :data:`LeaseSeconds` bound durations to ten years, so
  no date arithmetic on them can overflow (``timedelta`` and ``datetime`` stop
  near year 9999); templates and pools set the real maximum.
* :data:`SshPrivateKey`, :data:`PemCertificates`, :data:`PemPrivateKey` are
  parsed (asyncssh, cryptography) so a malformed key is a 422 naming the field
  before anything is stored.

A refusal is a pydantic ``ValueError``; the API turns it into 422
``invalid_input`` with ``field`` set to the field's name.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

__all__ = [
    "MAX_LEASE_MINUTES",
    "MAX_LEASE_SECONDS",
    "InputModel",
    "LeaseMinutes",
    "LeaseSeconds",
    "PemCertificates",
    "PemPrivateKey",
    "SshPrivateKey",
]

MAX_LEASE_MINUTES = 10 * 365 * 24 * 60
"""Ten years of minutes (5,256,000): the schema-level ceiling of any duration."""
MAX_LEASE_SECONDS = MAX_LEASE_MINUTES * 60

LeaseMinutes = Annotated[int, Field(ge=1, le=MAX_LEASE_MINUTES)]
"""A duration in whole minutes, 1 to ten years."""
LeaseSeconds = Annotated[int, Field(ge=1, le=MAX_LEASE_SECONDS)]
"""A duration in whole seconds, 1 to ten years (services may ask for more, e.g. 10)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _accepts_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_accepts_bool(arg) for arg in typing.get_args(annotation))
    return False


def _find_control(value: Any, pattern: re.Pattern[str]) -> bool:
    if isinstance(value, str):
        return pattern.search(value) is not None
    if isinstance(value, SecretStr):
        return pattern.search(value.get_secret_value()) is not None
    if isinstance(value, list | tuple | set | frozenset):
        return any(_find_control(item, pattern) for item in value)
    if isinstance(value, dict):
        return any(_find_control(k, pattern) or _find_control(v, pattern) for k, v in value.items())
    return False


class InputModel(BaseModel):
    """Base of request bodies (see the module docstring for what it refuses).

    Subclasses list their multi-line text fields (descriptions, PEM and OpenSSH
    keys) in ``multi_line_fields``.
    """

    model_config = ConfigDict(extra="forbid")
    multi_line_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            if not _accepts_bool(cls.model_fields[info.field_name].annotation):
                raise ValueError("expected a number or text, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        multi_line = info.field_name in cls.multi_line_fields
        if _find_control(value, _CONTROL_BUT_LINES if multi_line else _CONTROL):
            allowed = " other than tab and line breaks" if multi_line else ""
            raise ValueError(f"must not contain control characters{allowed}")
        return value


def _ssh_private_key(value: SecretStr) -> SecretStr:
    import asyncssh  # heavy: loaded when a key is given, not by every server start

    try:
        asyncssh.import_private_key(value.get_secret_value())
    except (asyncssh.KeyImportError, ValueError, TypeError) as exc:
        raise ValueError(
            f"not an unencrypted OpenSSH or PEM private key ({exc})".replace("\n", " ")
        ) from exc
    return value


def _pem_certificates(value: SecretStr) -> SecretStr:
    from cryptography import x509  # its Rust core is MBs: loaded when a PEM is given

    try:
        certificates = x509.load_pem_x509_certificates(value.get_secret_value().encode())
    except ValueError as exc:
        raise ValueError("not PEM certificates (-----BEGIN CERTIFICATE-----)") from exc
    if not certificates:
        raise ValueError("no PEM certificate found")
    return value


def _pem_private_key(value: SecretStr) -> SecretStr:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(value.get_secret_value().encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("not an unencrypted PEM private key") from exc
    return value


SshPrivateKey = Annotated[SecretStr, AfterValidator(_ssh_private_key)]
"""An unencrypted private key in OpenSSH or PEM form (parsed by asyncssh)."""
PemCertificates = Annotated[SecretStr, AfterValidator(_pem_certificates)]
"""One or more X.509 certificates in PEM form (a certificate or a CA bundle)."""
PemPrivateKey = Annotated[SecretStr, AfterValidator(_pem_private_key)]
"""An unencrypted private key in PEM form (PKCS#1, PKCS#8 or SEC1)."""
