"""No page shows English that was never marked for translation (issue 18).

The server of the browser tests also knows a pseudo-language (tests/pseudo_locale.py:
every translation is its English accented between ⟦ and ⟧). One admin visits every
main page in it (with a workshop's), and a signed-out visitor the login page and
the workshop's join page; every visible text node
must be inside markers, except data: numbers, names and ids the test made or the
server has (users, templates, environments, Docker objects), and what is marked as
not to be translated (``translate="no"``, code, times)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_admin_in_browser import sign_in
from tests.e2e.test_languages_in_browser import forget_language
from tests.live_server import ADMIN_PASSWORD
from tests.pseudo_locale import CODE

pytestmark = pytest.mark.browser

PAGES = (
    "/",
    "/admin/sessions",
    "/admin/templates",
    "/machines",
    "/provisioning",
    "/reservations",
    "/environments",
    "/environments/local/containers",
    "/environments/local/images",
    "/environments/local/volumes",
    "/environments/local/networks",
    "/environments/local/stacks",
    "/environments/local/events",
    "/fleet",
    "/fleet/alerts",
    "/fleet/enroll",
    "/account",
    "/admin/users",
    "/admin/groups",
    "/admin/directory",
    "/admin/recordings",
    "/admin/audit",
)

# Visible text nodes, less what needs no translation; what each leaves outside ⟦…⟧.
# A translation holding a value that is an element (a <time>) splits into nodes
# "⟦… " and " …⟧": an unclosed marker at either end counts.
UNMARKED = """() => {
  const skip = "script,style,noscript,template,code,pre,kbd,samp,textarea,option,time,svg,"
    + "[translate=no],.visually-hidden";
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.getClientRects().length) continue;
    if (getComputedStyle(parent).visibility === "hidden") continue;
    const rest = node.textContent.replace(/⟦[^⟧]*⟧/g, " ").replace(/^[^⟦]*⟧/, " ")
      .replace(/⟦[^⟧]*$/, " ").trim();
    if (rest) found.push(rest);
  }
  return found;
}"""

PRODUCT_WORDS = {"Moorage", "⚓ Moorage", "Docker"}


async def data_words(admin) -> set[str]:
    """Names the pages show as data: users, templates, environments, Docker objects."""
    words = set(PRODUCT_WORDS)
    for row in (await admin.get("/api/v1/users")).json():
        words |= {row["username"], row.get("display_name") or ""}
    for row in (await admin.get("/api/v1/templates")).json():
        words |= {row["name"], row["display_name"], row.get("description") or "", row["image"]}
    for row in (await admin.get("/api/v1/environments")).json():
        words |= {row["name"], row.get("url") or ""}
    for kind in ("containers", "images", "volumes", "networks"):
        answer = await admin.get(f"/api/v1/environments/local/{kind}")
        if answer.status_code == 200:
            for row in answer.json():
                for key in ("name", "image", "id", "driver", "status", "state", "scope"):
                    value = row.get(key)
                    if isinstance(value, str):
                        words.add(value)
                for tag in row.get("tags") or row.get("repo_tags") or []:
                    words.add(tag)
    return {word for word in words if word}


QUANTITY = re.compile(r"\d[\d.,]*\s*(B|kB|MB|GB|TB|MiB|GiB|%)")
"""A size or a share (``154 MB``, ``12 %``): units are written the one way."""


def leftover(text: str, words: set[str]) -> str:
    """``text`` without the data words and quantities: what still has letters."""
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, " ")
    text = QUANTITY.sub(" ", text)
    return text if re.search(r"[A-Za-z]{2,}", text) else ""


async def test_every_main_page_is_marked_for_translation(server, browser, admin):
    # A live session, so the dashboard's list, the admins' Sessions page and the
    # session's own page show one (the admin fixture ends it afterwards).
    launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert launched.status_code == 201, launched.text
    # A workshop, for its page and (signed out) its join page; ended afterwards.
    created = await admin.post(
        "/api/v1/workshops",
        json={
            "title": "Pseudo workshop",
            "template": "debian-shell",
            "capacity": 2,
            "anonymous": True,
        },
    )
    assert created.status_code == 201, created.text
    workshop = created.json()
    pages = (
        *PAGES,
        f"/sessions/{launched.json()['id']}",
        "/workshops",
        f"/workshops/{workshop['id']}",
    )
    words = await data_words(admin)
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    page.set_default_timeout(20_000)
    unmarked: dict[str, list[str]] = {}
    try:
        await sign_in(page, server.base_url, "admin", ADMIN_PASSWORD, "/account")
        await page.wait_for_selector("#language")
        await forget_language(page, server.base_url)  # an account's choice beats the cookie
        host = server.base_url.split("//", 1)[1].split(":")[0]
        await context.add_cookies(
            [{"name": "moorage_lang", "value": CODE, "domain": host, "path": "/"}]
        )
        for path in pages:
            await page.goto(f"{server.base_url}{path}")
            await page.wait_for_load_state("networkidle")
            assert await page.evaluate("document.documentElement.lang") == CODE, path
            left = [t for t in await page.evaluate(UNMARKED) if leftover(t, words)]
            if left:
                unmarked[path] = sorted(set(left))
        await context.clear_cookies()
        await context.add_cookies(
            [{"name": "moorage_lang", "value": CODE, "domain": host, "path": "/"}]
        )
        for path in ("/login", f"/join/{workshop['join_code']}"):
            await page.goto(f"{server.base_url}{path}")
            await page.wait_for_load_state("networkidle")
            if path.startswith("/join/"):
                await page.wait_for_selector("#join-form")
            left = [t for t in await page.evaluate(UNMARKED) if leftover(t, words)]
            if left:
                unmarked[path] = sorted(set(left))
    finally:
        await context.close()
        await admin.post(f"/api/v1/workshops/{workshop['id']}/end")
    report = "\n".join(f"{path}: {texts}" for path, texts in unmarked.items())
    assert not unmarked, f"text left unmarked for translation:\n{report}"
