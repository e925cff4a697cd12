"""A Git repository fetched with Debian's ``git`` (run with
``asyncio.create_subprocess_exec``, never through a shell), kept bare under a
directory of the data directory, one per Git stack.

Nothing from the repository runs here: the repository is bare (no checkout, no
hooks of its own), the global and system Git configuration are ignored, and
``GIT_ALLOW_PROTOCOL`` limits every transport (submodules included) to https,
http, ssh and, when allowed, file. Files leave it only through ``git archive`` and
``git cat-file``.

Credentials never reach the command line: an HTTPS login is answered by a
``GIT_ASKPASS`` script reading it from the child's environment; an SSH key is
written to a 0600 file for the fetch and removed after it. SSH host keys are pinned
on first use (``StrictHostKeyChecking=accept-new``) in a known_hosts file whose
text the caller keeps and gives back on the next fetch.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import os
import re
import shlex
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from moorage.errors import InvalidInput, RuntimeUnavailable

__all__ = [
    "GitCredential",
    "GitRepository",
    "check_path",
    "check_ref",
    "check_url",
    "is_ssh_url",
]

FETCH_TIMEOUT_SECONDS = 120
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+@-]{1,255}(?<![./])$")
_SCP_LIKE = re.compile(r"^(?!-)[A-Za-z0-9._-]+@(?!-)[A-Za-z0-9.-]+:(?!/?/)(?!-)[^\s]+$")
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$MOORAGE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$MOORAGE_GIT_PASSWORD" ;;
esac
"""


def is_ssh_url(url: str) -> bool:
    """True for ``ssh://…`` and scp-like ``user@host:path`` URLs."""
    return url.startswith("ssh://") or bool(_SCP_LIKE.match(url))


def check_url(url: str, *, allow_file: bool, with_password: bool = False) -> str:
    """``url`` when Git may fetch it: ``https://``, ``http://``, ``ssh://``,
    ``user@host:path`` and, with ``allow_file``, ``file://`` (``MOORAGE_GIT_ALLOW_FILE_URLS``).
    A login belongs in the stack's credential, never in the URL (which is stored,
    shown and passed on git's command line); and ``with_password`` (an HTTP login
    will be sent) refuses ``http://`` except to a loopback host, where nothing
    crosses a network in clear.

    Raises:
        InvalidInput: any other form (``ext::`` would run a command), a login in the
            URL, or a password over plain HTTP, field ``git.url``.
    """
    schemes = ("https://", "http://", "ssh://") + (("file://",) if allow_file else ())
    if any(c.isspace() for c in url) or url.startswith("-"):
        raise InvalidInput("a Git URL has no spaces and does not start with '-'", field="git.url")
    if url.startswith(("https://", "http://")):
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise InvalidInput(
                "put the login in the stack's credential (username, password), not in the URL",
                field="git.url",
            )
        if with_password and parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise InvalidInput(
                "a password or token is only sent over https:// (or http:// to this machine)",
                field="git.url",
            )
    if url.startswith("ssh://") and urlsplit(url).password is not None:
        raise InvalidInput(
            "put the SSH key in the stack's credential, not a password in the URL",
            field="git.url",
        )
    if url.startswith(schemes) or _SCP_LIKE.match(url):
        return url
    allowed = ", ".join(s.removesuffix("//") for s in schemes)
    raise InvalidInput(
        f"a Git URL starts with one of {allowed} or is user@host:path", field="git.url"
    )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_ref(ref: str) -> str:
    """``ref`` when it is a branch or tag name (``main``, ``v1.2``, ``refs/tags/v1``).
    Raises InvalidInput (field ``git.ref``)."""
    if not _REF.match(ref) or ref.endswith(".lock"):
        raise InvalidInput(f"not a branch or tag name: {ref!r}", field="git.ref")
    return ref


def check_path(path: str) -> str:
    """``path`` of the Compose file, relative to the repository's root, without ``..``.
    Raises InvalidInput (field ``git.path``)."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or "\\" in path or path.startswith("-"):
        raise InvalidInput(
            "the Compose file's path is relative to the repository, without '..'",
            field="git.path",
        )
    return str(PurePosixPath(*parts))


@dataclass(frozen=True)
class GitCredential:
    """An HTTPS login (``username``, ``password``: a password or an access token) or
    an SSH private key (OpenSSH or PEM text)."""

    username: str | None = None
    password: str | None = None
    ssh_private_key: str | None = None


class GitRepository:
    """A bare repository under ``root`` (``<data-dir>/git/<stack id>/``).

    Every method raises RuntimeUnavailable with Git's own message when Git fails or
    takes over :data:`FETCH_TIMEOUT_SECONDS`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git_dir = root / "repo.git"

    async def fetch(
        self,
        url: str,
        ref: str,
        credential: GitCredential | None,
        known_hosts: str | None,
        *,
        allow_file: bool,
    ) -> tuple[str, str | None]:
        """Fetch ``ref`` (a branch or tag) of ``url``; returns ``(commit id, known_hosts)``:
        the 40-hex commit and, for SSH, the known_hosts text to keep (with the host's
        key pinned when this was the first fetch)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (self.git_dir / "HEAD").is_file():
            await self._git("init", "--bare", "--quiet", str(self.git_dir), bare=False)
        env = self._env(allow_file)
        key_file = self.root / "id_key"
        hosts_file = self.root / "known_hosts"
        ssh = is_ssh_url(url)
        try:
            if credential and (credential.username or credential.password):
                askpass = self.root / "askpass"
                askpass.write_text(_ASKPASS)
                askpass.chmod(0o700)
                env |= {
                    "GIT_ASKPASS": str(askpass),
                    "MOORAGE_GIT_USERNAME": credential.username or "",
                    "MOORAGE_GIT_PASSWORD": credential.password or "",
                }
            if ssh:
                hosts_file.write_text(known_hosts or "")
                command = [
                    "ssh",
                    "-F",
                    os.devnull,
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=10",
                    "-o",
                    "StrictHostKeyChecking=accept-new",
                    "-o",
                    f"UserKnownHostsFile={hosts_file}",
                    "-o",
                    "IdentitiesOnly=yes",
                ]
                if credential and credential.ssh_private_key:
                    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(credential.ssh_private_key.strip() + "\n")
                    command += ["-i", str(key_file)]
                env["GIT_SSH_COMMAND"] = shlex.join(command)
            await self._git("fetch", "--no-tags", "--depth=1", "--quiet", "--", url, ref, env=env)
            commit = (await self._git("rev-parse", "--verify", "FETCH_HEAD^{commit}")).strip()
            pinned = hosts_file.read_text() if ssh and hosts_file.is_file() else None
        finally:
            key_file.unlink(missing_ok=True)
        return commit, pinned

    async def keep(self, name: str, commit: str) -> None:
        """Point ``refs/moorage/<name>`` at ``commit`` (so it outlives later fetches)."""
        await self._git("update-ref", f"refs/moorage/{name}", commit)

    async def read(self, commit: str, path: str) -> str | None:
        """The text of ``path`` at ``commit``, or None when it has no such file."""
        try:
            return await self._git("cat-file", "blob", f"{commit}:{path}")
        except RuntimeUnavailable:
            return None

    async def export(self, commit: str, directory: str, dest: Path) -> None:
        """Write the tree of ``directory`` (``""``: the root) at ``commit`` into ``dest``
        (created), with tarfile's ``data`` filter: no link or file leaves ``dest``, no
        device, no set-user-ID bit.

        Raises:
            InvalidInput: the tree holds such a link (field ``git.path``).
        """
        spec = f"{commit}:{directory}" if directory else commit
        data = await self._run("archive", "--format=tar", spec)
        if len(data) > MAX_ARCHIVE_BYTES:
            raise RuntimeUnavailable(
                f"the directory {directory or '/'} is over {MAX_ARCHIVE_BYTES >> 20} MiB"
            )
        try:
            await asyncio.to_thread(_extract, data, dest)
        except tarfile.FilterError as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise InvalidInput(
                f"the repository's files cannot be used here: {exc}", field="git.path"
            ) from exc

    def remove(self) -> None:
        """Delete the repository (the stack is forgotten)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def _env(self, allow_file: bool) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LANG": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ALLOW_PROTOCOL": "https:http:ssh" + (":file" if allow_file else ""),
            "GIT_DIR": str(self.git_dir),
        }

    async def _git(self, *args: str, env: dict[str, str] | None = None, bare: bool = True) -> str:
        return (await self._run(*args, env=env, bare=bare)).decode(errors="replace")

    async def _run(self, *args: str, env: dict[str, str] | None = None, bare: bool = True) -> bytes:
        environ = env or self._env(False)
        if not bare:
            environ = {k: v for k, v in environ.items() if k != "GIT_DIR"}
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=self.root,
            env=environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), FETCH_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise RuntimeUnavailable(
                f"git {args[0]} took over {FETCH_TIMEOUT_SECONDS} s", code="git_failed"
            ) from exc
        if process.returncode != 0:
            message = err.decode(errors="replace").strip()[-2000:] or f"exit {process.returncode}"
            raise RuntimeUnavailable(f"git {args[0]} failed: {message}", code="git_failed")
        return out


def _extract(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(dest, filter="data")
