"""A directory user in the browser: a person who exists only in a real slapd (started
here on loopback) signs in on the login page of a real ``moorage serve`` and sees
in the catalog exactly the templates of the group the directory puts them in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_admin_in_browser import sign_in
from tests.ldap_server import GROUPS, PEOPLE, ROOT_DN, ROOT_PASSWORD, Slapd, require_slapd
from tests.live_server import Server

pytestmark = pytest.mark.browser


@pytest.fixture
def own_server(tmp_path) -> Iterator[Server]:
    """A server of the test's own, so its directory settings reach no other test."""
    instance = Server(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'moorage.db'}")
    (tmp_path / "data").mkdir()
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def slapd(tmp_path) -> Iterator[Slapd]:
    require_slapd()
    server = Slapd(tmp_path / "slapd")
    server.start()
    yield server
    server.stop()


async def test_a_directory_user_signs_in_and_sees_only_their_groups_templates(
    own_server, slapd, browser, tmp_path
):
    dn = slapd.add_user("pupil", "pupil-directory-password", name="Pupil Directory")
    slapd.add_group("class-2b", [dn])
    admin = await own_server.login()
    try:
        for group in ("class-2b", "staff"):
            assert (await admin.post("/api/v1/groups", json={"name": group})).status_code == 201
        templates = [t["name"] for t in (await admin.get("/api/v1/templates")).json()]
        assert "debian-shell" in templates and len(templates) > 1
        for name in templates:
            allowed = ["class-2b"] if name == "debian-shell" else ["staff"]
            put = await admin.put(f"/api/v1/templates/{name}/groups", json={"groups": allowed})
            assert put.status_code == 200, put.text
        saved = await admin.put(
            "/api/v1/directory/ldap",
            json={
                "url": slapd.url,
                "bind_dn": ROOT_DN,
                "bind_password": ROOT_PASSWORD,
                "user_base": PEOPLE,
                "group_rules": [{"group": f"cn=class-2b,{GROUPS}", "groups": ["class-2b"]}],
            },
        )
        assert saved.status_code == 200, saved.text
    finally:
        await admin.aclose()

    page = await browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(20_000)
    try:
        await sign_in(page, own_server.base_url, "pupil", "pupil-directory-password", "/")
        await page.wait_for_selector("[data-template]")
        shown = await page.eval_on_selector_all(
            "[data-template]", "cards => cards.map(c => c.dataset.template)"
        )
        assert shown == ["debian-shell"], shown
        await page.screenshot(path=str(tmp_path / "ldap-catalog.png"), full_page=True)
    finally:
        await page.close()
