"""Browse a volume's files through a short-lived helper container.

Every operation starts ``moorage/terminal`` with the volume mounted at
``/volume``, no network and a small Python program that resolves the path
with ``realpath`` and refuses anything outside the volume, so ``..``,
absolute paths and symlinks pointing elsewhere are refused inside the
container as well as here. Uploads and downloads use the Engine API's
archive endpoints (tar) on the stopped helper.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from typing import TYPE_CHECKING, Any

import aiodocker

from moorage.drivers.docker._errors import translated
from moorage.errors import InvalidInput, NotFound, RuntimeUnavailable

if TYPE_CHECKING:
    from moorage.drivers.docker.driver import DockerDriver

__all__ = ["HELPER_IMAGE", "clean_path", "delete_path", "list_path", "read_file", "write_file"]

HELPER_IMAGE = "moorage/terminal:latest"
ROOT = "/volume"
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024

# Runs inside the helper: resolve, confine to /volume, then list / check / delete.
PROGRAM = r"""
import json, os, shutil, stat, sys
root = "/volume"
op, rel = sys.argv[1], sys.argv[2]
def inside(path):
    return path == root or path.startswith(root + "/")
# A link itself may be deleted wherever it points: then only its directory must be inside.
link = os.path.join(root, rel)
if op == "delete" and rel and os.path.islink(link):
    target = os.path.join(os.path.realpath(os.path.dirname(link)), os.path.basename(link))
else:
    target = os.path.realpath(link)
if not inside(target):
    print(json.dumps({"error": "outside", "path": rel})); sys.exit(0)
if not os.path.lexists(os.path.join(root, rel)):
    print(json.dumps({"error": "missing", "path": rel})); sys.exit(0)
if op == "list":
    if not os.path.isdir(target):
        print(json.dumps({"error": "not_a_directory", "path": rel})); sys.exit(0)
    entries = []
    for name in sorted(os.listdir(target)):
        info = os.lstat(os.path.join(target, name))
        mode = info.st_mode
        kind = "dir" if stat.S_ISDIR(mode) else "symlink" if stat.S_ISLNK(mode) else "file"
        entries.append({"name": name, "type": kind, "size": info.st_size,
                        "mtime": int(info.st_mtime)})
    print(json.dumps({"entries": entries}))
elif op == "check":
    print(json.dumps({"resolved": os.path.relpath(target, root), "dir": os.path.isdir(target)}))
elif op == "delete":
    if target == root:
        print(json.dumps({"error": "root", "path": rel})); sys.exit(0)
    if os.path.islink(target):
        os.remove(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    else:
        os.remove(target)
    print(json.dumps({"deleted": rel}))
"""


def clean_path(path: str) -> str:
    """A path relative to the volume root, normalised (``""`` is the root).

    Raises:
        InvalidInput: absolute, with ``..`` components, or with control characters.
    """
    if path.startswith("/") or any(ord(ch) < 32 for ch in path):
        raise InvalidInput("the path must be relative to the volume", field="path")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput("the path must stay inside the volume ('..' is refused)", field="path")
    return "/".join(parts)


async def _helper(
    driver: DockerDriver, volume: str, cmd: list[str] | None, read_only: bool
) -> aiodocker.containers.DockerContainer:
    config: dict[str, Any] = {
        "Image": HELPER_IMAGE,
        "User": "0",
        "NetworkDisabled": True,
        "Labels": {"moorage.helper": "volume-browser"},
        "Cmd": cmd or ["true"],
        "HostConfig": {
            "Binds": [f"{volume}:{ROOT}{':ro' if read_only else ''}"],
            "NetworkMode": "none",
            "CapDrop": ["ALL"],
            "CapAdd": ["DAC_OVERRIDE", "FOWNER", "CHOWN"],
            "SecurityOpt": ["no-new-privileges"],
            "Memory": 128 * 1024 * 1024,
        },
    }
    return await driver.client.containers.create(config=config)


async def _run(
    driver: DockerDriver,
    volume: str,
    op: str,
    rel: str,
    *,
    read_only: bool = True,
) -> dict[str, Any]:
    async with translated(driver.endpoint, f"browse volume {volume}"):
        await driver.client.volumes.get(volume)  # NotFound for an unknown volume
        container = await _helper(driver, volume, ["python3", "-c", PROGRAM, op, rel], read_only)
        try:
            await container.start()
            await container.wait(timeout=60)
            output = "".join(await container.log(stdout=True, stderr=False))
        finally:
            await container.delete(force=True)
    try:
        result = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise RuntimeUnavailable(f"the volume browser failed: {output[-300:]!r}") from exc
    error = result.get("error")
    if error == "missing":
        raise NotFound(f"{rel or '/'} does not exist in volume {volume}", code="path_not_found")
    if error == "outside":
        raise InvalidInput(f"{rel} leads outside the volume (a symlink?)", field="path")
    if error == "not_a_directory":
        raise InvalidInput(f"{rel} is not a directory", field="path")
    if error == "root":
        raise InvalidInput("the volume root cannot be deleted", field="path")
    return result


async def list_path(driver: DockerDriver, volume: str, path: str) -> list[dict[str, Any]]:
    """Entries of a directory: ``[{name, type: file|dir|symlink, size, mtime}]``."""
    result = await _run(driver, volume, "list", clean_path(path))
    return list(result["entries"])


async def delete_path(driver: DockerDriver, volume: str, path: str) -> None:
    """Delete a file, a symlink (not its target) or a directory tree."""
    await _run(driver, volume, "delete", clean_path(path), read_only=False)


async def read_file(driver: DockerDriver, volume: str, path: str) -> tuple[str, bytes]:
    """``(file name, content)`` of a regular file (at most 512 MiB)."""
    rel = clean_path(path)
    checked = await _run(driver, volume, "check", rel)
    if checked["dir"]:
        raise InvalidInput(f"{rel} is a directory", field="path")
    async with translated(driver.endpoint, f"read {rel} from volume {volume}"):
        container = await _helper(driver, volume, None, read_only=True)
        try:
            archive = await container.get_archive(posixpath.join(ROOT, checked["resolved"]))
        finally:
            await container.delete(force=True)
    member = archive.next()
    if member is None or not member.isfile():
        raise InvalidInput(f"{rel} is not a regular file", field="path")
    if member.size > MAX_DOWNLOAD_BYTES:
        raise InvalidInput(f"{rel} is over {MAX_DOWNLOAD_BYTES} bytes", field="path")
    handle = archive.extractfile(member)
    assert handle is not None
    return posixpath.basename(rel), handle.read()


async def write_file(
    driver: DockerDriver, volume: str, directory: str, name: str, content: bytes
) -> str:
    """Write ``content`` as ``directory/name`` (replacing a file). Returns the path."""
    if not name or "/" in name or name in (".", ".."):
        raise InvalidInput("the file name must be a plain name", field="name")
    rel = clean_path(directory)
    checked = await _run(driver, volume, "check", rel)
    if not checked["dir"]:
        raise InvalidInput(f"{rel} is not a directory", field="path")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    async with translated(driver.endpoint, f"write {name} into volume {volume}"):
        container = await _helper(driver, volume, None, read_only=False)
        try:
            await container.put_archive(
                posixpath.join(ROOT, checked["resolved"]), buffer.getvalue()
            )
        finally:
            await container.delete(force=True)
    resolved = checked["resolved"]
    return name if resolved == "." else f"{resolved}/{name}"
