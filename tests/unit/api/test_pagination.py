"""List endpoints page with ``limit`` and ``cursor`` and give the next page's URL in a
``Link`` header (RFC 8288), keeping their bodies JSON arrays."""

from __future__ import annotations

import re

import httpx

from tests.unit.conftest import App


def next_link(response: httpx.Response) -> str | None:
    found = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
    return found.group(1) if found else None


async def walk(client: httpx.AsyncClient, url: str) -> list[list[dict]]:
    pages = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = next_link(response) or ""
    return pages


async def test_users_come_in_pages_that_add_up_to_the_whole_list(app: App):
    for n in range(5):
        created = await app.client.post(
            "/api/v1/users", json={"username": f"pager{n}", "password": "pager-password"}
        )
        assert created.status_code == 201
    whole = (await app.client.get("/api/v1/users")).json()
    assert len(whole) == 6  # admin and five
    pages = await walk(app.client, "/api/v1/users?limit=4")
    assert [len(p) for p in pages] == [4, 2]
    assert [u["username"] for p in pages for u in p] == [u["username"] for u in whole]


async def test_without_limit_the_body_and_headers_are_as_before(app: App, member):
    response = await member.get("/api/v1/templates")
    assert isinstance(response.json(), list) and "link" not in response.headers


async def test_sessions_and_audit_pages_follow_the_link(app: App, member):
    for _ in range(3):
        launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
    pages = await walk(member, "/api/v1/sessions?limit=2")
    assert [len(p) for p in pages] == [2, 1]
    assert len({s["id"] for p in pages for s in p}) == 3
    audit = await walk(app.client, "/api/v1/audit?action=session.&limit=2")
    assert sum(len(p) for p in audit) == 3 and len(audit) == 2


async def test_a_bad_cursor_or_limit_is_a_422_naming_it(app: App):
    bad = await app.client.get("/api/v1/users?cursor=not-ours")
    assert bad.status_code == 422 and "cursor" in bad.text
    assert (await app.client.get("/api/v1/users?limit=0")).status_code == 422
