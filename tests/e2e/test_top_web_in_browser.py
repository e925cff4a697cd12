"""``moorage top --web`` in a real browser: a real process serves this machine's live
numbers and a history chart that grows, and writes its export files meanwhile."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.request

import pytest

from tests.e2e.conftest import POLL_MS

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "api/stats", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def _until_serving(url: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(100):
        assert process.returncode is None, "moorage top --web stopped"
        if await asyncio.to_thread(_serving, url):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("moorage top --web did not serve a sample in 20 s")


async def _until(page, expression: str, timeout_seconds: float = 15) -> None:
    """Poll ``expression`` from Python: the page's CSP (default-src 'self') forbids
    the string evaluation ``page.wait_for_function`` polls with."""
    for _ in range(int(timeout_seconds * 1000 / POLL_MS)):
        if await page.evaluate(f"() => {expression}"):
            return
        await asyncio.sleep(POLL_MS / 1000)
    raise AssertionError(f"never true: {expression}")


async def test_top_web_page_shows_live_numbers_and_a_growing_chart(browser, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    process = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "moorage",
            "top",
            "--web",
            "--port",
            str(port),
            "--interval",
            "0.5",
            "--export-jsonl",
            str(tmp_path / "metrics.jsonl"),
        ],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    try:
        await _until_serving(url, process)
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        await _until(page, "document.getElementById('cpu').textContent.endsWith('%')")
        # The chart draws (uPlot's canvas when installed, else the SVG) and grows.
        drawn = "document.querySelector('#chart canvas, #chart svg polyline') !== null"
        await _until(page, drawn)
        count = "Number((document.getElementById('status').textContent.match(/(\\d+) in/)||[])[1])"
        first = await page.evaluate(count)
        await _until(page, f"{count} > {first}")
        for key in ("memory", "disk", "swap"):
            assert (await page.text_content(f"#{key}")).endswith("%")
        assert "/s" in await page.text_content("#rx")
        assert "min" in await page.text_content("#uptime")
        await page.screenshot(path=str(tmp_path / "top-web.png"), full_page=True)
        shot = os.environ.get("MOORAGE_SCREENSHOT_DIR")
        if shot:
            await page.screenshot(path=os.path.join(shot, "top-web.png"), full_page=True)
        assert errors == []
        await page.close()
        lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
        assert len(lines) >= 2 and "cpu_percent" in json.loads(lines[-1])
        assert not (tmp_path / "moorage-top").exists()  # only the export asked for
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
