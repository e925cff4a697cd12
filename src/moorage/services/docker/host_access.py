"""Host reach: what a container or Compose stack created through Moorage may take
from the machine its engine runs on.

Without the environment's ``allow_host_access`` (off by default, set only by an
admin with ``PATCH /api/v1/environments/{name}``) nobody, admins included, may
create through Moorage a container or stack that has:

* a bind mount of a host path (the Docker socket above all), or a named volume
  whose ``driver_opts`` bind a host ``device``;
* ``privileged``, ``network_mode``/``pid``/``ipc``/``uts``/``userns_mode`` ``host``;
* ``cap_add`` beyond Docker's default capability set, ``devices`` or
  ``device_cgroup_rules``, a ``security_opt`` that turns confinement off.

One exception: a stack may bind files of its own folder (``./conf:/etc/app``),
which its author wrote through Moorage. Whatever the setting, a Compose file may
not reference a file outside its stack folder (``env_file``, ``build`` contexts
and Dockerfiles, ``extends.file``, ``include``, ``label_file``, ``configs`` and
``secrets`` ``file:``): Moorage would read it from its own host.

Why admins are bound too: the setting is a property of the engine (a shared
engine must not hand out root on its host); an admin who wants it turns it on,
which is audited as ``environment.update``.

Refusals are :class:`~moorage.errors.InvalidInput` (422) whose ``field`` is the
offending key (``services.web.privileged``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from moorage.errors import InvalidInput

__all__ = [
    "DEFAULT_CAPABILITIES",
    "check_bind_strings",
    "compose_file_references",
    "compose_host_reach",
    "refuse",
]

DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
"""Docker's default capabilities (moby ``oci/caps/defaults.go``); adding one of
these changes nothing, any other is host reach."""

HOST_MODES = ("network_mode", "pid", "ipc", "uts", "userns_mode")
UNCONFINED = ("unconfined", "label=disable", "label:disable")

Violation = tuple[str, str]
"""``(key, reason)``: the offending key in dotted form and why."""


def refuse(violations: list[Violation]) -> None:
    """Raise InvalidInput (422) naming the first offending key, if there is one."""
    if violations:
        key, reason = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise InvalidInput(f"{key}: {reason}{more}", field=key)


def _inside(path: str, root: str) -> bool:
    resolved = os.path.normpath(os.path.join(root, path))
    return resolved == root or resolved.startswith(root.rstrip("/") + "/")


def _host_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or "/" in source


def check_bind_strings(binds: list[str], key: str = "volumes") -> list[Violation]:
    """Violations among Docker bind strings ``source:target[:mode]`` of the
    containers API: any source that is a host path (a named volume is fine)."""
    return [
        (f"{key}[{index}]", f"{bind.split(':')[0]!r} is a host path; host access is off")
        for index, bind in enumerate(binds)
        if _host_path(bind.split(":")[0])
    ]


def compose_host_reach(resolved: dict[str, Any], root: str) -> list[Violation]:
    """Host reach in a stack, from ``docker-compose config --format json`` (the real
    parser: variables interpolated, relative paths made absolute). ``root`` is the
    absolute stack folder; binds inside it are allowed."""
    found: list[Violation] = []
    for name, service in (resolved.get("services") or {}).items():
        key = f"services.{name}"
        if service.get("privileged"):
            found.append((f"{key}.privileged", "privileged containers reach the host"))
        for mode in HOST_MODES:
            if str(service.get(mode) or "") == "host":
                found.append((f"{key}.{mode}", f"{mode} host shares the host's namespace"))
        for cap in service.get("cap_add") or []:
            if str(cap).upper().removeprefix("CAP_") not in DEFAULT_CAPABILITIES:
                found.append((f"{key}.cap_add", f"capability {cap} is beyond Docker's default"))
        if service.get("devices"):
            found.append((f"{key}.devices", "host devices reach the host"))
        if service.get("device_cgroup_rules"):
            found.append((f"{key}.device_cgroup_rules", "device rules reach the host"))
        for option in service.get("security_opt") or []:
            if any(word in str(option) for word in UNCONFINED):
                found.append((f"{key}.security_opt", f"{option} turns confinement off"))
        for index, volume in enumerate(service.get("volumes") or []):
            source = str(volume.get("source") or "")
            if volume.get("type") == "bind" and not _inside(source, root):
                found.append((f"{key}.volumes[{index}]", f"{source} is a host path"))
    for name, volume in (resolved.get("volumes") or {}).items():
        if "device" in (volume.get("driver_opts") or {}):
            found.append((f"volumes.{name}.driver_opts", "a device option binds a host path"))
    return found


def _paths(value: Any, *fields: str) -> Iterator[str]:
    """The path strings in a Compose value that is a string, a list of strings, or
    (a list of) mappings with one of ``fields``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item, *fields)
    elif isinstance(value, dict):
        for field in fields:
            if field in value:
                yield from _paths(value[field], *fields)


def compose_file_references(raw: Any, root: str) -> list[Violation]:
    """Files a Compose document (as written, before interpolation) references
    outside ``root``; a path with ``$`` is refused too, since ``.env`` could point
    it anywhere."""
    if not isinstance(raw, dict):
        return []
    references: list[tuple[str, Any, tuple[str, ...]]] = [
        ("include", raw.get("include"), ("path", "env_file", "project_directory"))
    ]
    for name, service in (raw.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        key = f"services.{name}"
        references.append((f"{key}.env_file", service.get("env_file"), ("path",)))
        references.append((f"{key}.label_file", service.get("label_file"), ()))
        build = service.get("build")
        references.append((f"{key}.build", build, ("context",)))
        if isinstance(build, dict) and isinstance(build.get("dockerfile"), str):
            context = build.get("context")
            base = context if isinstance(context, str) else "."
            dockerfile = str(PurePosixPath(base) / build["dockerfile"])
            references.append((f"{key}.build.dockerfile", dockerfile, ()))
        extends = service.get("extends")
        if isinstance(extends, dict):
            references.append((f"{key}.extends.file", extends.get("file"), ()))
    for section in ("configs", "secrets"):
        for name, item in (raw.get(section) or {}).items():
            if isinstance(item, dict):
                references.append((f"{section}.{name}.file", item.get("file"), ()))
    found: list[Violation] = []
    for key, value, fields in references:
        for path in _paths(value, *fields):
            if "$" in path:
                found.append((key, f"{path!r}: a file path may not use variables"))
            elif "://" not in path and not _inside(path, root):
                found.append((key, f"{path!r} is outside the stack folder"))
    return found
