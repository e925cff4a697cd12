"""The main pages pass axe-core at a desktop's and a phone's width, light and dark, and
nothing runs off a phone's screen.

axe-core (npm, a devDependency read from node_modules, never served) checks WCAG
rules in the real page: contrast, labels, names of buttons and links, landmarks. A
violation of impact "serious" or "critical" fails. At 390 px the page must be no wider
than the screen (a menu or a table running off it makes the page scroll sideways).
One server, one signed-in browser context and one live terminal session serve all of
it; the four looks (1366x768 and 390x844, light and dark) each visit the six pages.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import POLL_MS
from tests.live_server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

AXE_SOURCE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

FAILING_IMPACTS = ("serious", "critical")


def _pages(session_id: str) -> dict[str, str]:
    """The pages checked, by name: path."""
    return {
        "dashboard": "/",
        "session": f"/sessions/{session_id}",
        "templates": "/admin/templates",
        "containers": "/environments/local/containers",
        "fleet": "/fleet",
        "audit": "/admin/audit",
        "recordings": "/admin/recordings",
        "workshops": "/workshops",
    }


@pytest.fixture(scope="module")
async def axe_source() -> str:
    if not AXE_SOURCE.is_file():
        pytest.fail(f"{AXE_SOURCE} is missing: run `npm ci` (axe-core is a devDependency)")
    return AXE_SOURCE.read_text()


@pytest.fixture(scope="module")
async def signed_in(server, browser, docker):
    """A browser context signed in as the admin, and the id of a live terminal
    session it launched (ended afterwards); the fleet has a node to list."""
    api = await server.login()
    token = (await api.post("/api/v1/enrollment-tokens", json={"tags": ["a11y"]})).json()
    enrolled = await api.post(
        "/api/v1/agents/enroll",
        json={"token": token["token"], "hostname": f"a11y-{uuid.uuid4().hex[:6]}", "os": "Debian"},
    )
    assert enrolled.status_code == 201, enrolled.text
    context = await browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(30_000)
    page = await context.new_page()
    await page.goto(f"{server.base_url}/login")
    await page.fill("#username", "admin")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("[data-template=debian-shell]")
    await page.click("[data-template=debian-shell] button[type=submit]")
    await page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    session_id = page.url.rsplit("/", 1)[1]
    try:
        yield page, session_id
    finally:
        await context.close()
        await api.delete(f"/api/v1/sessions/{session_id}")
        await api.aclose()


def _describe(violations: list[dict]) -> str:
    return "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']}; "
        + "; ".join(
            f"{' '.join(map(str, node['target']))}: "
            + " ".join(node.get("failureSummary", "").split("\n")[1:]).strip()
            for node in v["nodes"][:3]
        )
        for v in violations
    )


async def _settle(page, name: str) -> None:
    """Wait until the page shows what axe should judge (scripts have run)."""
    await page.wait_for_load_state("load")
    if name == "session":
        await page.wait_for_function(
            "() => document.getElementById('terminal-status') && "
            "document.getElementById('terminal-status').textContent === 'connected'",
            polling=POLL_MS,
        )
    # Rows that arrive by htmx or SSE after the first paint.
    await page.wait_for_function("() => !document.querySelector('.htmx-request')", polling=POLL_MS)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366px", "390px"])
async def test_pages_have_no_serious_accessibility_violation_and_fit_a_phone(
    server, signed_in, axe_source, viewport, scheme, tmp_path
):
    page, session_id = signed_in
    await page.set_viewport_size(viewport)
    await page.emulate_media(color_scheme=scheme)
    failures: list[str] = []
    for name, path in _pages(session_id).items():
        await page.goto(f"{server.base_url}{path}")
        await _settle(page, name)
        theme = await page.evaluate("() => document.documentElement.dataset.bsTheme || 'light'")
        assert theme == scheme, f"{name}: the page's theme is {theme}, the system's {scheme}"
        await page.screenshot(
            path=str(tmp_path / f"{name}-{viewport['width']}-{scheme}.png"), full_page=True
        )
        await page.evaluate(axe_source)
        result = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS]
        if bad:
            failures.append(f"{name} ({path}):\n{_describe(bad)}")
        if viewport is PHONE:
            width = await page.evaluate("() => document.documentElement.scrollWidth")
            if width > PHONE["width"] + 1:
                failures.append(f"{name} ({path}): {width} px wide on a 390 px screen")
    assert not failures, "\n".join(failures)


async def test_the_theme_toggle_overrides_the_system_and_is_remembered(server, signed_in):
    page, _ = signed_in
    await page.set_viewport_size(DESKTOP)
    await page.emulate_media(color_scheme="light")
    await page.goto(f"{server.base_url}/")
    await page.evaluate("() => localStorage.removeItem('moorage-theme')")
    await page.reload()
    assert await page.evaluate("() => document.documentElement.dataset.bsTheme") == "light"
    await page.click("#theme-toggle")
    assert await page.evaluate("() => document.documentElement.dataset.bsTheme") == "dark"
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    await page.goto(f"{server.base_url}/fleet")
    # Set before the first paint (the head's script, allowed by its CSP nonce), from
    # localStorage, on the next page too.
    assert await page.evaluate("() => document.documentElement.dataset.bsTheme") == "dark"
    assert not [text for text in refused if "Content Security Policy" in text], refused
    await page.click("#theme-toggle")
    assert await page.evaluate("() => document.documentElement.dataset.bsTheme") == "light"
    await page.evaluate("() => localStorage.removeItem('moorage-theme')")
    await page.emulate_media(color_scheme="dark")
    await page.reload()
    assert await page.evaluate("() => document.documentElement.dataset.bsTheme") == "dark"
    await page.evaluate("() => localStorage.removeItem('moorage-theme')")


async def test_the_menu_folds_on_a_phone_and_marks_the_current_page(server, signed_in, tmp_path):
    page, session_id = signed_in
    await page.set_viewport_size(PHONE)
    await page.emulate_media(color_scheme="light")
    await page.goto(f"{server.base_url}/admin/audit")
    menu = page.locator("#navbar-menu")
    assert not await menu.is_visible()
    await page.click(".navbar-toggler")
    await menu.wait_for(state="visible")
    await page.wait_for_function(
        "() => !document.querySelector('#navbar-menu.collapsing')", polling=POLL_MS
    )
    await page.screenshot(path=str(tmp_path / "menu-390.png"))
    current = menu.locator("[aria-current=page]")
    assert await current.count() == 1
    assert (await current.inner_text()).strip() == "Audit"
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"] + 1
    # A session's page belongs to the dashboard's entry.
    await page.set_viewport_size(DESKTOP)
    await page.goto(f"{server.base_url}/sessions/{session_id}")
    current = page.locator("#navbar-menu [aria-current=page]")
    assert (await current.inner_text()).strip() == "Dashboard"
