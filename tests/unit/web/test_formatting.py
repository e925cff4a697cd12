"""Pages write times as <time> elements with the UTC value (moorage.js shows them in
the browser's zone), and errors for htmx as a fragment moorage.js can read."""

from __future__ import annotations

from datetime import datetime

from moorage.web.formatting import localtime


def test_localtime_writes_a_time_element_with_the_utc_value_on_hover():
    html = str(localtime(datetime(2025, 5, 14, 12, 2, 7)))
    assert html == (
        '<time datetime="2025-05-14T12:02:07Z" title="2025-05-14 12:02:07 UTC">'
        "2025-05-14 12:02:07 UTC</time>"
    )
    assert str(localtime("2025-05-14T14:02:07+02:00")).startswith(
        '<time datetime="2025-05-14T12:02:07Z"'
    )


def test_localtime_without_a_value_writes_the_empty_text_escaped():
    assert str(localtime(None)) == "never"
    assert str(localtime("", "<none>")) == "&lt;none&gt;"


async def test_an_htmx_form_error_is_a_fragment_naming_its_message_code_and_field(app):
    form = {
        "name": "too-long-default",
        "display_name": "Too long",
        "image": "moorage/terminal:latest",
        "default_duration_minutes": "500",
        "max_duration_minutes": "240",
    }
    response = await app.client.post("/admin/templates", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert 'data-error-field="default_duration_minutes"' in response.text
    assert 'data-error-code="invalid_input"' in response.text
    assert "default_duration_minutes must not exceed max_duration_minutes" in response.text
    assert "Value error" not in response.text


async def test_a_plain_form_error_is_a_page_with_the_message_and_a_way_back(app):
    response = await app.client.post("/admin/templates", data={"name": "Bad Name!"})
    assert response.status_code == 422
    assert "data-error-message" in response.text and "data-history-back" in response.text


async def test_the_favicon_is_served_at_the_path_browsers_ask_for(app):
    response = await app.client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg")
    page = await app.client.get("/admin/templates")
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
