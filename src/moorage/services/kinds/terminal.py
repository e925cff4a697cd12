"""The ``terminal`` kind: no port; the browser's terminal is a Docker exec.

Ready when a command runs as the template's shell user in the container.

Warm (claimed from a pool): nothing to hand over; there is no secret, and the
owner, deadline and labels are the session's, set at the claim. The shell user
is the template's, the same for everyone.
"""

from __future__ import annotations

from moorage.models.template import TemplateKind
from moorage.services.kinds.base import StartedWorkspace, WorkspaceKind

__all__ = ["TerminalKind"]


class TerminalKind(WorkspaceKind):
    """A shell reached through Docker exec; publishes nothing."""

    name = TemplateKind.TERMINAL.value

    async def wait_ready(self, started: StartedWorkspace, timeout_seconds: float) -> None:
        """Ready once ``true`` runs as the shell user (see ``ContainerDriver.wait_usable``)."""
        await started.driver.wait_usable(
            started.container.id, started.template.shell_user, timeout_seconds
        )
