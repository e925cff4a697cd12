"""Workspaces on another host, in the browser (issue 15): a terminal, a desktop and a
Jupyter app launched from the catalog onto an environment whose ports only its
connection reaches (:mod:`tests.integration.far_host`) work on their session pages as
they do on this host: an ``ssh://`` environment, and an ``agent://`` one reached
through the tunnel of an agent on that host, behind nginx."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiodocker
import httpx
import pytest

from tests.e2e.conftest import CANVAS_COLOURS, POLL_MS, record_desktop_status, wait_for_desktop
from tests.integration.conftest import dind_image  # noqa: F401
from tests.integration.dind_engines import own_server
from tests.integration.far_host import (
    FarHost,
    add_far_environment,
    agent_environment,
    far_agent,
    far_host,
)
from tests.live_server import ADMIN_PASSWORD, Server, free_port

pytestmark = [pytest.mark.browser, pytest.mark.docker]

TEMPLATES = {
    "shell-ui": {"kind": "terminal", "image": "moorage/terminal:latest"},
    "desktop-ui": {"kind": "vnc", "image": "moorage/desktop:latest", "memory_limit_mb": 1024},
    "jupyter-ui": {"kind": "http", "image": "moorage/jupyter:latest", "memory_limit_mb": 1024},
}


@pytest.fixture(scope="module")
async def far(docker: aiodocker.Docker, dind_image: str) -> AsyncIterator[FarHost]:  # noqa: F811
    async with far_host(docker, dind_image, {t["image"] for t in TEMPLATES.values()}) as host:
        yield host


@pytest.fixture(scope="module")
async def far_server(far: FarHost, tmp_path_factory) -> AsyncIterator[Server]:
    # Web apps on their own origin, as a deployment serves them.
    env = {"MOORAGE_WORKSPACE_PORT": str(free_port())}
    async with own_server(tmp_path_factory, extra_env=env) as instance:
        yield instance


async def launch_from_catalog(page, base_url: str, template: str) -> str:
    await page.goto(f"{base_url}/")
    await page.click(f"[data-template={template}] button[type=submit]")
    await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


async def test_a_terminal_a_desktop_and_jupyter_on_an_ssh_environment(
    far: FarHost, far_server: Server, browser, tmp_path
):
    admin = await far_server.login()
    try:
        labels = {"site": "far-ssh-ui"}
        await add_far_environment(admin, far, "far-ui", labels)
        await in_the_browser(admin, far, far_server, browser, tmp_path, "ssh", labels)
    finally:
        await admin.aclose()


async def test_a_terminal_a_desktop_and_jupyter_on_an_agent_environment(
    docker: aiodocker.Docker, far: FarHost, far_server: Server, browser, tmp_path
):
    """The same through the tunnel of an agent on the far host, behind nginx."""
    admin = await far_server.login()
    try:
        async with far_agent(docker, far, far_server, tmp_path) as agent:
            made = await admin.post("/api/v1/enrollment-tokens", json={"name": "far-ui"})
            node = agent.enroll(made.json()["token"])
            agent.start()
            name = (await agent_environment(admin, node))["name"]
            labels = {"site": "far-agent-ui"}
            patched = await admin.patch(
                f"/api/v1/environments/{name}",
                json={"url": f"agent://{node}{agent.socket}", "state": "active", "labels": labels},
            )
            assert patched.json()["status"] == "reachable", patched.text
            await in_the_browser(admin, far, far_server, browser, tmp_path, "agent", labels)
    finally:
        await admin.aclose()


async def in_the_browser(
    admin: httpx.AsyncClient,
    far: FarHost,
    far_server: Server,
    browser,
    tmp_path,
    via: str,
    labels: dict[str, str],
) -> None:
    """Templates ``<via>-shell-ui``, ``<via>-desktop-ui`` and ``<via>-jupyter-ui``
    placed by ``labels``, each launched from the catalog and used on its page; all three
    run on the far host and are gone after release. Screenshots ``<via>-*.png``."""
    for suffix, fields in TEMPLATES.items():
        made = await admin.post(
            "/api/v1/templates",
            json={
                "name": f"{via}-{suffix}",
                "display_name": f"{via}-{suffix}",
                "environment_labels": labels,
                **fields,
            },
        )
        assert made.status_code == 201, made.text
    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(60_000)
    await record_desktop_status(page)
    await page.goto(f"{far_server.base_url}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    launched: list[str] = []

    # The terminal: Docker exec over the environment's connection.
    launched.append(await launch_from_catalog(page, far_server.base_url, f"{via}-shell-ui"))
    await page.wait_for_function(
        "() => document.getElementById('terminal-status').textContent === 'connected'",
        polling=POLL_MS,
    )
    await page.click("#terminal")
    await page.keyboard.type("echo far-$((40+2))\n")
    await page.wait_for_function(
        "() => Array.from({length: window.moorageTerminal.buffer.active.length}, (_, i) =>"
        " window.moorageTerminal.buffer.active.getLine(i).translateToString())"
        ".join('\\n').includes('far-42')",
        polling=POLL_MS,
    )
    await page.screenshot(path=str(tmp_path / f"{via}-terminal.png"))

    # The desktop: its VNC port forwarded over the same connection.
    launched.append(await launch_from_catalog(page, far_server.base_url, f"{via}-desktop-ui"))
    await wait_for_desktop(page)
    await page.wait_for_function(CANVAS_COLOURS, polling=POLL_MS)
    await page.screenshot(path=str(tmp_path / f"{via}-desktop.png"))

    # Jupyter: its port forwarded too, framed on the workspace origin.
    session_id = await launch_from_catalog(page, far_server.base_url, f"{via}-jupyter-ui")
    launched.append(session_id)
    await page.click("#open-app")
    await page.wait_for_url(f"{far_server.base_url}/sessions/{session_id}/app")
    frame = page.frame_locator("#app-frame")
    await frame.locator("#notebook_list, #ipython-main-app").first.wait_for(state="attached")
    await page.screenshot(path=str(tmp_path / f"{via}-jupyter.png"))
    await page.close()

    assert set(launched) <= await far.containers()  # all three ran on the far host
    for session in launched:
        assert (await admin.delete(f"/api/v1/sessions/{session}")).status_code == 200
    for _ in range(30):
        if not set(launched) & await far.containers():
            break
        await asyncio.sleep(1)
    assert not set(launched) & await far.containers()
