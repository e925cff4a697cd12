"""A stack from a Git repository served over smart HTTP on loopback (Debian's
``git http-backend`` behind Basic auth): a wrong token is refused with Git's message on
``git.url``, the right one deploys, and the token shows up nowhere it should not."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid

from tests.git_http import serve_git_http
from tests.git_repos import BareRepo

COMPOSE = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
"""


async def test_git_stack_over_http_with_a_token_deploys_and_keeps_it_secret(
    admin, server, tmp_path
):
    repo = BareRepo(tmp_path / "repo")
    first = repo.push({"compose.yaml": COMPOSE}, "first")
    token = f"tok-{secrets.token_hex(16)}"
    name = f"gith-{uuid.uuid4().hex[:6]}"
    stacks = "/api/v1/environments/local/stacks"
    base = f"{stacks}/{name}"
    with serve_git_http(tmp_path / "repo", "deployer", token) as git_server:
        source = {"url": f"{git_server.base_url}/origin.git", "ref": "main", "path": "compose.yaml"}
        wrong = await admin.post(
            stacks,
            json={
                "name": name,
                "git": {**source, "credential": {"username": "deployer", "password": "nope"}},
            },
        )
        assert wrong.status_code == 422, wrong.text
        error = wrong.json()["error"]
        assert error["field"] == "git.url" and "Authentication failed" in error["message"], error
        assert "nope" not in wrong.text
        assert (await admin.get(base)).status_code == 404
        assert git_server.requests == []  # no request passed the Basic auth

        created = await admin.post(
            stacks,
            json={
                "name": name,
                "git": {**source, "credential": {"username": "deployer", "password": token}},
                "stable_seconds": 0,
            },
        )
        assert created.status_code == 201, created.text
        try:
            assert created.json()["git"]["credential"] == "https"
            assert token not in created.text
            deadline = time.monotonic() + 40
            while (stack := (await admin.get(base)).json())["git"]["commit"] != first:
                assert time.monotonic() < deadline, json.dumps(stack["git"])
                await asyncio.sleep(0.3)
            assert stack["git"]["error"] is None, stack["git"]
            assert [(s["service"], s["state"]) for s in stack["services"]] == [("app", "running")]
            assert token not in json.dumps(stack)

            methods = {(method, path.rsplit("/", 1)[-1]) for method, path, _ in git_server.requests}
            assert methods >= {("GET", "refs"), ("POST", "git-upload-pack")}, methods
            assert {user for *_, user in git_server.requests} == {"deployer"}
            # Taken while Moorage's git waited on the server: every process's arguments.
            fetches = [line for line in git_server.command_lines if git_server.base_url in line]
            assert [line for line in fetches if line.startswith("git fetch")], fetches
            assert not [line for line in git_server.command_lines if token in line]

            audit = await admin.get("/api/v1/audit", params={"object_id": name})
            assert audit.status_code == 200 and audit.json(), audit.text
            assert token not in audit.text
            assert server.log_path is not None and token not in server.log_path.read_text()
        finally:
            await admin.post(f"{base}/down")
            assert (await admin.delete(base)).status_code == 204
