"""Client TLS for TCP Docker endpoints (``dockerd --tlsverify``); the keyring contexts
of an environment's sealed secrets."""

from __future__ import annotations

import hashlib
import os
import ssl
from pathlib import Path

from moorage.models.environment import Environment
from moorage.security.crypto import Keyring

__all__ = ["CA_CONTEXT", "CERT_CONTEXT", "KEY_CONTEXT", "SSH_KEY_CONTEXT", "tls_context"]

CA_CONTEXT = "environment.tls_ca"
CERT_CONTEXT = "environment.tls_cert"
KEY_CONTEXT = "environment.tls_key"
SSH_KEY_CONTEXT = "environment.ssh_key"


def tls_context(
    environment: Environment, keyring: Keyring, data_dir: Path
) -> ssl.SSLContext | None:
    """An SSL context verifying the engine with the environment's CA and presenting its
    client certificate, or None when the environment has no TLS material.

    The certificate and key are opened from the keyring and written, for the
    ``ssl`` module's file-only loader, to ``<data-dir>/tls/<hash>/`` (mode 0600).
    """
    if not (environment.tls_ca_sealed or environment.tls_cert_sealed):
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if environment.tls_ca_sealed:
        context.load_verify_locations(cadata=keyring.open(environment.tls_ca_sealed, CA_CONTEXT))
    if environment.tls_cert_sealed and environment.tls_key_sealed:
        cert = keyring.open(environment.tls_cert_sealed, CERT_CONTEXT)
        key = keyring.open(environment.tls_key_sealed, KEY_CONTEXT)
        folder = (
            data_dir / "tls" / hashlib.sha256((cert + environment.id).encode()).hexdigest()[:16]
        )
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        paths = {}
        for name, text in (("cert.pem", cert), ("key.pem", key)):
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            paths[name] = path
        context.load_cert_chain(paths["cert.pem"], paths["key.pem"])
    return context
