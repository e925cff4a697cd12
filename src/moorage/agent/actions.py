"""Running one action the hub handed back: its argument vector, never through a shell,
with its timeout; the result is what ``POST /api/v1/agents/actions/{id}/result``
takes (:class:`moorage.schemas.fleet.ActionResult`)."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["OUTPUT_LIMIT", "execute"]

OUTPUT_LIMIT = 64 * 1024


def execute(action: dict[str, Any], *, allowed: bool) -> dict[str, Any]:
    """Run ``action`` (``{"id", "argv", "timeout_seconds"}``) and return
    ``{"exit_code", "output", "state"}``: ``state`` is ``succeeded``, ``failed``,
    ``timed_out`` or ``refused`` (not ``allowed``, or no argv); ``output`` is the last
    64 KiB of stdout then stderr. Blocks for at most the timeout (default 60 s)."""
    argv = [str(a) for a in action.get("argv", [])]
    if not allowed or not argv:
        return {
            "exit_code": None,
            "output": "actions are not allowed on this agent",
            "state": "refused",
        }
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            timeout=action.get("timeout_seconds", 60),
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        partial = bytes(exc.stdout or b"") + bytes(exc.stderr or b"")
        return {
            "exit_code": None,
            "output": partial[-OUTPUT_LIMIT:].decode(errors="replace"),
            "state": "timed_out",
        }
    except OSError as exc:
        return {"exit_code": None, "output": str(exc), "state": "failed"}
    return {
        "exit_code": done.returncode,
        "output": (done.stdout + done.stderr)[-OUTPUT_LIMIT:].decode(errors="replace"),
        "state": "succeeded" if done.returncode == 0 else "failed",
    }
