"""Every platform branch of the agent (:mod:`moorage.agent.platforms`), run on Linux with
the platform injected: Windows, macOS and Linux paths, config-file permissions (mode or
icacls argv), load average, stop signals and the Docker endpoint (Unix socket or named
pipe)."""

from __future__ import annotations

import signal
import socket
import socketserver
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import httpx
import pytest

from moorage.agent.platforms import (
    DOCKER_PIPE,
    DOCKER_SOCKET,
    NamedPipeTransport,
    Platform,
    this_platform,
)
from tests.unit.agent.test_report_shape import CONTAINERS, _Engine

WINDOWS = Platform("win32", {"ProgramData": r"D:\Data"})
LINUX = Platform("linux", {})
MACOS = Platform("darwin", {})


class Recorder:
    """Stands in for ``subprocess.run``: records argv, answers ``returncode``."""

    def __init__(self, returncode: int = 0, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.returncode, self.error = returncode, error

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        assert "shell" not in kwargs, "icacls must run as an argv, never through a shell"
        self.calls.append(argv)
        if self.error is not None:
            raise self.error
        return subprocess.CompletedProcess(argv, self.returncode, "out ", "err")


def test_this_machine_is_linux_and_native():
    here = this_platform()
    assert here.name == "linux" and here.is_native and not here.is_windows
    assert isinstance(here.config_path(), Path)


def test_windows_config_is_under_programdata_moorage():
    path = WINDOWS.config_path()
    assert isinstance(path, PureWindowsPath)
    assert str(path) == r"D:\Data\Moorage\agent.toml"


def test_windows_config_defaults_to_c_programdata_without_the_variable():
    assert str(Platform("win32", {}).config_path()) == r"C:\ProgramData\Moorage\agent.toml"


@pytest.mark.parametrize("system", [LINUX, MACOS], ids=["linux", "macos"])
def test_posix_config_is_etc_moorage_agent_json(system):
    assert PurePosixPath(system.config_path()) == PurePosixPath("/etc/moorage-agent.json")


def test_docker_endpoint_is_the_named_pipe_on_windows_and_the_socket_elsewhere():
    assert WINDOWS.docker_endpoint() == DOCKER_PIPE == r"\\.\pipe\docker_engine"
    assert LINUX.docker_endpoint() == MACOS.docker_endpoint() == DOCKER_SOCKET


def test_no_docker_transport_when_the_endpoint_is_missing(tmp_path):
    assert LINUX.docker_transport(str(tmp_path / "none.sock")) is None
    assert WINDOWS.docker_transport(str(tmp_path / "no-pipe")) is None


def test_windows_load_uses_psutil_emulation_not_os_getloadavg(monkeypatch):
    monkeypatch.delattr("os.getloadavg")  # as on Windows
    monkeypatch.setattr("moorage.agent.platforms.psutil.getloadavg", lambda: (1.5, 1.0, 0.5))
    assert WINDOWS.load1() == 1.5


def test_posix_load_uses_os_getloadavg(monkeypatch):
    monkeypatch.setattr("moorage.agent.platforms.os.getloadavg", lambda: (0.25, 0.0, 0.0))
    assert LINUX.load1() == MACOS.load1() == 0.25


def test_load_degrades_to_zero_when_it_cannot_be_read():
    def broken() -> tuple[float, float, float]:
        raise OSError("Load average is unobtainable")

    assert LINUX.load1(broken) == 0.0


def test_stop_signals_add_sigbreak_on_windows_only(monkeypatch):
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)  # Windows' value
    assert WINDOWS.stop_signals() == [signal.SIGTERM, 21]
    assert LINUX.stop_signals() == MACOS.stop_signals() == [signal.SIGTERM]


def test_stop_signals_skip_those_the_interpreter_lacks(monkeypatch):
    monkeypatch.delattr(signal, "SIGBREAK", raising=False)
    assert WINDOWS.stop_signals() == [signal.SIGTERM]


def test_windows_lock_down_runs_icacls_for_administrators_and_system_only():
    run = Recorder()
    Platform("win32", run=run).lock_down(Path(r"C:\ProgramData\Moorage\agent.toml"))
    assert run.calls == [
        [
            "icacls",
            r"C:\ProgramData\Moorage\agent.toml",
            "/inheritance:r",
            "/grant:r",
            "*S-1-5-32-544:(F)",
            "*S-1-5-18:(F)",
        ]
    ]


def test_windows_lock_down_of_a_folder_is_inherited_by_its_files():
    run = Recorder()
    Platform("win32", run=run).lock_down(Path(r"C:\ProgramData\Moorage"), folder=True)
    assert run.calls[0][1] == r"C:\ProgramData\Moorage"
    assert run.calls[0][4:] == ["*S-1-5-32-544:(OI)(CI)(F)", "*S-1-5-18:(OI)(CI)(F)"]


def test_windows_lock_down_failure_is_an_oserror_with_icacls_output():
    with pytest.raises(OSError, match="failed \\(5\\): out err"):
        Platform("win32", run=Recorder(returncode=5)).lock_down(Path("agent.toml"))
    with pytest.raises(OSError, match="cannot run icacls"):
        broken = Recorder(error=FileNotFoundError("icacls"))
        Platform("win32", run=broken).lock_down(Path("agent.toml"))


@pytest.mark.parametrize("name", ["linux", "darwin"])
def test_posix_lock_down_sets_mode_0600_and_runs_nothing(name, tmp_path):
    path = tmp_path / "agent.json"
    path.write_text("{}")
    path.chmod(0o644)
    run = Recorder()
    system = Platform(name, run=run)
    system.lock_down(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and run.calls == []
    system.lock_down(tmp_path, folder=True)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


@pytest.fixture
def engine_socket(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "engine.sock")
    server = socketserver.ThreadingUnixStreamServer(path, _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def test_named_pipe_transport_speaks_http_over_a_file_like_pipe(engine_socket):
    """The pipe is opened as a file on Windows; here a Unix socket's file stands in."""
    opened: list[str] = []

    def opener(path: str) -> Any:
        opened.append(path)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(engine_socket)
        return sock.makefile("rwb", buffering=0)

    transport = NamedPipeTransport(DOCKER_PIPE, opener=opener)
    with httpx.Client(transport=transport) as client:
        rows = client.get("http://docker/containers/json", params={"all": "1"}).json()
        assert rows == CONTAINERS
        assert client.get("http://docker/containers/json").json() == CONTAINERS
    assert opened and set(opened) == {DOCKER_PIPE}


def test_named_pipe_transport_maps_a_missing_pipe_to_connect_error():
    def opener(path: str) -> Any:
        raise FileNotFoundError(path)

    with httpx.Client(transport=NamedPipeTransport(DOCKER_PIPE, opener=opener)) as client:
        with pytest.raises(httpx.ConnectError):
            client.get("http://docker/containers/json")


def test_windows_docker_transport_is_the_named_pipe_one(monkeypatch):
    monkeypatch.setattr("moorage.agent.platforms.os.path.exists", lambda p: p == DOCKER_PIPE)
    assert isinstance(WINDOWS.docker_transport(), NamedPipeTransport)
