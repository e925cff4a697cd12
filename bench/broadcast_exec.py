"""Broadcast command benchmark (issue 14, the instructor view). Prints one JSON document.

An in-process Moorage on the real Docker engine launches ``--sessions``
debian-shell sessions, then times ``run_in_sessions`` of a short command
(``--rounds`` times) at ``--concurrency``: wall-clock seconds for the whole
broadcast, and whether every session answered exit 0.

Usage: ``uv run python bench/broadcast_exec.py [--sessions 20] [--concurrency 10]
[--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moorage.app import create_app
from moorage.config import Settings
from moorage.models.session import WorkspaceSession
from moorage.services.broadcast_exec import run_in_sessions

PASSWORD = "broadcast-bench-pw"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite+aiosqlite:///{tmp}/moorage.db",
            admin_password=SecretStr(PASSWORD),
            reconcile_interval_seconds=3600,
        )
        app = create_app(settings, announce=lambda message: None)
        async with app.router.lifespan_context(app):
            context = app.state.context
            transport = httpx.ASGITransport(app=app)
            same_origin = {"origin": "http://t"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=same_origin, timeout=120
            ) as client:
                await client.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                await client.patch(
                    "/api/v1/templates/debian-shell", json={"max_sessions_per_user": 500}
                )
                ids: list[str] = []
                try:
                    for _ in range(args.sessions):
                        response = await client.post(
                            "/api/v1/sessions", json={"template": "debian-shell"}
                        )
                        assert response.status_code == 201, response.text
                        ids.append(response.json()["id"])
                    async with context.sessionmaker() as db:
                        sessions = list(
                            await db.scalars(
                                select(WorkspaceSession).where(WorkspaceSession.id.in_(ids))
                            )
                        )
                    seconds, all_ok = [], True
                    for _ in range(args.rounds):
                        started = time.perf_counter()
                        results = await run_in_sessions(
                            context,
                            sessions,
                            "cat /etc/hostname; id -un",
                            concurrency=args.concurrency,
                        )
                        seconds.append(round(time.perf_counter() - started, 3))
                        all_ok = all_ok and all(
                            r.exit_code == 0 and r.error is None for r in results
                        )
                finally:
                    for session_id in ids:
                        await client.delete(f"/api/v1/sessions/{session_id}")
    print(
        json.dumps(
            {
                "benchmark": "broadcast_exec",
                "args": vars(args),
                "broadcast_seconds": seconds,
                "every_session_exit_0": all_ok,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
