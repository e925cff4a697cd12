"""The Docker and fleet request bodies are strict input models: unknown fields,
booleans for numbers and control characters are a 422 naming the field, before
any environment is looked up."""

from __future__ import annotations

import pytest

BAD_BODIES = [
    ("/api/v1/environments/x/networks", {"name": "net", "labels": {"a": "b\x00"}}),
    ("/api/v1/environments/x/networks", {"name": "net", "surprise": 1}),
    ("/api/v1/environments/x/networks/n/connect", {"container": "c\x1b[2J"}),
    ("/api/v1/environments/x/stacks", {"name": "s", "compose": "x", "extra": True}),
    ("/api/v1/environments/x/stacks", {"name": "s\x00", "compose": "services: {}"}),
    ("/api/v1/alert-rules", {"name": "r\x07", "metric": "cpu_percent"}),
    ("/api/v1/alert-rules", {"name": "r", "metric": "cpu_percent", "duration_seconds": True}),
    ("/api/v1/enrollment-tokens", {"name": "t\n"}),
    ("/api/v1/nodes/n/actions", {"action": "a\x00"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
async def test_a_bad_body_is_a_422(app, path, body):
    response = await app.client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


async def test_a_stack_keeps_its_multi_line_compose_text(app):
    compose = "services:\n\tweb:\n    image: nginx\n"
    response = await app.client.post(
        "/api/v1/environments/none/stacks", json={"name": "s", "compose": compose}
    )
    assert response.status_code == 404, response.text  # got past the schema


@pytest.mark.parametrize("field", ["0", "-5", "99999999999999999999999999999"])
async def test_huge_or_negative_minutes_on_the_session_forms_are_422_not_500(app, field):
    launched = await app.client.post(
        "/ui/sessions", data={"template": "debian-shell", "duration_minutes": field}
    )
    extended = await app.client.post("/ui/sessions/x/extend", data={"minutes": field})
    assert (launched.status_code, extended.status_code) == (422, 422)
