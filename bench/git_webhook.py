"""Webhook-to-deployed time of a stack from Git (issue 19). Prints JSON.

Starts a real ``moorage serve`` (SQLite, ``MOORAGE_GIT_ALLOW_FILE_URLS=true``), makes
a bare repository, creates a stack from it (one service, ``moorage/terminal:latest``,
already present, no healthcheck) and waits for its first deploy; then ``--rounds``
times: push a commit changing the service, send the GitHub-signed webhook, and time
until the stack's ``git.commit`` is the new commit (polled every 0.1 s). A service
with no healthcheck counts as healthy after running ``--stable`` seconds (the stack's
``stable_seconds``, default 5), which is part of every figure. Target: ≤ 10 s.

Usage: ``uv run python bench/git_webhook.py [--rounds 5] [--stable 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.git_repos import BareRepo, github_headers
from tests.live_server import ADMIN_PASSWORD, Server

COMPOSE = """\
services:
  app:
    image: moorage/terminal:latest
    command: ["sleep", "infinity"]
    labels:
      moorage.bench: "{round}"
"""
PUSH = json.dumps({"ref": "refs/heads/main"}).encode()


def wait_commit(client: httpx.Client, base: str, commit: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        git = client.get(base).json()["git"]
        if git["commit"] == commit:
            return git
        time.sleep(0.1)
    raise RuntimeError(f"{commit} not deployed in {timeout} s: {git}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stable", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        repo = BareRepo(folder / "repo")
        commit = repo.push({"compose.yaml": COMPOSE.format(round=0)}, "round 0")
        server = Server(
            folder / "data",
            f"sqlite+aiosqlite:///{folder / 'moorage.db'}",
            extra_env={"MOORAGE_GIT_ALLOW_FILE_URLS": "true"},
        )
        (folder / "data").mkdir()
        server.start(timeout=180)
        name = f"bench-{uuid.uuid4().hex[:6]}"
        base = f"/api/v1/environments/local/stacks/{name}"
        times, checks = [], []
        try:
            with httpx.Client(
                base_url=server.base_url, timeout=60, headers={"Origin": server.base_url}
            ) as client:
                client.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                )
                created = client.post(
                    "/api/v1/environments/local/stacks",
                    json={"name": name, "git": {"url": repo.url}, "stable_seconds": args.stable},
                ).json()
                wait_commit(client, base, commit)
                for number in range(1, args.rounds + 1):
                    commit = repo.push({"compose.yaml": COMPOSE.format(round=number)}, "next")
                    sent = time.monotonic()
                    answer = httpx.post(
                        created["webhook_url"],
                        content=PUSH,
                        headers=github_headers(created["webhook_secret"], PUSH),
                    )
                    answered = time.monotonic() - sent
                    git = wait_commit(client, base, commit)
                    times.append(time.monotonic() - sent)
                    checks.append(
                        {
                            "answer_status": answer.status_code,
                            "answer_s": answered,
                            "check": git["check"],
                        }
                    )
                client.post(f"{base}/down")
                client.delete(base)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "stable_seconds": args.stable,
                "webhook_to_deployed_s": {
                    "median": round(statistics.median(times), 2),
                    "max": round(max(times), 2),
                    "min": round(min(times), 2),
                    "all": [round(t, 2) for t in times],
                },
                "webhook_answer_max_s": round(max(c["answer_s"] for c in checks), 3),
                "target_s": 10,
                "met": max(times) <= 10,
                "last_check": checks[-1]["check"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
