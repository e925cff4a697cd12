"""The agent's built-in actions: every action's argument vectors per platform (the
platform is injected, so Windows is tested here on Linux), refusals (unknown, not on
this platform, a bad service, actions not allowed), clean-ups that delete only old
files, and ``collect_logs``' size cap and upload."""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile

import httpx
import pytest

from moorage.agent import Agent
from moorage.agent import actions as agent_actions
from moorage.agent.actions import CATALOG, Step, Sweep, builtin_argvs, execute, platform_family

WINDOWS_ENV = {"SystemDrive": "C:", "WINDIR": "C:\\Windows", "TEMP": "C:\\Temp"}


def argvs(name: str, platform: str, **params) -> list[tuple[str, ...]]:
    steps = builtin_argvs(name, params, platform=platform, env=WINDOWS_ENV)
    return [s.argv for s in steps if isinstance(s, Step)]


def test_the_catalog_is_the_seeds_six_on_windows_and_four_on_linux():
    windows = {n for n, b in CATALOG.items() if "windows" in b.platforms}
    linux = {n for n, b in CATALOG.items() if "linux" in b.platforms}
    assert windows == {
        "flush_dns", "restart_spooler", "cleanup_temp", "cleanup_teams", "cleanup_outlook",
        "collect_logs",
    }  # fmt: skip
    assert linux == {"flush_dns", "restart_service", "cleanup_temp", "collect_logs"}
    assert platform_family("win32") == "windows" and platform_family("linux") == "linux"
    assert platform_family("darwin") == "macos"


def test_every_action_is_argument_vectors_per_platform():
    assert argvs("flush_dns", "win32") == [("ipconfig", "/flushdns")]
    assert argvs("flush_dns", "linux") == [("resolvectl", "flush-caches")]
    assert argvs("restart_spooler", "win32") == [
        ("net", "stop", "Spooler", "/y"),
        ("net", "start", "Spooler"),
    ]
    assert argvs("restart_service", "linux", service="nginx.service") == [
        ("systemctl", "restart", "nginx.service")
    ]
    assert argvs("cleanup_temp", "linux") == [
        ("find", "/tmp", "/var/tmp", "-xdev", "-mindepth", "1", "-type", "f", "-atime", "+7",
         "-delete"),
    ]  # fmt: skip
    assert argvs("collect_logs", "win32") == [
        ("wevtutil", "qe", "System", "/c:5000", "/rd:true", "/f:text"),
        ("wevtutil", "qe", "Application", "/c:5000", "/rd:true", "/f:text"),
        ("ipconfig", "/all"),
    ]
    (journal, tar) = argvs("collect_logs", "linux")
    assert journal[0] == "journalctl" and tar[:2] == ("tar", "--create") and "/var/log" in tar
    # Windows clean-ups are sweeps of fixed folders under each user's profile.
    (sweep,) = builtin_argvs("cleanup_teams", {}, platform="win32", env=WINDOWS_ENV)
    assert isinstance(sweep, Sweep)
    assert (f"C:{os.sep}", "Users", "*", "AppData", "Roaming", "Microsoft", "Teams", "Cache") in (
        sweep.roots
    )
    (outlook,) = builtin_argvs("cleanup_outlook", {}, platform="win32", env=WINDOWS_ENV)
    assert isinstance(outlook, Sweep) and outlook.roots[0][-1] == "RoamCache"
    (temp,) = builtin_argvs("cleanup_temp", {}, platform="win32", env=WINDOWS_ENV)
    assert isinstance(temp, Sweep) and ("C:\\Windows", "Temp") in temp.roots
    for builtin in CATALOG.values():  # every step is a tuple of strings: no shell line
        for steps in builtin.steps.values():
            for step in steps:
                if isinstance(step, Step):
                    assert all(isinstance(part, str) for part in step.argv)
                    assert step.argv[0] not in ("sh", "bash", "cmd", "cmd.exe", "powershell")


@pytest.mark.parametrize(
    ("action", "allowed", "platform", "refusal"),
    [
        ({"id": "1", "action": "flush_dns", "builtin": True, "argv": []}, False, "linux",
         "not allowed"),
        ({"id": "1", "action": "format_disk", "builtin": True, "argv": []}, True, "linux",
         "not a built-in"),
        ({"id": "1", "action": "restart_spooler", "builtin": True, "argv": []}, True, "linux",
         "does not exist on linux"),
        ({"id": "1", "action": "restart_service", "builtin": True, "argv": [],
          "params": {"service": "-rf; reboot"}}, True, "linux", "valid service"),
        ({"id": "1", "action": "restart_service", "builtin": True, "argv": []}, True, "linux",
         "valid service"),
        ({"id": "1", "action": "x", "argv": []}, True, "linux", "no command"),
    ],
)  # fmt: skip
def test_unknown_unavailable_or_malformed_actions_are_refused(action, allowed, platform, refusal):
    result = execute(action, allowed=allowed, platform=platform)
    assert result["state"] == "refused" and refusal in result["output"]


def test_a_builtin_runs_its_steps_without_a_shell(monkeypatch):
    ran: list[tuple[str, ...]] = []

    def fake_run(argv, **kwargs):
        assert "shell" not in kwargs
        ran.append(tuple(argv))
        return type("Done", (), {"returncode": 2 if argv[1] == "stop" else 0,
                                 "stdout": b"ok\n", "stderr": b""})()  # fmt: skip

    monkeypatch.setattr(agent_actions.subprocess, "run", fake_run)
    action = {"id": "r", "action": "restart_spooler", "builtin": True, "argv": []}
    result = execute(action, allowed=True, platform="win32", env=WINDOWS_ENV)
    # Stopping a stopped spooler fails harmlessly; starting it decides.
    assert ran == [("net", "stop", "Spooler", "/y"), ("net", "start", "Spooler")]
    assert result["state"] == "succeeded" and "$ net start Spooler" in result["output"]


def test_a_sweep_deletes_only_old_files_and_never_follows_links(tmp_path):
    temp = tmp_path / "Users" / "ann" / "AppData" / "Local" / "Temp"
    temp.mkdir(parents=True)
    (temp / "old.tmp").write_text("x" * 10)
    (temp / "new.tmp").write_text("y")
    outside = tmp_path / "keep.txt"
    outside.write_text("keep")
    (temp / "link").symlink_to(outside)
    long_ago = time.time() - 3 * 86400
    os.utime(temp / "old.tmp", (long_ago, long_ago))
    env = {"SystemDrive": str(tmp_path), "WINDIR": str(tmp_path / "Windows")}
    action = {"id": "c", "action": "cleanup_temp", "builtin": True, "argv": []}
    result = execute(action, allowed=True, platform="win32", env=env)
    assert result["state"] == "succeeded", result
    assert "deleted 1 file(s), 10 bytes" in result["output"]
    assert not (temp / "old.tmp").exists() and (temp / "new.tmp").exists()
    assert outside.read_text() == "keep" and (temp / "link").is_symlink()


def test_collect_logs_is_capped_and_uploaded_as_a_zip(monkeypatch):
    monkeypatch.setattr(agent_actions, "LOG_LIMIT", 5000)
    big = (sys.executable, "-c", "import sys; sys.stdout.write('L' * 100000)")
    small = (sys.executable, "-c", "print('network')")
    steps = {"linux": (Step(big, capture="journal.txt"), Step(small, capture="net.txt"))}
    monkeypatch.setitem(
        agent_actions.CATALOG,
        "collect_logs",
        agent_actions.Builtin("collect_logs", "test", steps, collects=True),
    )
    uploads: list[tuple[str, bytes]] = []
    action = {"id": "run1", "action": "collect_logs", "builtin": True, "argv": []}
    result = execute(
        action,
        allowed=True,
        platform="linux",
        upload=lambda name, data: uploads.append((name, data)),  # type: ignore[func-returns-value]
    )
    assert result["state"] == "succeeded", result
    assert "cut at the size limit" in result["output"]
    ((name, data),) = uploads
    assert name == "collect_logs-run1.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        sizes = {info.filename: info.file_size for info in zipped.infolist()}
    assert sizes == {"journal.txt": 5000, "net.txt": 0}  # the budget was spent
    failed = execute(action, allowed=True, platform="linux", upload=lambda n, d: "hub said no")
    assert failed["state"] == "failed" and "upload failed: hub said no" in failed["output"]


def test_the_agent_uploads_the_file_then_reports_the_result(monkeypatch):
    monkeypatch.setattr(
        agent_actions, "_run_builtin", lambda action, steps, timeout, upload: (
            {"exit_code": 0, "output": str(upload("f.zip", b"PK")), "state": "succeeded"}
        ),
    )  # fmt: skip
    seen: list[tuple[str, str, bytes]] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path + "?" + request.url.query.decode(),
                     request.content))  # fmt: skip
        return httpx.Response(204)

    agent = Agent(
        {"server": "http://hub", "credential": "mrg_x"},
        allow_actions=True,
        collector=object(),  # type: ignore[arg-type]
        transport=httpx.MockTransport(hub),
        platform="linux",
    )
    agent.run_action({"id": "r9", "action": "collect_logs", "builtin": True, "argv": []})
    assert seen[0] == ("POST", "/api/v1/agents/actions/r9/file?name=f.zip", b"PK")
    assert seen[1][1].startswith("/api/v1/agents/actions/r9/result")
    assert json.loads(seen[1][2])["output"] == "None"  # the upload succeeded


def test_collect_logs_leaves_out_a_missing_log_source(monkeypatch):
    steps = {
        "linux": (
            Step(("/nonexistent/journalctl",), check=False, capture="journal.txt"),
            Step((sys.executable, "-c", "print('ok')"), check=False, capture="net.txt"),
        )
    }
    monkeypatch.setitem(
        agent_actions.CATALOG,
        "collect_logs",
        agent_actions.Builtin("collect_logs", "test", steps, collects=True),
    )
    uploads: list[bytes] = []
    action = {"id": "r", "action": "collect_logs", "builtin": True, "argv": []}
    result = execute(action, allowed=True, platform="linux", upload=lambda n, d: uploads.append(d))  # type: ignore[func-returns-value]
    assert result["state"] == "succeeded", result
    with zipfile.ZipFile(io.BytesIO(uploads[0])) as zipped:
        assert zipped.namelist() == ["net.txt"]
    # The real catalog's collection steps do not check either.
    for steps_ in CATALOG["collect_logs"].steps.values():
        assert all(isinstance(s, Step) and not s.check and s.capture for s in steps_)
