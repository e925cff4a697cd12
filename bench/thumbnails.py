"""Session thumbnails benchmark (issue 14, the instructor view). Prints one JSON document.

* ``terminal``: ``--sessions`` debian-shell sessions, each with a held terminal
  that printed a screenful (``ls -l /usr/bin``, colours on). Then ``--requests``
  thumbnail requests, ``--concurrency`` at a time, in rounds of one request per
  session; each round waits out the server's 3 s cache first and types a new
  command in every terminal, so every request draws a screen (the instructor
  grid's case: everything changed since the last refresh). The first round is
  the first look (a replay of the output's tail), reported apart.
* ``terminal_cached``: the same number of requests again at once, within the
  cache's seconds.
* ``desktop``: ``--desktops`` linux-desktop sessions, ``--desktop-rounds`` rounds
  of one uncached request each (one frame read from Xvnc, scaled, PNG).

Times are wall-clock seconds per request and per round, measured by the client.

Usage: ``uv run python bench/thumbnails.py [--sessions 10] [--requests 100]
[--concurrency 10] [--desktops 2] [--desktop-rounds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_server import Server

CACHE_SECONDS = 3.2


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 4)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_s": pct(values, 50),
        "p95_s": pct(values, 95),
        "max_s": round(max(values), 4),
    }


async def type_in(ws_url: str, token: str, line: str, marker: str) -> None:
    """Attach to the session's terminal, type ``line`` and wait for ``marker``."""
    async with websockets.connect(
        ws_url + "?cols=100&rows=30",
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
    ) as ws:
        await ws.send(f"{line}; echo {marker[:-1]}''{marker[-1]}\r".encode())
        output = b""
        deadline = time.monotonic() + 30
        while marker.encode() not in output:
            output += await asyncio.wait_for(ws.recv(), deadline - time.monotonic())


async def fetch_all(client, paths: list[str], concurrency: int) -> tuple[list[float], float]:
    """GET every path, ``concurrency`` at a time: (each one's seconds, the total)."""
    slots = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(path: str) -> None:
        async with slots:
            started = time.perf_counter()
            response = await client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("image/"), response.headers

    started = time.perf_counter()
    await asyncio.gather(*(one(path) for path in paths))
    return times, time.perf_counter() - started


async def launch(client, template: str, count: int) -> list[dict]:
    limit = {"max_sessions_per_user": 200}
    response = await client.patch(f"/api/v1/templates/{template}", json=limit)
    assert response.status_code == 200, response.text
    sessions = []
    for _ in range(count):
        response = await client.post("/api/v1/sessions", json={"template": template})
        assert response.status_code == 201, response.text
        sessions.append(response.json())
    return sessions


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--desktops", type=int, default=2)
    parser.add_argument("--desktop-rounds", type=int, default=5)
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "thumbnails", "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), f"sqlite+aiosqlite:///{tmp}/moorage.db")
        server.start()
        client = await server.login()
        client.timeout = 120
        try:
            token = (await client.post("/api/v1/tokens", json={})).json()["token"]
            terminals = await launch(client, "debian-shell", args.sessions)
            await asyncio.gather(
                *(
                    type_in(s["urls"]["terminal"], token, "ls -l --color=always /usr/bin", "DONE0")
                    for s in terminals
                )
            )
            paths = [f"/api/v1/sessions/{s['id']}/thumbnail" for s in terminals]
            rounds = max(1, args.requests // len(paths))
            first_look: list[float] = []
            later: list[float] = []
            round_seconds: list[float] = []
            for index in range(rounds):
                if index:
                    await asyncio.sleep(CACHE_SECONDS)
                    await asyncio.gather(
                        *(
                            type_in(s["urls"]["terminal"], token, "date; ls /etc", f"DONE{index}")
                            for s in terminals
                        )
                    )
                times, total = await fetch_all(client, paths, args.concurrency)
                (later if index else first_look).extend(times)
                round_seconds.append(total)
            cached_times, cached_total = await fetch_all(client, paths * rounds, args.concurrency)
            result["terminal"] = {
                "requests": rounds * len(paths),
                "total_request_seconds": round(sum(round_seconds), 3),
                "first_look": summary(first_look),
                "changed_screen": summary(later) if later else None,
                "round_of_all_sessions_s": summary(round_seconds),
            }
            result["terminal_cached"] = {
                "requests": len(cached_times),
                "total_s": round(cached_total, 3),
                **summary(cached_times),
            }
            for session in terminals:
                await client.delete(f"/api/v1/sessions/{session['id']}")

            if args.desktops:
                desktops = await launch(client, "linux-desktop", args.desktops)
                await asyncio.sleep(3)  # the desktop draws its terminal
                desktop_paths = [f"/api/v1/sessions/{s['id']}/thumbnail" for s in desktops]
                desktop_times: list[float] = []
                for index in range(args.desktop_rounds):
                    if index:
                        await asyncio.sleep(CACHE_SECONDS)
                    times, _ = await fetch_all(client, desktop_paths, args.concurrency)
                    desktop_times.extend(times)
                result["desktop"] = summary(desktop_times)
                for session in desktops:
                    await client.delete(f"/api/v1/sessions/{session['id']}")
        finally:
            await client.aclose()
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
