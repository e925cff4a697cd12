"""Encrypted secrets: AES-256-GCM (``cryptography``) with a key id in every value.

Stored format (ASCII)::

    v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>

* the key id is the first 12 hex digits of SHA-256 of the key, so a value
  names the key that sealed it and keys can be rotated: new values use the
  current key, old values still open with a retired key kept in the keyring;
* the 96-bit nonce is random per value (NIST SP 800-38D, 8.2.2);
* ``context`` is bound as associated data, so a value sealed for one field
  (``"machine.password"``) cannot be replayed into another.

Keys come from ``MOORAGE_SECRET_KEY`` (any string of at least 32 characters;
it is stretched with SHA-256 to 32 bytes), else from ``<data-dir>/secret.key``,
generated on first use (32 random bytes, base64, mode 0600). Retired keys are
listed in ``MOORAGE_OLD_SECRET_KEYS`` (comma-separated).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from moorage.errors import InvalidInput, MoorageError

__all__ = ["KEY_FILE", "Keyring", "SecretError", "load_keyring"]

KEY_FILE = "secret.key"
_VERSION = "v1"
_NONCE_BYTES = 12


class SecretError(MoorageError):
    """A stored secret cannot be opened: unknown key id, tampering, wrong context."""

    status_code = 500
    default_code = "secret_unreadable"


def _derive(material: str) -> bytes:
    return hashlib.sha256(material.encode()).digest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


class Keyring:
    """The current key and retired keys.

    Args:
        current: 32-byte AES-256 key used to seal new values.
        retired: older 32-byte keys that still open values they sealed.
    """

    def __init__(self, current: bytes, retired: list[bytes] | None = None) -> None:
        if len(current) != 32 or any(len(k) != 32 for k in retired or []):
            raise ValueError("AES-256 keys are 32 bytes")
        self.current_id = _key_id(current)
        self._keys = {_key_id(k): k for k in [*(retired or []), current]}

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext`` for the field named ``context``; returns the stored format."""
        # cryptography's Rust core is MBs of memory: loaded on the first secret sealed.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_VERSION}:{self.current_id}:{body}"

    def open(self, stored: str, context: str) -> str:
        """Decrypt a value made by :meth:`seal` with the same ``context``.

        Raises:
            SecretError: malformed value, a key id not in the keyring, or a value
                that fails authentication (tampered, or sealed for another context).
        """
        try:
            version, key_id, body = stored.split(":", 2)
            raw = base64.urlsafe_b64decode(body.encode())
        except ValueError as exc:
            raise SecretError("a stored secret is malformed") from exc
        if version != _VERSION:
            raise SecretError(f"a stored secret has unknown format {version!r}")
        key = self._keys.get(key_id)
        if key is None:
            raise SecretError(
                f"a stored secret was sealed with key {key_id}, which is not configured; "
                "add the old key to MOORAGE_OLD_SECRET_KEYS"
            )
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plaintext = AESGCM(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag as exc:
            raise SecretError("a stored secret failed authentication") from exc
        return plaintext.decode()

    def needs_rotation(self, stored: str) -> bool:
        """True when ``stored`` was sealed with a retired key."""
        return stored.split(":", 2)[1:2] != [self.current_id]


def load_keyring(data_dir: Path, secret_key: str | None, old_keys: str | None) -> Keyring:
    """The keyring from settings, generating ``<data_dir>/secret.key`` when no key is set.

    Raises:
        InvalidInput: ``MOORAGE_SECRET_KEY`` shorter than 32 characters.
    """
    if secret_key:
        if len(secret_key) < 32:
            raise InvalidInput(
                "MOORAGE_SECRET_KEY must be at least 32 characters", field="secret_key"
            )
        current = _derive(secret_key)
    else:
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        current = base64.b64decode(path.read_text().strip())
    retired = [_derive(k.strip()) for k in (old_keys or "").split(",") if k.strip()]
    return Keyring(current, retired)
