"""Running one action the hub handed back, never through a shell, with its timeout; the
result is what ``POST /api/v1/agents/actions/{id}/result`` takes
(:class:`moorage.schemas.fleet.ActionResult`).

An action is either the org's own (``argv`` given by the hub: run as it is) or one
of the built-in :data:`CATALOG` (``"builtin": true``, ``argv`` empty): the agent
builds its argument vectors itself, for the platform it runs on, from templates whose
only placeholders are this machine's directories and the service an operator named.
So a hub can never make the agent run a command of its choosing through a built-in.

The built-ins are the seed DashFleet's six on Windows (``flush_dns``,
``restart_spooler``, ``cleanup_temp``, ``cleanup_teams``, ``cleanup_outlook``,
``collect_logs``) and on Linux ``flush_dns`` (systemd-resolved), ``restart_service``
(the hub checks the name against the operator's allow-list, the agent its syntax),
``cleanup_temp`` and ``collect_logs`` (the journal and ``/var/log`` in a zip of at
most :data:`LOG_LIMIT` bytes of output, uploaded to the hub before the result).

Windows has no command that deletes files outside a shell (``del`` is cmd.exe's,
``Remove-Item`` PowerShell's), so its clean-ups are :class:`Sweep` steps the agent
performs itself: still no shell, no hub-supplied path.
"""

from __future__ import annotations

import glob
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATALOG",
    "LOG_LIMIT",
    "OUTPUT_LIMIT",
    "Builtin",
    "Step",
    "Sweep",
    "builtin_argvs",
    "execute",
    "platform_family",
]

OUTPUT_LIMIT = 64 * 1024
LOG_LIMIT = 8 * 1024 * 1024
"""Bytes of output ``collect_logs`` keeps, all files together (the hub takes 9 MiB)."""
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,127}$")


@dataclass(frozen=True)
class Step:
    """One command: ``argv`` (templates: ``{temp}``, ``{windir}``, ``{systemdrive}``,
    ``{service}``), run without a shell. ``check``: a non-zero exit ends the action
    (a step that may fail harmlessly, like stopping a stopped service, sets it False).
    ``capture``: ``collect_logs``' file name in the zip for its output."""

    argv: tuple[str, ...]
    check: bool = True
    capture: str | None = None


@dataclass(frozen=True)
class Sweep:
    """Delete, by the agent itself, the files under each directory matching one of
    ``roots`` (path parts, templates and ``*`` allowed) not modified for
    ``older_than_seconds``. Symbolic links are neither followed nor deleted."""

    roots: tuple[tuple[str, ...], ...]
    older_than_seconds: float = 0.0


@dataclass(frozen=True)
class Builtin:
    """A built-in action: its steps per platform family (``windows``, ``linux``)."""

    name: str
    description: str
    steps: Mapping[str, tuple[Step | Sweep, ...]]
    timeout_seconds: int = 120
    params: tuple[str, ...] = ()
    collects: bool = False

    @property
    def platforms(self) -> list[str]:
        """The platform families it exists on, sorted."""
        return sorted(self.steps)


_USERS = ("{systemdrive}", "Users", "*", "AppData")
_TEAMS = ("Cache", "Code Cache", "GPUCache", "blob_storage", "tmp")

CATALOG: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "flush_dns",
            "Flush the DNS resolver cache.",
            {
                "windows": (Step(("ipconfig", "/flushdns")),),
                "linux": (Step(("resolvectl", "flush-caches")),),
            },
            timeout_seconds=30,
        ),
        Builtin(
            "restart_spooler",
            "Restart the print spooler.",
            {
                "windows": (
                    Step(("net", "stop", "Spooler", "/y"), check=False),
                    Step(("net", "start", "Spooler")),
                )
            },
        ),
        Builtin(
            "restart_service",
            "Restart a systemd service named in the operator's allow-list.",
            {"linux": (Step(("systemctl", "restart", "{service}")),)},
            params=("service",),
        ),
        Builtin(
            "cleanup_temp",
            "Delete old temporary files.",
            {
                "windows": (
                    Sweep(
                        (("{windir}", "Temp"), (*_USERS, "Local", "Temp")),
                        older_than_seconds=86400,
                    ),
                ),
                "linux": (
                    Step(
                        (
                            *("find", "/tmp", "/var/tmp", "-xdev", "-mindepth", "1"),
                            *("-type", "f", "-atime", "+7", "-delete"),
                        )
                    ),
                ),
            },
        ),
        Builtin(
            "cleanup_teams",
            "Clear Microsoft Teams' caches of every user.",
            {
                "windows": (
                    Sweep(tuple((*_USERS, "Roaming", "Microsoft", "Teams", d) for d in _TEAMS)),
                )
            },
        ),
        Builtin(
            "cleanup_outlook",
            "Clear Outlook's RoamCache of every user.",
            {"windows": (Sweep(((*_USERS, "Local", "Microsoft", "Outlook", "RoamCache"),)),)},
        ),
        Builtin(
            "collect_logs",
            "Collect the system logs into a zip, downloadable from the node's page.",
            {
                "windows": (
                    Step(
                        ("wevtutil", "qe", "System", "/c:5000", "/rd:true", "/f:text"),
                        check=False,
                        capture="system.txt",
                    ),
                    Step(
                        ("wevtutil", "qe", "Application", "/c:5000", "/rd:true", "/f:text"),
                        check=False,
                        capture="application.txt",
                    ),
                    Step(("ipconfig", "/all"), check=False, capture="ipconfig.txt"),
                ),
                "linux": (
                    Step(
                        ("journalctl", "--no-pager", "--quiet", "--lines=50000"),
                        check=False,
                        capture="journal.txt",
                    ),
                    Step(
                        (
                            *("tar", "--create", "--gzip", "--file=-", "--ignore-failed-read"),
                            *("--warning=none", "--exclude=/var/log/journal", "/var/log"),
                        ),
                        check=False,
                        capture="var-log.tar.gz",
                    ),
                ),
            },
            timeout_seconds=300,
            collects=True,
        ),
    )
}


def platform_family(platform: str = sys.platform) -> str:
    """``windows``, ``linux``, ``macos`` or the platform itself, from ``sys.platform``."""
    if platform.startswith(("win", "cygwin", "msys")):
        return "windows"
    if platform.startswith("linux"):
        return "linux"
    return "macos" if platform == "darwin" else platform


def _places(env: Mapping[str, str]) -> dict[str, str]:
    return {
        "temp": env.get("TEMP") or tempfile.gettempdir(),
        "windir": env.get("WINDIR") or env.get("SystemRoot") or "C:\\Windows",
        "systemdrive": (env.get("SystemDrive") or "C:") + os.sep,
    }


def builtin_argvs(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
) -> list[Step | Sweep]:
    """The steps of built-in ``name`` for ``platform``, templates filled.

    Raises:
        ValueError: unknown action, not on this platform, or a missing or malformed
            parameter (its message is the refusal the hub records).
    """
    builtin = CATALOG.get(name)
    if builtin is None:
        raise ValueError(f"{name!r} is not a built-in action of this agent")
    family = platform_family(platform)
    steps = builtin.steps.get(family)
    if steps is None:
        raise ValueError(f"{name} does not exist on {family}")
    values = dict(_places(env))
    for key in builtin.params:
        value = str((params or {}).get(key) or "")
        if not SERVICE_NAME.match(value):
            raise ValueError(f"{name} needs a valid {key} (got {value!r})")
        values[key] = value
    filled: list[Step | Sweep] = []
    for step in steps:
        if isinstance(step, Step):
            argv = tuple(part.format(**values) for part in step.argv)
            filled.append(Step(argv, step.check, step.capture))
        else:
            roots = tuple(tuple(p.format(**values) for p in root) for root in step.roots)
            filled.append(Sweep(roots, step.older_than_seconds))
    return filled


def _sweep(step: Sweep, now: float) -> tuple[bool, str]:
    deleted = freed = failed = 0
    for root in step.roots:
        for base in glob.glob(os.path.join(*root)):
            for folder, _dirs, files in os.walk(base, followlinks=False):
                for name in files:
                    path = os.path.join(folder, name)
                    try:
                        info = os.lstat(path)
                        if os.path.islink(path) or now - info.st_mtime < step.older_than_seconds:
                            continue
                        os.remove(path)
                    except OSError:
                        failed += 1
                        continue
                    deleted, freed = deleted + 1, freed + info.st_size
    return True, f"deleted {deleted} file(s), {freed} bytes; {failed} could not be deleted\n"


def _capture(argv: tuple[str, ...], budget: int, timeout: float) -> tuple[bytes, int | None, bool]:
    """Up to ``budget`` bytes of ``argv``'s standard output, its exit code (None when
    killed) and whether it was cut. Raises OSError when it cannot start."""
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    chunks, size, cut = [], 0, False
    try:
        assert process.stdout is not None
        while chunk := process.stdout.read(65536):
            if size + len(chunk) > budget:
                chunks.append(chunk[: budget - size])
                size, cut = budget, True
                process.kill()
                break
            chunks.append(chunk)
            size += len(chunk)
        code = process.wait()
    finally:
        timer.cancel()
    return b"".join(chunks), (None if cut or code < 0 else code), cut


def _run_builtin(
    action: dict[str, Any],
    steps: list[Step | Sweep],
    timeout: float,
    upload: Callable[[str, bytes], str | None] | None,
) -> dict[str, Any]:
    log: list[str] = []
    archive = io.BytesIO()
    budget, failed = LOG_LIMIT, False
    deadline = time.monotonic() + timeout
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for step in steps:
            left = max(1.0, deadline - time.monotonic())
            if isinstance(step, Sweep):
                log.append(f"# sweep {', '.join(os.path.join(*r) for r in step.roots)}\n")
                log.append(_sweep(step, time.time())[1])
                continue
            log.append("$ " + " ".join(step.argv) + "\n")
            try:
                if step.capture is not None:
                    data, code, cut = _capture(step.argv, budget, left)
                    budget -= len(data)
                    zipped.writestr(step.capture, data)
                    note = ", cut at the size limit" if cut else ""
                    log.append(f"{step.capture}: {len(data)} bytes{note}\n")
                    code = 0 if cut else code
                else:
                    done = subprocess.run(
                        step.argv,
                        capture_output=True,
                        timeout=left,
                        check=False,
                        stdin=subprocess.DEVNULL,
                    )
                    code = done.returncode
                    log.append((done.stdout + done.stderr).decode(errors="replace"))
            except subprocess.TimeoutExpired:
                return _result(log, None, "timed_out")
            except OSError as exc:
                log.append(f"{exc}\n")
                code = None
            if code != 0 and step.check:
                failed = True
                break
    if CATALOG[action["action"]].collects and not failed:
        if upload is None:
            return _result([*log, "no way to upload the logs\n"], None, "failed")
        problem = upload(f"{action['action']}-{action['id']}.zip", archive.getvalue())
        if problem:
            return _result([*log, f"upload failed: {problem}\n"], None, "failed")
        log.append(f"uploaded {len(archive.getvalue())} bytes\n")
    return _result(log, 1 if failed else 0, "failed" if failed else "succeeded")


def _result(log: list[str], exit_code: int | None, state: str) -> dict[str, Any]:
    output = "".join(log).encode()[-OUTPUT_LIMIT:].decode(errors="replace")
    return {"exit_code": exit_code, "output": output, "state": state}


def execute(
    action: dict[str, Any],
    *,
    allowed: bool,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    upload: Callable[[str, bytes], str | None] | None = None,
) -> dict[str, Any]:
    """Run ``action`` (``{"id", "action", "argv", "timeout_seconds", "builtin"?,
    "params"?}``) and return ``{"exit_code", "output", "state"}``: ``state`` is
    ``succeeded``, ``failed``, ``timed_out`` or ``refused`` (not ``allowed``, no argv,
    or a built-in this agent does not know, not on ``platform``, or with a bad
    parameter); ``output`` is the last 64 KiB of stdout then stderr (for built-ins,
    each command line and its output). Blocks for at most the timeout (default 60 s).

    ``upload(filename, data)`` sends ``collect_logs``' zip to the hub and returns None,
    or why it failed; ``platform`` and ``env`` are this machine's (injected in tests).
    """
    if not allowed:
        return _result(["actions are not allowed on this agent"], None, "refused")
    timeout = action.get("timeout_seconds", 60)
    if action.get("builtin"):
        try:
            steps = builtin_argvs(
                str(action.get("action")), action.get("params"), platform=platform, env=env
            )
        except ValueError as exc:
            return _result([str(exc)], None, "refused")
        return _run_builtin(action, steps, timeout, upload)
    argv = [str(a) for a in action.get("argv", [])]
    if not argv:
        return _result(["the action has no command"], None, "refused")
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        partial = bytes(exc.stdout or b"") + bytes(exc.stderr or b"")
        return _result([partial[-OUTPUT_LIMIT:].decode(errors="replace")], None, "timed_out")
    except OSError as exc:
        return _result([str(exc)], None, "failed")
    output = (done.stdout + done.stderr)[-OUTPUT_LIMIT:].decode(errors="replace")
    return _result([output], done.returncode, "succeeded" if done.returncode == 0 else "failed")
