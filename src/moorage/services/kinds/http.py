"""The ``http`` kind: a web app on the template's port, behind Moorage's proxy.

The app is started with ``MOORAGE_BASE_URL=/s/<session-id>/`` and served there
by the reverse proxy (:mod:`moorage.gateway.http_proxy`), on the workspace
origin when one is configured; ready when that URL
answers 200 (redirects followed) through the published port.

The app requires a per-session token (the session's secret, delivered as the file
``$MOORAGE_SECRET_FILE``; Jupyter's token in ``images/jupyter``): only Moorage's
proxy sends it, as ``Authorization: token <t>`` (:func:`app_authorization`), so
the published port answers nobody else on the host.

Warm (claimed from a pool): the app was started with the base URL of the warm
workspace's id, which the session takes; its token stays, since nobody sees it
(only the proxy sends it, and only for the session's owner once it is theirs).
"""

from __future__ import annotations

import asyncio
import secrets
import time

from moorage.errors import RuntimeUnavailable
from moorage.models.template import Template, TemplateKind
from moorage.services.kinds.base import (
    KindEnvironment,
    KindPaths,
    StartedWorkspace,
    WorkspaceKind,
)

__all__ = ["DEFAULT_APP_PORT", "HttpKind", "app_authorization", "base_url", "wait_for_http_ok"]

DEFAULT_APP_PORT = 8888
"""The app's container port when the template names none."""


def base_url(session_id: str) -> str:
    """The path a session's web app is served under: ``/s/<session-id>/``."""
    return f"/s/{session_id}/"


def app_authorization(token: str) -> dict[str, str]:
    """The header Moorage sends the app with the session's token:
    ``{"Authorization": "token <token>"}`` (Jupyter's token scheme)."""
    return {"Authorization": f"token {token}"}


class HttpKind(WorkspaceKind):
    """A web app (a notebook, an IDE) proxied under the session's path."""

    name = TemplateKind.HTTP.value

    def ports(self, template: Template) -> tuple[int, ...]:
        """The template's ``port`` (default :data:`DEFAULT_APP_PORT`)."""
        return (template.port or DEFAULT_APP_PORT,)

    def environment(self, template: Template, session_id: str, password: str) -> KindEnvironment:
        """``MOORAGE_BASE_URL``: the path the app must serve under; the secret is a
        fresh random token (43 URL-safe characters) the app requires."""
        return KindEnvironment(
            env={"MOORAGE_BASE_URL": base_url(session_id)}, secret=secrets.token_urlsafe(32)
        )

    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Ready once the app answers 200 at its base URL on the published port."""
        (container_port,) = self.ports(started.template)
        host, port = await started.address(container_port)
        url = f"http://{host}:{port}"
        headers = app_authorization(started.secret) if started.secret else None
        await wait_for_http_ok(url + base_url(started.session_id), timeout_seconds, headers)

    def paths(self, session_id: str) -> KindPaths:
        """The app at ``/s/<session-id>/``: the same path on Moorage's origin
        (single-origin mode, sandboxed) and on the workspace origin
        (``Settings.workspace_origin``; ``Settings.workspace_app_url`` gives
        the whole URL), so the app's base URL never depends on the mode."""
        return KindPaths(app=base_url(session_id))


async def wait_for_http_ok(
    url: str, timeout_seconds: float, headers: dict[str, str] | None = None
) -> None:
    """Return once ``GET url`` with ``headers`` answers 200 (following redirects).

    Raises:
        RuntimeUnavailable: no 200 within ``timeout_seconds``.
    """
    import aiohttp

    deadline = time.monotonic() + timeout_seconds
    delay = 0.05
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        while True:
            try:
                async with client.get(url, headers=headers, allow_redirects=True) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + delay > deadline:
                raise RuntimeUnavailable(
                    f"the web app did not answer 200 within {timeout_seconds:.0f} s ({last})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
