from starlette.requests import Request

from moorage.gateway.http_proxy import _forward_headers


def request_with(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/s/x/",
            "headers": raw,
            "query_string": b"",
            "client": ("127.0.0.9", 5555),
            "scheme": "http",
            "server": ("moorage.test", 80),
        }
    )


def test_moorage_credentials_never_reach_the_web_app():
    headers = _forward_headers(
        request_with(
            {
                "Host": "moorage.test:8000",
                "Cookie": "moorage_login=mrg_abc_secret; _xsrf=2|abc; theme=dark",
                "Authorization": "Bearer mrg_abc_secret",
                "Connection": "keep-alive, Upgrade",
                "Accept": "text/html",
            }
        )
    )
    assert headers["cookie"] == "_xsrf=2|abc; theme=dark"
    assert "authorization" not in {k.lower() for k in headers}
    assert "connection" not in {k.lower() for k in headers}
    assert headers["host"] == "moorage.test:8000"
    assert headers["accept"] == "text/html"
    assert headers["x-forwarded-for"] == "127.0.0.9"
    assert headers["x-forwarded-proto"] == "http"


def test_a_request_with_only_the_login_cookie_forwards_no_cookie():
    headers = _forward_headers(request_with({"Cookie": "moorage_login=mrg_abc_secret"}))
    assert "cookie" not in headers
