"""Signatures of Git hosting webhooks, checked against a Git stack's secret.

Formats (each host's documentation):

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``
  (docs.github.com, "Validating webhook deliveries");
* Gitea and Forgejo: ``X-Gitea-Signature`` (Forgejo also sends
  ``X-Forgejo-Signature``): ``<hex HMAC-SHA256 of the body>``;
* GitLab: ``X-Gitlab-Token: <the secret itself>`` (GitLab signs nothing).

Every comparison is :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from moorage.errors import Unauthenticated

__all__ = ["sign_github", "verify_webhook"]


def sign_github(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """The format (``github``, ``gitea``, ``gitlab``) whose header carries a valid
    signature of ``body`` with ``secret``; headers are looked up case-insensitively
    (Starlette's ``Headers`` is).

    Raises:
        Unauthenticated: no signature header (code ``webhook_unsigned``), or a wrong
            one (code ``webhook_signature``).
    """
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    checks = (
        ("github", "x-hub-signature-256", f"sha256={digest}"),
        ("gitea", "x-gitea-signature", digest),
        ("gitea", "x-forgejo-signature", digest),
        ("gitlab", "x-gitlab-token", secret),
    )
    for kind, header, expected in checks:
        given = headers.get(header)
        if given is None:
            continue
        if hmac.compare_digest(given.strip().encode(), expected.encode()):
            return kind
        raise Unauthenticated(f"the {header} header does not match", code="webhook_signature")
    raise Unauthenticated(
        "no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token header",
        code="webhook_unsigned",
    )
