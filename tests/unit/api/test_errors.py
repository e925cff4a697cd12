import pytest

from moorage import errors


@pytest.mark.parametrize(
    "cls,status,code",
    [
        (errors.InvalidInput, 422, "invalid_input"),
        (errors.Unauthenticated, 401, "unauthenticated"),
        (errors.Forbidden, 403, "forbidden"),
        (errors.NotFound, 404, "not_found"),
        (errors.Conflict, 409, "conflict"),
        (errors.QuotaExceeded, 429, "quota_exceeded"),
        (errors.RuntimeUnavailable, 503, "runtime_unavailable"),
    ],
)
def test_each_error_has_its_status_and_default_code(cls, status, code):
    error = cls("message for the user")
    assert error.status_code == status
    assert error.to_dict() == {"error": {"code": code, "message": "message for the user"}}


def test_details_and_code_override_reach_the_json_body():
    error = errors.QuotaExceeded("limit is 2", code="session_limit", limit=2)
    assert error.to_dict() == {
        "error": {"code": "session_limit", "message": "limit is 2", "limit": 2}
    }


async def test_api_errors_are_json_with_code_and_message(app):
    unknown = await app.client.post("/api/v1/sessions", json={"template": "nope"})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"code": "template_not_found", "message": "no template named 'nope'"}
    }
    bad = await app.client.post("/api/v1/sessions", json={"template": 3, "extra": 1})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_input"
    missing = await app.client.get("/api/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_ui_errors_render_a_page_and_anonymous_pages_redirect_to_login(app):
    page = await app.client.get("/sessions/does-not-exist")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "no session does-not-exist" in page.text
    anonymous = await app.client.__class__(
        transport=app.client._transport, base_url="http://testserver"
    ).get("/")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/"
