"""Enrolment: trading a one-time enrolment token for this node's credential, and the
config file that keeps it.

The config file is JSON (``/etc/moorage-agent.json`` on Linux and macOS) or, when its
name ends in ``.toml``, TOML (``%ProgramData%\\Moorage\\agent.toml`` on Windows, see
:mod:`moorage.agent.platforms`). Either way it holds flat keys: strings, numbers,
booleans and lists of strings.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import httpx

from moorage.agent._common import hub_message
from moorage.agent.collector import Collector
from moorage.agent.platforms import Platform, this_platform

__all__ = ["dump_toml", "enroll", "load_config", "save_config"]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string without \u escapes of astral characters is a TOML basic string;
        # DEL is the one control character JSON leaves unescaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the agent's TOML config")


def dump_toml(config: dict[str, Any]) -> str:
    """``config`` (flat: strings, numbers, booleans, lists of them) as TOML 1.0 text that
    ``tomllib`` reads back equal. Raises TypeError for a nested table or None."""
    lines = [f"{json.dumps(str(key))} = {_toml_value(value)}" for key, value in config.items()]
    return (
        "# The Moorage agent's config (written by moorage-agent enroll)\n" + "\n".join(lines) + "\n"
    )


def load_config(path: Path) -> dict[str, Any]:
    """The agent's config: ``{"server", "node_id", "credential", "name", "ca_file"?}``,
    from JSON, or TOML when ``path`` ends in ``.toml``.

    Raises:
        SystemExit: the file does not exist (not enrolled yet).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SystemExit(f"{path} does not exist; run `moorage agent enroll` first") from None
    if path.suffix == ".toml":
        import tomllib  # Python 3.11+; JSON configs still work on older interpreters

        return tomllib.loads(text)
    return json.loads(text)


def save_config(path: Path, config: dict[str, Any], system: Platform | None = None) -> None:
    """Write ``config`` to ``path`` readable by its owner only (see
    :meth:`moorage.agent.platforms.Platform.lock_down`): a temporary file in the same
    folder is locked down before anything is written to it, then replaces ``path``, so
    a file planted there beforehand keeps neither its content nor its ACL. A folder the
    agent creates is locked down too.

    Raises:
        OSError: the folder, file or its permissions could not be set; no temporary
            file is left behind.
    """
    system = system or this_platform()
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        system.lock_down(path.parent, folder=True)
    text = dump_toml(config) if path.suffix == ".toml" else json.dumps(config, indent=2)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.close(fd)
        system.lock_down(temporary)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def enroll(
    server: str,
    token: str,
    config_path: Path,
    *,
    ca_file: str | None = None,
    system: Platform | None = None,
) -> dict:
    """Exchange an enrolment token for this node's credential and save it to
    ``config_path`` (:func:`save_config`: mode 0600, or Administrators and SYSTEM only
    on Windows). Returns the saved config.

    Raises:
        SystemExit: the hub refused the token (its message), cannot be reached, or
            the config file cannot be written.
    """
    verify: Any = ca_file or True
    body = {"token": token, "hostname": socket.gethostname(), "os": Collector().os}
    try:
        response = httpx.post(
            f"{server.rstrip('/')}/api/v1/agents/enroll", json=body, timeout=15, verify=verify
        )
    except httpx.HTTPError as exc:
        raise SystemExit(f"cannot reach {server}: {exc}") from None
    if response.status_code != 201:
        raise SystemExit(f"enrolment refused ({response.status_code}): {hub_message(response)}")
    answer = response.json()
    config = {"server": server.rstrip("/"), **answer}
    if ca_file:
        config["ca_file"] = ca_file
    try:
        save_config(config_path, config, system)
    except OSError as exc:
        hint = " (run as Administrator)" if (system or this_platform()).is_windows else ""
        raise SystemExit(f"enrolled, but cannot write {config_path}{hint}: {exc}") from None
    return config
