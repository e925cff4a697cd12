"""Request bodies of the Docker management API that are not an environment's own:
networks and Compose stacks. Containers, images and registries are in
:mod:`moorage.schemas.environment`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from moorage.schemas._input import InputModel

__all__ = [
    "NETWORK_NAME_PATTERN",
    "NetworkAttachment",
    "NetworkCreate",
    "StackCreate",
    "StackFiles",
]

NETWORK_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$"
"""Docker's network name rule (the engine refuses other names with a 500)."""


class NetworkCreate(InputModel):
    """A new bridge network; ``internal`` cuts it off from outside traffic."""

    name: str = Field(pattern=NETWORK_NAME_PATTERN)
    internal: bool = False
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)


class NetworkAttachment(InputModel):
    """A container (id or name) to connect or disconnect, with DNS aliases on connect."""

    container: str = Field(min_length=1, max_length=256)
    aliases: list[str] = Field(default_factory=list, max_length=16)
    force: bool = False


class StackFiles(InputModel):
    """A compose file and an optional ``.env`` (both multi-line text)."""

    multi_line_fields: ClassVar[frozenset[str]] = frozenset({"compose", "env"})

    compose: str = Field(min_length=1, max_length=512_000, description="compose.yaml text.")
    env: str = Field("", max_length=64_000, description=".env text.")


class StackCreate(StackFiles):
    """A new stack: its name (Compose's project name rule) and files."""

    name: str = Field(min_length=1, max_length=63)
