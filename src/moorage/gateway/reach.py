"""Where the gateway connects to a workspace's published port.

A workspace's engine publishes its ports on the publish address of the engine's
host (``MOORAGE_PUBLISH_ADDRESS``, loopback by default). For an engine on this
machine that is the address to connect to; for one on another host the
environment's driver gives a local end that carries the connection there (an
``ssh://`` environment: a port forwarded over its SSH connection), so the terminal
of an ``ssh`` workspace, a desktop, an RDP desktop through guacd, a thumbnail and
``/s/<id>/`` all work wherever the session runs
(:meth:`~moorage.drivers.base.ContainerDriver.reach`).
"""

from __future__ import annotations

from moorage.context import Context
from moorage.errors import Conflict
from moorage.models.session import WorkspaceSession

__all__ = ["published"]


async def published(
    context: Context, session: WorkspaceSession, container_port: int | str
) -> tuple[str, int]:
    """``(host, port)`` to connect to for ``container_port`` of ``session``'s container.

    Raises:
        Conflict: the session publishes no such port (``session_not_ready``).
        RuntimeUnavailable: the engine's host cannot be reached.
    """
    host_port = (session.ports or {}).get(str(container_port))
    if host_port is None:
        raise Conflict(
            "session %(session)s publishes no port %(port)s",
            params={"session": session.id, "port": str(container_port)},
            code="session_not_ready",
        )
    driver = context.drivers.get(session.environment)
    return await driver.reach(int(host_port), context.settings.publish_address)
