"""A Git smart-HTTP server on loopback for tests: Debian's ``git http-backend`` (CGI,
see git-http-backend(1)) behind a small Starlette app that uvicorn serves in a thread,
with HTTP Basic auth (RFC 7617) required on every request.

Only what a fetch needs is exported: ``GET …/info/refs?service=git-upload-pack`` and
``POST …/git-upload-pack``. Request bodies are streamed to the CGI; a gzip body
(``Content-Encoding: gzip``, which git sends for large negotiations) is inflated by
``git http-backend`` itself, given ``HTTP_CONTENT_ENCODING``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.live_server import free_port

__all__ = ["GitHttpServer", "serve_git_http"]

_BACKEND = "/usr/lib/git-core/git-http-backend"
_SERVICE = "git-upload-pack"


@dataclass
class GitHttpServer:
    """The repositories under ``project_root`` at ``http://127.0.0.1:<port>/<name>``.

    ``requests`` lists ``(method, path, user)`` of every authenticated request;
    ``command_lines`` holds every process's command line (``/proc/*/cmdline``) as seen
    while an upload-pack POST was being served, i.e. while the client's git ran.
    """

    project_root: Path
    username: str
    password: str
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    command_lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    def _user(self, request: Request) -> str | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        good = hmac.compare_digest(user.encode(), self.username.encode())
        return (
            user
            if hmac.compare_digest(password.encode(), self.password.encode()) and good
            else None
        )

    async def _handle(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        path = "/" + request.path_params["path"]
        query = request.url.query
        upload = request.method == "POST" and path.endswith("/" + _SERVICE)
        discovery = (
            request.method == "GET"
            and path.endswith("/info/refs")
            and query == f"service={_SERVICE}"
        )
        if not (upload or discovery):
            return Response(status_code=403)
        self.requests.append((request.method, path, user))
        if upload:
            self.command_lines.extend(_command_lines())
        env = {
            "GIT_PROJECT_ROOT": str(self.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }
        # Chunked bodies have no length: the backend then reads to end of input.
        if "content-length" in request.headers:
            env["CONTENT_LENGTH"] = request.headers["content-length"]
        for header in ("content-encoding", "git-protocol"):
            if header in request.headers:
                env["HTTP_" + header.upper().replace("-", "_")] = request.headers[header]
        process = await asyncio.create_subprocess_exec(
            _BACKEND,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert process.stdin and process.stdout

        async def feed() -> None:
            assert process.stdin
            try:
                async for chunk in request.stream():
                    if chunk:  # Starlette ends the stream with b""
                        process.stdin.write(chunk)
                        await process.stdin.drain()
            except (ConnectionError, RuntimeError):
                pass  # the backend stopped reading (it exited): the rest is not needed
            finally:
                process.stdin.close()

        feeding = asyncio.create_task(feed())
        status, headers = 200, {}
        while (line := (await process.stdout.readline()).rstrip(b"\r\n")) != b"":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers[name] = value.strip()

        async def body() -> AsyncIterator[bytes]:
            assert process.stdout
            while chunk := await process.stdout.read(65536):
                yield chunk
            await feeding
            await process.wait()

        return StreamingResponse(body(), status_code=status, headers=headers)


def _command_lines() -> list[str]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # the process has gone
    return lines


@contextmanager
def serve_git_http(project_root: Path, username: str, password: str) -> Iterator[GitHttpServer]:
    """Serve ``project_root`` until the block ends (uvicorn in a thread of its own, so
    the server answers while the test's event loop waits on Moorage)."""
    git = GitHttpServer(project_root, username, password)
    config = uvicorn.Config(
        git.app(), host="127.0.0.1", port=git.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="git-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the Git HTTP server did not start on port {git.port}")
        time.sleep(0.05)
    try:
        yield git
    finally:
        server.should_exit = True
        thread.join(10)
