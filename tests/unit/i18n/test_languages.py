"""The language of a request: the account's choice, else the cookie, else
Accept-Language, else English; pages and API errors follow it."""

from __future__ import annotations

import pytest

from moorage.i18n import ngettext, use_language
from moorage.i18n.negotiation import from_accept_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr"),
        ("de, ru;q=0.3", "ru"),
        ("es-419", "es"),
        ("de", None),
        ("en;q=0, ru;q=0.1", "ru"),
        ("", None),
        ("fr;q=bad, ru;q=0.2", "ru"),
    ],
)
def test_accept_language_gives_the_best_supported_language(header, expected):
    assert from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("language", "forms"),
    [
        ("ru", ["1 сессия", "2 сессии", "5 сессий", "11 сессий", "21 сессия", "22 сессии"]),
        (
            "fr",
            ["1 session", "2 sessions", "5 sessions", "11 sessions", "21 sessions", "22 sessions"],
        ),
        (
            "en",
            ["1 session", "2 sessions", "5 sessions", "11 sessions", "21 sessions", "22 sessions"],
        ),
    ],
)
def test_plurals_follow_each_languages_rules(language, forms):
    use_language(language)
    try:
        got = [
            ngettext("%(count)s session", "%(count)s sessions", n, count=n)
            for n in (1, 2, 5, 11, 21, 22)
        ]
    finally:
        use_language("en")
    assert got == forms


async def test_the_login_page_follows_accept_language_then_the_cookie(app):
    client = app.client
    russian = await client.get("/login", headers={"accept-language": "ru,en;q=0.5"})
    assert '<html lang="ru">' in russian.text and "Войти" in russian.text
    chosen = await client.post(
        "/language", data={"language": "fr", "next": "/login"}, follow_redirects=False
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert "moorage_lang=fr" in chosen.headers["set-cookie"]
    french = await client.get(
        "/login", headers={"accept-language": "ru", "cookie": "moorage_lang=fr"}
    )
    assert '<html lang="fr">' in french.text and "Se connecter" in french.text


async def test_an_unknown_language_is_a_422_naming_the_field(app):
    response = await app.client.post("/language", data={"language": "xx"})
    assert response.status_code == 422


async def test_a_signed_in_choice_is_kept_on_the_account_and_wins_over_the_browser(app, member):
    await member.post("/language", data={"language": "es", "next": "/"})
    member.cookies.delete("moorage_lang")
    page = await member.get("/", headers={"accept-language": "ru"})
    assert '<html lang="es">' in page.text and "Catálogo" in page.text


async def test_api_errors_come_in_the_requests_language(app):
    response = await app.client.get(
        "/api/v1/templates/no-such-template", headers={"accept-language": "ru"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "шаблона с именем 'no-such-template' нет"
    english = await app.client.get("/api/v1/templates/no-such-template")
    assert english.json()["error"]["message"] == "no template named 'no-such-template'"
