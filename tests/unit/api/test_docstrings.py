"""Every API endpoint has a docstring: it is the operation's description in the
OpenAPI document (``/api/openapi.json``) and in the API docs."""

from __future__ import annotations

from fastapi.routing import APIRoute

from tests.unit.security.test_csrf import flat_routes


def api_routes(application) -> list[tuple[str, APIRoute]]:
    found = [
        (f"{','.join(sorted(route.methods))} {path}", route)
        for route, path, _ in flat_routes(application)
        if isinstance(route, APIRoute) and path.startswith("/api/")
    ]
    assert len(found) > 50  # the table was really walked, included routers too
    return found


async def test_every_api_endpoint_has_a_docstring(app):
    missing = [
        name
        for name, route in api_routes(app.client._transport.app)
        if not (route.endpoint.__doc__ or "").strip()
    ]
    assert missing == []


async def test_the_docstring_is_the_operations_description(app):
    schema = (await app.client.get("/api/openapi.json")).json()
    launch = schema["paths"]["/api/v1/sessions"]["post"]
    assert launch["description"].startswith("Launch a session")
