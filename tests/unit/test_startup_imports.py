"""What only some paths need stays out of a starting server's memory: importing the
app and the command line loads neither Alembic, asyncssh, Apprise, cryptography,
ansible-runner, ldap3 nor the agent's httpx and psutil (issue 18, server memory)."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = (
    "alembic",
    "asyncssh",
    "apprise",
    "cryptography",
    "ansible_runner",
    "httpx",
    "psutil",
    "pyte",
    "PIL",
    "babel",
    "ldap3",
)


def test_the_server_imports_none_of_the_heavy_optional_packages():
    code = (
        "import json, sys\n"
        "import moorage.app, moorage.cli.main, moorage.runtime\n"
        f"print(json.dumps(sorted(m for m in {LAZY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_the_cli_help_shows_the_agents_own_default_interval():
    from moorage.agent._common import DEFAULT_INTERVAL
    from moorage.cli import agent

    assert agent.DEFAULT_INTERVAL == DEFAULT_INTERVAL
