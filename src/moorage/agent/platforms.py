"""What differs between the platforms the agent runs on (Linux, macOS, Windows), in one
place: where the config file lives and how it is locked down, how the load average is
read, which signals stop the agent, where the Docker engine listens.

Every function takes the platform as a :class:`Platform` (default: this machine's,
from ``sys.platform`` and ``os.environ``), so each branch runs in the unit tests on
Linux. Paths of another platform are ``PurePath`` objects of that platform's flavour;
:meth:`Platform.config_path` is a real ``Path`` when the platform is this machine's.

Windows facts and their sources:

- the config file is ``%ProgramData%\\Moorage\\agent.toml`` (``ProgramData`` is the
  machine-wide data folder, ``C:\\ProgramData`` by default);
- its ACL is set with ``icacls`` (argv, never a shell string): inheritance removed,
  full control for Administrators (``S-1-5-32-544``) and SYSTEM (``S-1-5-18``) only.
  SIDs, not names, because the group names are translated ("Administrateurs");
- ``os.getloadavg`` does not exist there; ``psutil.getloadavg`` emulates it from the
  processor queue length (zeros for its first five seconds);
- the Docker engine listens on the named pipe ``\\\\.\\pipe\\docker_engine``, read
  with :class:`NamedPipeTransport`;
- a scheduled task or service is stopped with ``SIGBREAK`` (Ctrl+Break) or
  terminated; ``SIGTERM`` is only raised by the process itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

import httpcore
import httpx
import psutil

__all__ = [
    "ADMINISTRATORS_SID",
    "DOCKER_PIPE",
    "DOCKER_SOCKET",
    "SYSTEM_SID",
    "NamedPipeTransport",
    "Platform",
    "this_platform",
]

ADMINISTRATORS_SID = "S-1-5-32-544"
SYSTEM_SID = "S-1-5-18"
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_PIPE = r"\\.\pipe\docker_engine"
POSIX_CONFIG = PurePosixPath("/etc/moorage-agent.json")

Runner = Callable[..., Any]


@dataclass(frozen=True)
class Platform:
    """A platform's facts. ``name`` is a ``sys.platform`` value (``linux``, ``darwin``,
    ``win32``); ``environ`` its environment (for ``%ProgramData%``); ``run`` runs a
    command (``subprocess.run``; tests record the argv instead)."""

    name: str = sys.platform
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run: Runner = field(default=subprocess.run, compare=False, repr=False)

    @property
    def is_windows(self) -> bool:
        """True on Windows (``win32``; ``cygwin`` is a POSIX layer and counts as POSIX)."""
        return self.name == "win32"

    @property
    def is_native(self) -> bool:
        """True when this is the machine the code runs on (not a test's stand-in)."""
        return self.name == sys.platform

    def _path(self, *parts: str) -> PurePath:
        flavour = PureWindowsPath if self.is_windows else PurePosixPath
        path = flavour(*parts)
        return Path(path) if self.is_native else path

    def config_path(self) -> PurePath:
        """The default config file: ``%ProgramData%\\Moorage\\agent.toml`` on Windows
        (``C:\\ProgramData`` when the variable is unset), ``/etc/moorage-agent.json``
        elsewhere. A ``Path`` on this machine, a ``PurePath`` of the other flavour in
        tests."""
        if self.is_windows:
            data = self.environ.get("ProgramData") or self.environ.get("PROGRAMDATA")
            return self._path(data or r"C:\ProgramData", "Moorage", "agent.toml")
        return self._path(str(POSIX_CONFIG))

    def docker_endpoint(self) -> str:
        """Where the Docker engine listens: its named pipe on Windows, its Unix socket
        elsewhere."""
        return DOCKER_PIPE if self.is_windows else DOCKER_SOCKET

    def docker_transport(self, endpoint: str | None = None) -> httpx.BaseTransport | None:
        """An httpx transport to the Docker engine at ``endpoint`` (default
        :meth:`docker_endpoint`), or None when it cannot be opened by this process (no
        engine, no permission). Requests go to ``http://docker/…``."""
        endpoint = endpoint or self.docker_endpoint()
        if self.is_windows:
            return NamedPipeTransport(endpoint) if os.path.exists(endpoint) else None
        if os.access(endpoint, os.R_OK | os.W_OK):
            return httpx.HTTPTransport(uds=endpoint)
        return None

    def load1(self, getloadavg: Callable[[], Sequence[float]] | None = None) -> float:
        """The 1-minute load average: ``os.getloadavg`` on POSIX, psutil's emulation on
        Windows (0.0 during its first five seconds). ``getloadavg`` is for tests."""
        if getloadavg is None:
            getloadavg = psutil.getloadavg if self.is_windows else os.getloadavg
        try:
            return max(0.0, float(getloadavg()[0]))
        except OSError:  # no /proc/loadavg (some containers): degrade, do not crash
            return 0.0

    def stop_signals(self) -> list[signal.Signals]:
        """The signals that should stop the agent cleanly: ``SIGTERM`` (systemd,
        launchd, ``kill``) and, on Windows, ``SIGBREAK`` (Ctrl+Break to its console).
        Only those this interpreter defines are returned."""
        names = ["SIGTERM", "SIGBREAK"] if self.is_windows else ["SIGTERM"]
        return [getattr(signal, n) for n in names if hasattr(signal, n)]

    def lock_down_argv(self, path: PurePath | str) -> list[str] | None:
        """The command that limits ``path`` to Administrators and SYSTEM on Windows
        (``icacls PATH /inheritance:r /grant:r *S-1-5-32-544:(F) *S-1-5-18:(F)``;
        ``(OI)(CI)`` added for a folder); None on POSIX, where the mode does it."""
        if not self.is_windows:
            return None
        inherit = "(OI)(CI)" if str(path).endswith(("\\", "/")) else ""
        target = str(path).rstrip("\\/") or str(path)
        return [
            "icacls",
            target,
            "/inheritance:r",
            "/grant:r",
            f"*{ADMINISTRATORS_SID}:{inherit}(F)",
            f"*{SYSTEM_SID}:{inherit}(F)",
        ]

    def lock_down(self, path: Path, *, folder: bool = False) -> None:
        """Make ``path`` readable by its owner only: mode 0600 (0700 for a folder) on
        POSIX, the ACL of :meth:`lock_down_argv` on Windows (run with ``self.run``).

        Raises:
            OSError: the mode or ACL could not be set (``icacls`` missing or failing);
                the caller must not leave a credential in a file it could not lock.
        """
        argv = self.lock_down_argv(f"{path}\\" if folder else path)
        if argv is None:
            os.chmod(path, 0o700 if folder else 0o600)
            return
        try:
            done = self.run(argv, capture_output=True, text=True, check=False, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise OSError(f"cannot run icacls on {path}: {exc}") from exc
        if done.returncode != 0:
            raise OSError(f"icacls {path} failed ({done.returncode}): {done.stdout}{done.stderr}")


def this_platform() -> Platform:
    """This machine's platform."""
    return Platform()


class _PipeStream(httpcore.NetworkStream):
    """A byte stream over an open file (a Windows named pipe opened with ``open``)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return bytes(self._handle.read(max_bytes) or b"")

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        while view:
            written = self._handle.write(view)
            view = view[written or 0 :]
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class _PipeBackend(httpcore.NetworkBackend):
    def __init__(self, path: str, opener: Callable[[str], Any]) -> None:
        self._path, self._opener = path, opener

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            return _PipeStream(self._opener(self._path))
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc


class NamedPipeTransport(httpx.HTTPTransport):
    """HTTP/1.1 over a Windows named pipe (the Docker engine's ``\\\\.\\pipe\\docker_engine``):
    each connection opens the pipe as a file. ``opener`` (default: unbuffered
    read/write ``open``) is injected for tests, which run it over a Unix socket."""

    def __init__(self, path: str, opener: Callable[[str], Any] | None = None) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            network_backend=_PipeBackend(path, opener or (lambda p: open(p, "r+b", buffering=0))),
            max_connections=1,
        )
