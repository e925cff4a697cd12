"""The step before an image update that may veto it: where a vulnerability scanner
(Grype, Trivy …) plugs in. Moorage ships no scanner; this is the plug-in point.

A hook is an async callable taking an :class:`UpdateCandidate` and returning None
(go ahead) or the reason it refuses, in plain words (``"3 critical CVEs in
127.0.0.1:5000/app@sha256:…"``). Hooks run in order, before the new image is pulled,
for every ``update`` policy (``notify`` policies change nothing, so nothing runs).
A hook that raises vetoes too (its error is the reason): a broken scanner must not
let an update through. A veto is recorded in the audit log
(``<container|stack>.update_vetoed``), notified, and shown as the policy's
status ``vetoed``; the next check asks the hooks again.

Hooks come from two places:

* installed packages declaring an entry point in the group
  :data:`ENTRY_POINT_GROUP` (``moorage.pre_update_hooks``), loaded at start-up, e.g.
  in a plug-in's ``pyproject.toml``::

      [project.entry-points."moorage.pre_update_hooks"]
      trivy = "moorage_trivy:scan"

* code that builds the services itself (tests), passing ``hooks=[…]`` to
  :class:`~moorage.services.docker.image_updates.ImageUpdateService`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

__all__ = ["ENTRY_POINT_GROUP", "PreUpdateHook", "UpdateCandidate", "first_veto", "load_hooks"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "moorage.pre_update_hooks"


@dataclass(frozen=True)
class UpdateCandidate:
    """An update about to be applied.

    Attributes:
        environment: the environment's name.
        target_kind: ``container`` or ``stack``.
        target_name: the container's or stack's name.
        images: for each image to change, ``(reference to pull, digest it has now at
            the registry)``: ``("127.0.0.1:5000/app:1.4", "sha256:…")``.
    """

    environment: str
    target_kind: str
    target_name: str
    images: tuple[tuple[str, str], ...]


PreUpdateHook = Callable[[UpdateCandidate], Awaitable[str | None]]
"""``async def hook(candidate) -> str | None``: None lets the update go on; a string
vetoes it and says why."""


def load_hooks() -> list[PreUpdateHook]:
    """The hooks installed packages declare under :data:`ENTRY_POINT_GROUP`, by entry
    point name. One that cannot be loaded is logged and left out."""
    hooks: list[PreUpdateHook] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            hooks.append(entry.load())
        except Exception:
            log.exception("pre-update hook %s cannot be loaded; left out", entry.name)
    return hooks


async def first_veto(hooks: list[PreUpdateHook], candidate: UpdateCandidate) -> str | None:
    """The first hook's refusal of ``candidate`` (a raising hook refuses with its
    error), or None when every hook lets it go."""
    for hook in hooks:
        name = getattr(hook, "__name__", type(hook).__name__)
        try:
            reason = await hook(candidate)
        except Exception as exc:
            log.exception("pre-update hook %s failed; the update is vetoed", name)
            return f"{name} failed: {type(exc).__name__}: {exc}"
        if reason:
            return f"{name}: {reason}"
    return None
