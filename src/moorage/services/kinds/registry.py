"""The launchable workspace kinds, by ``Template.kind``."""

from __future__ import annotations

from moorage.errors import InvalidInput
from moorage.services.kinds.base import WorkspaceKind
from moorage.services.kinds.http import HttpKind
from moorage.services.kinds.rdp import RdpKind
from moorage.services.kinds.ssh import SshKind
from moorage.services.kinds.terminal import TerminalKind
from moorage.services.kinds.vnc import VncKind

__all__ = ["KINDS", "kind_for"]

KINDS: dict[str, WorkspaceKind] = {
    kind.name: kind for kind in (TerminalKind(), SshKind(), VncKind(), RdpKind(), HttpKind())
}
"""Every kind that can be launched, by name."""


def kind_for(name: str) -> WorkspaceKind:
    """The kind named ``name`` (a ``Template.kind`` value).

    Raises:
        InvalidInput: no such kind can be launched (field ``template``, 422).
    """
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidInput(
            "templates of kind %(kind)r cannot be launched yet",
            params={"kind": name},
            field="template",
        )
    return kind
