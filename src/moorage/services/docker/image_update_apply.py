"""What an image update finds and does on one engine, without the policy's bookkeeping
(that is :mod:`.image_updates`): read which images a container or a managed stack
runs and which digests the registry has for them; apply an update and roll it back
when the new containers do not become healthy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from moorage.drivers.docker import DockerDriver, containers, images
from moorage.drivers.docker.compose import compose, stack_dir
from moorage.drivers.docker.recreate import (
    PREVIOUS_SUFFIX,
    Replacement,
    image_state,
    replace_container,
    restore_container,
    retag,
    wait_healthy,
)
from moorage.drivers.registry import RegistryClient, RegistryLogin, RepositoryRef
from moorage.errors import InvalidInput, MoorageError, NotFound
from moorage.models.environment import Environment
from moorage.services.docker.update_rules import newest_in_range

__all__ = [
    "Finding",
    "Health",
    "apply_container",
    "apply_stack",
    "find",
    "recover_interrupted",
    "running_images",
]


@dataclass(frozen=True)
class Finding:
    """One image of a container or stack, compared with its registry.

    Attributes:
        reference: the image as the container or Compose file names it
            (``127.0.0.1:5000/app:1.4``).
        image_id: the local image's id (None: not present here).
        current_digest: the registry digest of the local image, from its
            ``RepoDigests`` (None: never pulled or pushed, so unknown).
        target: what an update pulls: ``reference``, or the same repository at the
            newest tag of the semver range.
        target_digest: the digest ``target`` has at the registry now.
    """

    reference: str
    image_id: str | None
    current_digest: str | None
    target: str
    target_digest: str

    @property
    def newer(self) -> bool:
        """Whether the registry has something else than what runs."""
        return self.target != self.reference or self.target_digest != self.current_digest


@dataclass(frozen=True)
class Health:
    """How long new containers have to become healthy (see
    :func:`~moorage.drivers.docker.recreate.wait_healthy`)."""

    timeout_seconds: float
    stable_seconds: float


def split_image(reference: str) -> tuple[RepositoryRef, str]:
    """The registry repository and tag of ``reference``.

    Raises:
        InvalidInput: pinned by digest, or without a registry host (field ``image``).
    """
    name, _, digest = reference.partition("@")
    if digest:
        raise InvalidInput(f"{reference} is pinned by digest: nothing to update", field="image")
    repository, tag = name, "latest"
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    first, _, rest = repository.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        raise InvalidInput(
            f"{reference} names no registry host (host/name:tag); image updates read the "
            "registry the reference names",
            field="image",
        )
    return RepositoryRef(first, rest), tag


async def running_images(
    driver: DockerDriver, environment: Environment, data_dir: Path, kind: str, name: str
) -> list[tuple[str, str | None]]:
    """``[(reference, image id)]``: the image container ``name`` was created from and
    the id it runs (which the tag may no longer name here), or the image references
    the services of managed stack ``name`` name (its Compose file as ``docker-compose
    config`` resolves it; id None: whatever the tag names here).

    Raises:
        NotFound: no such container, or no managed stack of that name.
    """
    if kind == "container":
        info = await containers.inspect_container(driver, name)
        return [(info["Config"]["Image"], info["Image"])]
    files = stack_dir(data_dir, environment, name)
    if not files.compose_file.is_file():
        raise NotFound(f"no managed stack named {name!r}", code="stack_not_found")
    resolved = json.loads(await compose(environment, files, name, "config", "--format", "json"))
    found = {s["image"] for s in (resolved.get("services") or {}).values() if s.get("image")}
    return [(reference, None) for reference in sorted(found)]


async def find(
    driver: DockerDriver,
    registry: RegistryClient,
    reference: str,
    image_id: str | None,
    login: RegistryLogin | None,
    semver_range: str | None,
) -> Finding:
    """Compare image ``image_id`` (None: the one ``reference`` names here) with what
    ``reference`` names at its registry (its tag, and with ``semver_range`` the newest
    tag inside it).

    Raises:
        InvalidInput: see :func:`split_image`. NotFound: the registry has no such
            tag. RuntimeUnavailable: the registry or the engine failed.
    """
    repo, tag = split_image(reference)
    image_id, repo_digests = await image_state(driver, image_id or reference)
    local = [d.partition("@")[2] for d in repo_digests if d.partition("@")[0] == repo_path(repo)]
    target, target_tag = reference, tag
    if semver_range:
        newer_tag = newest_in_range(await registry.tags(repo, login), tag, semver_range)
        if newer_tag is not None:
            target, target_tag = f"{repo_path(repo)}:{newer_tag}", newer_tag
    digest = await registry.digest(repo, target_tag, login)
    current = digest if digest in local else (local[0] if local else None)
    return Finding(reference, image_id, current, target, digest)


def repo_path(repo: RepositoryRef) -> str:
    """``host/name``, as ``RepoDigests`` and ``RepoTags`` write a repository."""
    return f"{repo.host}/{repo.name}"


async def recover_interrupted(driver: DockerDriver, name: str) -> str | None:
    """Roll back an update of container ``name`` that a crash interrupted: when
    ``<name>-moorage-previous`` is still there, remove the new ``name`` (its health was
    never confirmed) and put the previous one back. Returns what was done, or None
    when there was nothing to recover."""
    try:
        previous = await containers.inspect_container(driver, f"{name}{PREVIOUS_SUFFIX}")
    except NotFound:
        return None
    try:
        current = await containers.inspect_container(driver, name)
        new_id = current["Id"]
    except NotFound:
        new_id = ""
    await restore_container(
        driver,
        Replacement(new_id, previous["Id"], f"{name}{PREVIOUS_SUFFIX}", name, was_running=True),
    )
    return f"an interrupted update of {name} was rolled back to the previous container"


async def _pull(driver: DockerDriver, reference: str, auth: dict[str, str] | None) -> None:
    async for _ in images.pull_image(driver, reference, auth):
        pass


async def apply_container(
    driver: DockerDriver,
    name: str,
    finding: Finding,
    auth: dict[str, str] | None,
    health: Health,
) -> str | None:
    """Pull ``finding.target``, replace container ``name`` by a copy from it, wait for
    health. Returns None when the new container is healthy (the old one is then
    removed), else why it was not: the old container is back under its name and
    running, and the tag points at the old image again.

    Raises:
        RuntimeUnavailable: the pull failed (nothing was changed).
    """
    await _pull(driver, finding.target, auth)
    reason: str | None
    try:
        replacement = await replace_container(driver, name, finding.target)
    except MoorageError as exc:
        reason = f"the new container could not start: {exc.message}"
    else:
        reason = await wait_healthy(
            driver,
            [replacement.new_id],
            timeout_seconds=health.timeout_seconds,
            stable_seconds=health.stable_seconds,
        )
        if reason is None:
            await containers.remove_container(driver, replacement.old_id)
            return None
        await restore_container(driver, replacement)
    if finding.image_id and finding.target == finding.reference:
        await retag(driver, finding.image_id, finding.reference)
    return reason


async def apply_stack(
    driver: DockerDriver,
    environment: Environment,
    data_dir: Path,
    name: str,
    findings: list[Finding],
    auth: dict[str, dict[str, str] | None],
    health: Health,
) -> str | None:
    """Pull the newer images of managed stack ``name``, ``docker-compose up`` it, wait
    for every container of the project to be healthy. Returns None when they are,
    else why not, after pointing the tags at the old images again and bringing the
    stack up on them.

    Raises:
        RuntimeUnavailable: a pull failed (nothing was changed).
    """
    for finding in findings:
        await _pull(driver, finding.reference, auth.get(finding.reference))
    files = stack_dir(data_dir, environment, name)
    up = ("up", "--detach", "--remove-orphans")
    try:
        await compose(environment, files, name, *up)
    except MoorageError as exc:
        reason: str | None = f"docker-compose up failed: {exc.message}"
    else:
        running = await containers.list_containers(driver, stack=name)
        reason = await wait_healthy(
            driver,
            [c["id"] for c in running],
            timeout_seconds=health.timeout_seconds,
            stable_seconds=health.stable_seconds,
        )
    if reason is None:
        return None
    for finding in findings:  # back to the old images
        if finding.image_id:
            await retag(driver, finding.image_id, finding.reference)
    await compose(environment, files, name, *up)
    return reason
