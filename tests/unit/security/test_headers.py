"""Security headers on Moorage's own responses, not on the workspace proxy's."""

from __future__ import annotations

import re

import httpx
import jinja2
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from moorage.security.headers import NONCE_SCOPE_KEY, SecurityHeaders, add_script_nonces


async def test_pages_and_api_carry_the_policy_and_inline_scripts_its_nonce(app):
    page = await app.client.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy
    for directive in ("object-src 'none'", "base-uri 'self'", "frame-ancestors 'self'"):
        assert directive in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in page.headers
    again = await app.client.get("/")
    assert again.headers["content-security-policy"] != policy  # a nonce per response
    api = await app.client.get("/api/v1/health")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in api.headers


async def test_workspace_proxy_responses_get_none_of_them(app):
    response = await app.client.get("/s/no-such-session/")
    assert response.status_code == 404
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert name not in response.headers


async def test_hsts_only_when_asked():
    async def ok(request):
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/", ok)])
    transport = httpx.ASGITransport(app=SecurityHeaders(inner, hsts=True))
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        response = await client.get("/")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_only_script_tags_written_in_the_template_get_the_nonce():
    env = jinja2.Environment(autoescape=True)
    add_script_nonces(env)

    class Request:
        scope = {NONCE_SCOPE_KEY: "abc"}

    template = env.from_string("<script>go()</script><script src='/x.js'></script>{{ evil }}")
    html = template.render(request=Request(), evil="<script>steal()</script>")
    assert html.count('nonce="abc"') == 2
    assert "&lt;script&gt;steal()" in html
