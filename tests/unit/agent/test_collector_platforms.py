"""The collector and the command line on a Windows or macOS platform (injected, run on
Linux): no Unix-only call, and reports the hub accepts."""

from __future__ import annotations

import signal

from moorage.agent.collector import Collector, os_name
from moorage.agent.main import stop_on_signals
from moorage.agent.platforms import Platform
from moorage.schemas.fleet import Report


def test_windows_collector_never_calls_os_getloadavg(monkeypatch, tmp_path):
    monkeypatch.delattr("os.getloadavg")
    monkeypatch.setattr("moorage.agent.platforms.psutil.getloadavg", lambda: (2.0, 1.0, 0.0))
    collector = Collector(system=Platform("win32", {"ProgramData": str(tmp_path)}))
    report = collector.collect()
    assert report["metrics"]["load1"] == 2.0
    assert "containers_total" not in report["metrics"]  # no engine pipe here
    Report.model_validate(report)


def test_windows_os_name_carries_the_build(monkeypatch):
    monkeypatch.setattr("platform.system", lambda: "Windows")
    monkeypatch.setattr("platform.release", lambda: "10")
    monkeypatch.setattr("platform.version", lambda: "10.0.19045")
    assert os_name(Platform("win32")) == "Windows 10 (10.0.19045)"


def test_os_name_without_os_release_degrades_as_on_macos(monkeypatch):
    def missing() -> dict[str, str]:
        raise OSError("no /etc/os-release")

    monkeypatch.setattr("platform.freedesktop_os_release", missing)
    monkeypatch.setattr("platform.system", lambda: "Darwin")
    monkeypatch.setattr("platform.release", lambda: "23.1.0")
    assert os_name(Platform("darwin")) == "Darwin 23.1.0"


def test_stop_signals_are_installed_per_platform(monkeypatch):
    installed: list[int] = []
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    monkeypatch.setattr(signal, "signal", lambda n, h: installed.append(n))
    assert stop_on_signals(Platform("win32")) == [signal.SIGTERM, 21]
    assert stop_on_signals(Platform("linux")) == [signal.SIGTERM]
    assert installed == [signal.SIGTERM, 21, signal.SIGTERM]
