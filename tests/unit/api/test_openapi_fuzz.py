"""Schemathesis over ``/api/openapi.json`` of the unit app (fake container driver,
fake machine connector), as admin: generated requests, valid and not, never get a
server error (5xx).

Left out: routes that reach Docker or the network for real (environments and
their objects, registries, notification channels, provisioning, LDAP directories:
tests/integration/test_ldap_directory.py runs them against a real slapd), the agent's
routes (their own tokens, tested in tests/unit/agent), streams that never end,
and logout (it would end the admin's cookie mid-run). A launch of a template the
run created with a made-up image answers 503 ``image_missing`` by design; that is
not counted as a server error.
"""

from __future__ import annotations

import warnings

import httpx
import schemathesis
from hypothesis.errors import NonInteractiveExampleWarning

from tests.unit.conftest import App

EXAMPLES_PER_OPERATION = 6
LEFT_OUT = (
    "/api/v1/environments",
    "/api/v1/registries",
    "/api/v1/notification-channels",
    "/api/v1/pools/{name}/provision",
    "/api/v1/directory/",
    "/api/v1/agents/",
    "/api/v1/install",
    "/api/v1/agent.",
    "/api/v1/nodes/stream",
    "/api/v1/auth/logout",
)


def _image_missing(response: httpx.Response) -> bool:
    """A launch of a template the run created with a made-up image (a template named
    ``0`` launched as ``0``): the 503 ``image_missing`` is the answer Docker's refusal
    deserves, not a server error."""
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else body.get("code")
    return code == "image_missing"


async def test_generated_requests_never_get_a_server_error(app: App):
    document = (await app.client.get("/api/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(LEFT_OUT):
            continue
        operations += 1
        strategy = operation.as_strategy()
        for _ in range(EXAMPLES_PER_OPERATION):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                case = strategy.example()
            kwargs = case.as_transport_kwargs(base_url="")
            response = await app.client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers={k: v for k, v in (kwargs.get("headers") or {}).items() if k != "Cookie"},
                json=kwargs.get("json"),
                content=kwargs.get("data")
                if isinstance(kwargs.get("data"), (bytes, str))
                else None,
            )
            statuses.append(response.status_code)
            if response.status_code >= 500 and not _image_missing(response):
                failures.append(
                    f"{operation.label} -> {response.status_code}: {case.as_curl_command()}"
                )
    assert operations > 40  # the schema was really walked
    assert sum(200 <= status < 300 for status in statuses) > 50  # not all refused
    assert failures == []
