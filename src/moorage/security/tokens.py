"""Bearer tokens: ``mrg_<prefix>_<secret>``.

The prefix (10 hex chars) finds the row; only the SHA-256 of the whole token
is stored. SHA-256 rather than a slow hash because the secret part is 32
random bytes, which no dictionary can guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

__all__ = [
    "LOGIN_COOKIE_NAME",
    "NewToken",
    "generate_token",
    "hash_token",
    "parse_prefix",
    "token_matches",
]

TOKEN_MARK = "mrg"
LOGIN_COOKIE_NAME = "moorage_login"
"""The cookie a browser's login token travels in (HttpOnly, SameSite=Lax)."""


class NewToken(NamedTuple):
    """A freshly generated token: ``plaintext`` is shown once, ``prefix`` and ``hash`` stored."""

    plaintext: str
    prefix: str
    hash: str


def hash_token(token: str) -> str:
    """Hex SHA-256 of the token (64 chars)."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token(mark: str = TOKEN_MARK) -> NewToken:
    """A new ``<mark>_<prefix>_<secret>`` token. ``mark`` tells credentials of different
    kinds apart (``mrg`` for API and login tokens; share links use their own), so one
    can never be taken for the other."""
    prefix = secrets.token_hex(5)
    plaintext = f"{mark}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(plaintext, prefix, hash_token(plaintext))


def parse_prefix(token: str, mark: str = TOKEN_MARK) -> str | None:
    """The lookup prefix of a well-formed token of kind ``mark``, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != mark or len(parts[1]) != 10:
        return None
    return parts[1]


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with the stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)
