"""Password hashing with Argon2id (argon2-cffi, RFC 9106 parameters)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["generate_password", "hash_password", "verify_password"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id PHC string for ``password`` (``$argon2id$v=19$...``)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(length_bytes: int = 18) -> str:
    """A random URL-safe password (``length_bytes`` of entropy, ~1.33 chars per byte)."""
    return secrets.token_urlsafe(length_bytes)
