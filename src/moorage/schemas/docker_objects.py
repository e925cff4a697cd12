"""Request bodies of the Docker management API that are not an environment's own:
networks and Compose stacks. Containers, images and registries are in
:mod:`moorage.schemas.environment`."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator

from moorage.schemas._input import InputModel, SshPrivateKey

__all__ = [
    "NETWORK_NAME_PATTERN",
    "GitApproval",
    "GitCredentialInput",
    "GitSource",
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


class GitCredentialInput(InputModel):
    """How to log in to a Git host: ``username`` and ``password`` (a password or an
    access token) over HTTPS, or ``ssh_private_key`` (unencrypted OpenSSH or PEM) over
    SSH. Sealed when stored, never shown again."""

    multi_line_fields: ClassVar[frozenset[str]] = frozenset({"ssh_private_key"})

    username: str | None = Field(None, min_length=1, max_length=255)
    password: SecretStr | None = Field(None, min_length=1, max_length=4096)
    ssh_private_key: SshPrivateKey | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.ssh_private_key is not None and (self.username or self.password):
            raise ValueError("give username/password (HTTPS) or ssh_private_key (SSH), not both")
        return self


class GitSource(InputModel):
    """Where a stack's Compose file comes from: the repository ``url`` (``https://``,
    ``ssh://``, ``user@host:path``), the branch or tag ``ref``, and the ``path`` of the
    Compose file in the repository (its folder is the stack's project directory)."""

    url: str = Field(min_length=1, max_length=1024)
    ref: str = Field("main", min_length=1, max_length=255)
    path: str = Field("compose.yaml", min_length=1, max_length=1024)
    credential: GitCredentialInput | None = None


class StackCreate(InputModel):
    """A new stack: its name (Compose's project name rule) and either its files
    (``compose``, ``env``) or a Git source (``git``, and ``env``, the ``.env`` kept in
    Moorage). For Git stacks: ``policy`` ``auto`` deploys every new commit, ``confirm``
    waits for an operator; ``poll_seconds`` (60 s to 7 days; null: webhooks only);
    ``health_timeout_seconds`` for the services to become healthy, or to run for
    ``stable_seconds`` when they have no healthcheck, before the previous commit is
    redeployed."""

    multi_line_fields: ClassVar[frozenset[str]] = frozenset({"compose", "env"})

    name: str = Field(min_length=1, max_length=63)
    compose: str | None = Field(
        None, min_length=1, max_length=512_000, description="compose.yaml text."
    )
    env: str = Field("", max_length=64_000, description=".env text.")
    git: GitSource | None = None
    policy: Literal["auto", "confirm"] = "auto"
    poll_seconds: int | None = Field(None, ge=60, le=7 * 86400)
    health_timeout_seconds: int = Field(120, ge=5, le=3600)
    stable_seconds: int = Field(5, ge=0, le=600)

    @model_validator(mode="after")
    def _files_or_git(self) -> Self:
        if (self.compose is None) == (self.git is None):
            raise ValueError("give either compose (the files) or git (a repository)")
        return self


class GitApproval(InputModel):
    """The pending commit an operator approves (its full id, as the stack shows it)."""

    commit: str = Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")
