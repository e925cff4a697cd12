"""A real OpenID Connect provider for the tests: npm's ``oidc-provider`` run by node
on a loopback port (``provider.mjs`` beside this file; its packages are installed in
``tests/oidc_provider/node_modules`` by ``scripts/setup.sh --test``).

Accounts live in a JSON file the provider reads at every sign-in, so a test changes
someone's groups with :meth:`TestProvider.set_account` between two sign-ins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

__all__ = ["HERE", "TestProvider", "require_provider", "running_provider"]

HERE = Path(__file__).resolve().parent


def require_provider() -> None:
    """Skip (fail with ``CI=true``) when node or the provider's packages are missing."""
    missing = shutil.which("node") is None or not (HERE / "node_modules/oidc-provider").is_dir()
    if missing:
        reason = "node or tests/oidc_provider/node_modules missing: run scripts/setup.sh --test"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class TestProvider:
    """A running provider: ``issuer`` (``http://127.0.0.1:<port>``) and its accounts."""

    __test__ = False  # not a test class, whatever its name

    accounts_file: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    accounts: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_account(
        self,
        login: str,
        *,
        password: str,
        sub: str,
        groups: list[str] | None = None,
        username: str | None = None,
        name: str = "",
        email: str = "",
    ) -> None:
        """Add or replace the account ``login`` (its ``preferred_username`` is
        ``username``, else ``login``)."""
        self.accounts[login] = {
            "password": password,
            "sub": sub,
            "groups": groups or [],
            "username": username or login,
            "name": name or login.title(),
            "email": email or f"{login}@example.org",
        }
        self.accounts_file.write_text(json.dumps(self.accounts))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def running_provider(directory: Path, clients: list[dict[str, object]]) -> Iterator[TestProvider]:
    """Start a provider with ``clients`` (OAuth client metadata: ``client_id``,
    ``client_secret``, ``redirect_uris``, ``post_logout_redirect_uris``) and no
    accounts; stopped (its process only) on exit."""
    require_provider()
    port = free_port()
    accounts_file = directory / "oidc-accounts.json"
    accounts_file.write_text("{}")
    log_path = directory / "oidc-provider.log"
    env = dict(
        os.environ, PORT=str(port), ACCOUNTS_FILE=str(accounts_file), CLIENTS=json.dumps(clients)
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["node", str(HERE / "provider.mjs")],
            cwd=HERE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    provider = TestProvider(accounts_file, port, process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the provider exited:\n{log_path.read_text()}")
            try:
                url = f"{provider.issuer}/.well-known/openid-configuration"
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the provider did not answer:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield provider
    finally:
        provider.stop()
