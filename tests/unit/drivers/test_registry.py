"""The registry client against a mock registry (httpx.MockTransport): digests from
``Docker-Content-Digest`` (or the manifest's SHA-256), the Accept types, Bearer and
Basic challenges with the stored login, tag pages, and errors translated."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from moorage.drivers.registry import MANIFEST_TYPES, RegistryClient, RegistryLogin, RepositoryRef
from moorage.errors import NotFound, RuntimeUnavailable

REPO = RepositoryRef("registry.test", "team/app")
LOGIN = RegistryLogin("ci", "s3cret")
DIGEST = "sha256:" + "a" * 64


def bearer_registry(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.test":
            expected = "Basic " + base64.b64encode(b"ci:s3cret").decode()
            if request.headers.get("Authorization") != expected:
                return httpx.Response(401)
            assert request.url.params["scope"] == "repository:team/app:pull"
            assert request.url.params["service"] == "registry"
            return httpx.Response(200, json={"token": "tok"})
        if request.headers.get("Authorization") != "Bearer tok":
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://auth.test/token",'
                    'service="registry",scope="repository:team/app:pull"'
                },
            )
        if request.url.path == "/v2/team/app/manifests/1.4":
            return httpx.Response(200, headers={"Docker-Content-Digest": DIGEST})
        if request.url.path == "/v2/team/app/tags/list":
            if "last" in request.url.params:
                return httpx.Response(200, json={"name": "team/app", "tags": ["2.0"]})
            link = '</v2/team/app/tags/list?n=2&last=1.4>; rel="next"'
            return httpx.Response(200, json={"tags": ["1.3", "1.4"]}, headers={"Link": link})
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    return httpx.MockTransport(handle)


async def test_digest_behind_a_bearer_challenge_uses_the_stored_login():
    seen: list[httpx.Request] = []
    client = RegistryClient(bearer_registry(seen))
    assert await client.digest(REPO, "1.4", LOGIN) == DIGEST
    head = [r for r in seen if r.method == "HEAD"]
    assert head[0].url == "https://registry.test/v2/team/app/manifests/1.4"
    assert all(kind in head[-1].headers["Accept"] for kind in MANIFEST_TYPES)


async def test_tags_follow_the_link_pages():
    client = RegistryClient(bearer_registry([]))
    assert await client.tags(REPO, LOGIN) == ["1.3", "1.4", "2.0"]


async def test_unknown_tag_is_not_found_and_a_wrong_login_is_named():
    client = RegistryClient(bearer_registry([]))
    with pytest.raises(NotFound):
        await client.digest(REPO, "9.9", LOGIN)
    with pytest.raises(RuntimeUnavailable, match="check the stored login"):
        await client.digest(REPO, "1.4", RegistryLogin("ci", "wrong"))


async def test_basic_challenge_and_a_manifest_without_digest_header():
    manifest = b'{"schemaVersion": 2}'

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization", "").startswith("Basic "):
            return httpx.Response(200, content=manifest if request.method == "GET" else b"")
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    client = RegistryClient(httpx.MockTransport(handle))
    digest = await client.digest(REPO, "1.4", LOGIN)
    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    with pytest.raises(RuntimeUnavailable, match="store one"):
        await client.digest(REPO, "1.4", None)


async def test_unreachable_registry_is_runtime_unavailable():
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(RuntimeUnavailable) as caught:
        await RegistryClient(httpx.MockTransport(handle)).digest(REPO, "1.4", None)
    assert caught.value.code == "registry_failed"


def test_loopback_registries_are_plain_http_others_https():
    assert RepositoryRef("127.0.0.1:5000", "a").base_url == "http://127.0.0.1:5000"
    assert RepositoryRef("localhost:5000", "a").base_url == "http://localhost:5000"
    assert RepositoryRef("[::1]:5000", "a").base_url == "http://[::1]:5000"
    assert RepositoryRef("registry.test:5000", "a").base_url == "https://registry.test:5000"
    assert RepositoryRef("10.0.0.1", "a").base_url == "https://10.0.0.1"
