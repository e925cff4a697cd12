"""Git repositories made by tests and benchmarks: a bare repository on the local
filesystem and a working clone that commits and pushes to it (Debian's ``git``)."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from pathlib import Path

__all__ = ["BareRepo", "github_headers"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class BareRepo:
    """``<root>/origin.git`` (bare, the remote a stack fetches) and ``<root>/work``."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.bare = root / "origin.git"
        self.work = root / "work"
        self.branch = branch
        root.mkdir(parents=True, exist_ok=True)
        _git(root, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.bare))
        _git(root, "init", "--quiet", f"--initial-branch={branch}", str(self.work))
        _git(self.work, "remote", "add", "origin", str(self.bare))

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def push(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` (path: text), commit, push; the new commit's id."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        _git(self.work, "add", "--all")
        _git(self.work, "commit", "--quiet", "-m", message)
        _git(self.work, "push", "--quiet", "origin", self.branch)
        return _git(self.work, "rev-parse", "HEAD")


def github_headers(secret: str, body: bytes) -> dict[str, str]:
    """The headers of a GitHub push delivery signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }
