"""The catalog of a first start: a card per template with its kind, limits, the
user's live sessions, and "image not built" with the build command when its image
is missing."""

from __future__ import annotations

import re

from tests.unit.conftest import App


def _card(html: str, name: str) -> str:
    start = html.index(f'data-template="{name}"')
    end = html.find('data-template="', start + 1)
    return html[start : end if end != -1 else len(html)]


async def test_every_image_has_a_card_and_a_missing_image_says_how_to_build_it(app: App, member):
    page = (await member.get("/")).text
    for name in ("debian-shell", "linux-desktop", "rdp-desktop", "ssh-box", "jupyter"):
        assert f'data-template="{name}"' in page
    shell = _card(page, "debian-shell")  # the fake engine has moorage/terminal only
    assert 'data-kind-icon="terminal"' in shell and "1.0 CPU" in shell and "512 MB" in shell
    assert "data-image-missing" not in shell and 'hx-post="/ui/sessions"' in shell
    desktop = _card(page, "linux-desktop")
    assert 'data-kind-icon="vnc"' in desktop and "Image not built" in desktop
    assert "moorage images build desktop" in desktop
    assert 'hx-post="/ui/sessions"' not in desktop  # no launch that would fail


async def test_a_card_counts_the_users_live_sessions_of_its_template(app: App, member):
    assert "data-live-sessions" not in _card((await member.get("/")).text, "debian-shell")
    for _ in range(2):
        launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
    await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})  # not hers
    shell = _card((await member.get("/")).text, "debian-shell")
    assert re.search(r'data-live-sessions="2"[^>]*>\s*2 live', shell)


async def test_a_launch_of_a_missing_image_still_answers_503_naming_the_command(app, member):
    response = await member.post("/api/v1/sessions", json={"template": "jupyter"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "image_missing" and "moorage images build jupyter" in error["message"]
