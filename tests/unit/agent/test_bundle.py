"""The agent served to machines as one file runs on its own (standard library, psutil
and httpx; ``moorage`` not importable) and builds reports the hub accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from moorage.agent import bundle
from moorage.agent.bundle import single_file
from moorage.schemas.fleet import Report

# Run a file with ``moorage`` made unimportable, as on a machine without Moorage.
WITHOUT_MOORAGE = (
    "import runpy, sys; sys.modules['moorage'] = None; path = sys.argv.pop(1); "
    "sys.argv[0] = path; runpy.run_path(path, run_name=sys.argv.pop(1))"
)


def _run(path: Path, run_name: str, *args: str, code: str = WITHOUT_MOORAGE) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), run_name, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_single_file_runs_without_moorage(tmp_path):
    path = tmp_path / "moorage_agent.py"
    path.write_text(single_file())
    out = _run(path, "__main__", "--help")
    assert "enroll" in out and "run" in out and "top" in out


def test_the_single_file_builds_reports_the_hub_accepts(tmp_path):
    path = tmp_path / "moorage_agent.py"
    path.write_text(single_file())
    collect = (
        WITHOUT_MOORAGE.replace("runpy.run_path", "g = runpy.run_path")
        + "; import json; print(json.dumps(g['Collector']().collect()))"
    )
    report = json.loads(_run(path, "moorage_agent", code=collect))
    assert Report.model_validate(report).hostname


def test_a_sibling_import_the_bundle_cannot_drop_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("from moorage.agent.b import (\n    x,\n)\n")
    monkeypatch.setattr(bundle, "HERE", tmp_path)
    monkeypatch.setattr(bundle, "MODULES", ("a.py",))
    with pytest.raises(RuntimeError, match="one line"):
        bundle.single_file()


async def test_the_hub_serves_the_single_file(app):
    answer = await app.client.get("/api/v1/agent.py")
    assert answer.status_code == 200 and answer.text == single_file()
