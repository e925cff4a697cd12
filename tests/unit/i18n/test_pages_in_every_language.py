"""Every page renders in every language (the fake driver makes Docker pages a 503
error page, rendered too): a translation with a wrong placeholder or a
template mistake would be a 500 only in that language."""

from __future__ import annotations

import pytest

PAGES = (
    "/",
    "/login",
    "/account",
    "/reservations",
    "/machines",
    "/provisioning",
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
    "/admin/sessions",
    "/admin/templates",
    "/admin/users",
    "/admin/groups",
    "/admin/directory",
    "/admin/recordings",
    "/admin/audit",
    "/no-such-page",
)


@pytest.mark.parametrize("language", ["en", "fr", "es", "ru"])
async def test_every_main_page_renders_in_the_language(app, language):
    app.client.cookies.set("moorage_lang", language)
    for path in PAGES:
        response = await app.client.get(path)
        assert response.status_code != 500, (path, response.text[-2000:])
        if response.headers.get("content-type", "").startswith("text/html"):
            assert f'<html lang="{language}">' in response.text, path
