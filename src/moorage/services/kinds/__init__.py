"""Workspace kinds, one module each: ``terminal``, ``ssh``, ``vnc``, ``rdp``, ``http``.

:mod:`.base` holds the contract (:class:`WorkspaceKind`), :mod:`.registry` the
lookup (:func:`kind_for`), :mod:`.rfb` the VNC handshake shared with the
desktop gateway.
"""

from moorage.services.kinds.base import (
    KindEnvironment,
    KindPaths,
    StartedWorkspace,
    WorkspaceKind,
)
from moorage.services.kinds.registry import KINDS, kind_for

__all__ = [
    "KINDS",
    "KindEnvironment",
    "KindPaths",
    "StartedWorkspace",
    "WorkspaceKind",
    "kind_for",
]
