"""A client of container registries (the Docker Registry HTTP API v2, as the OCI
Distribution Specification standardises it: https://github.com/opencontainers/distribution-spec):
the digest a tag points to, and a repository's tags.

* ``HEAD /v2/<name>/manifests/<tag>`` with the ``Accept`` types of an OCI image
  index, a Docker manifest list, an OCI manifest and a Docker v2 manifest; the
  digest is the ``Docker-Content-Digest`` header (or, when a registry leaves it
  out, the SHA-256 of the manifest a ``GET`` returns).
* ``GET /v2/<name>/tags/list``, following ``Link: <…>; rel="next"`` pages.
* Authentication as Docker does it: on a 401, the ``WWW-Authenticate`` challenge
  says ``Basic`` (send the login) or ``Bearer realm=…,service=…,scope=…`` (get a
  token from the realm, with the login when there is one, then retry).

Registries on loopback (``127.0.0.0/8``, ``localhost``, ``[::1]``) are spoken to in
plain HTTP, as Docker treats them as insecure by default; every other host over
HTTPS. Errors are translated here: RuntimeUnavailable (code ``registry_failed``)
for an unreachable or refusing registry, NotFound (code ``manifest_not_found``)
for an unknown repository or tag.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moorage.errors import NotFound, RuntimeUnavailable

if TYPE_CHECKING:
    import httpx

__all__ = ["MANIFEST_TYPES", "RegistryClient", "RegistryLogin", "RepositoryRef"]

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class RegistryLogin:
    """A registry's username and password (Moorage's stored registry login)."""

    username: str
    password: str


@dataclass(frozen=True)
class RepositoryRef:
    """A repository in a registry: ``host`` (``127.0.0.1:5000``) and ``name`` (the
    path after the host, ``team/app``)."""

    host: str
    name: str

    @property
    def base_url(self) -> str:
        """``http://host`` on loopback, else ``https://host``."""
        if self.host.startswith("["):
            hostname = self.host[1 : self.host.find("]")]
        else:
            hostname = self.host.split(":")[0]
        try:
            loopback = hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            loopback = False
        return f"{'http' if loopback else 'https'}://{self.host}"


class RegistryClient:
    """Reads digests and tags from registries.

    Args:
        transport: an httpx transport, injected (tests pass ``httpx.MockTransport``);
            None uses httpx's default.
        timeout_seconds: bound of each request.
    """

    def __init__(
        self, transport: httpx.AsyncBaseTransport | None = None, timeout_seconds: float = 15.0
    ) -> None:
        self._transport = transport
        self._timeout = timeout_seconds

    async def digest(self, repo: RepositoryRef, tag: str, login: RegistryLogin | None) -> str:
        """The digest (``sha256:…``) that ``tag`` of ``repo`` points to now.

        Raises:
            NotFound: no such repository or tag. RuntimeUnavailable: the registry
                cannot be reached, refuses the login or answers an error.
        """
        url = f"{repo.base_url}/v2/{repo.name}/manifests/{tag}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        async with self._client() as client:
            response = await self._send(client, "HEAD", url, headers, repo, login)
            digest = response.headers.get("Docker-Content-Digest")
            if digest:
                return digest
            response = await self._send(client, "GET", url, headers, repo, login)
            return "sha256:" + hashlib.sha256(response.content).hexdigest()

    async def tags(self, repo: RepositoryRef, login: RegistryLogin | None) -> list[str]:
        """Every tag of ``repo`` (all pages), in the registry's order.

        Raises:
            NotFound, RuntimeUnavailable: as :meth:`digest`.
        """
        url: str | None = f"{repo.base_url}/v2/{repo.name}/tags/list"
        found: list[str] = []
        async with self._client() as client:
            for _ in range(100):  # at most 100 pages: a registry looping its links stops here
                if url is None:
                    break
                response = await self._send(client, "GET", url, {}, repo, login)
                try:
                    body: dict[str, Any] = response.json()
                except ValueError as exc:
                    raise RuntimeUnavailable(
                        f"registry {repo.host} answered a tag list that is not JSON",
                        code="registry_failed",
                    ) from exc
                found.extend(str(tag) for tag in body.get("tags") or [])
                link = _NEXT_LINK.search(response.headers.get("Link", ""))
                url = str(response.url.join(link.group(1))) if link else None
        return found

    def _client(self) -> httpx.AsyncClient:
        import httpx  # loaded by the first registry check: the server starts without it

        return httpx.AsyncClient(transport=self._transport, timeout=self._timeout)

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        repo: RepositoryRef,
        login: RegistryLogin | None,
    ) -> httpx.Response:
        import httpx  # imported already by _client; the server starts without it

        try:
            response = await client.request(method, url, headers=headers)
            if response.status_code == 401:
                authorization = await self._authorize(client, response, repo, login)
                response = await client.request(
                    method, url, headers={**headers, "Authorization": authorization}
                )
        except httpx.HTTPError as exc:
            raise RuntimeUnavailable(
                f"registry {repo.host} is unreachable ({type(exc).__name__}: {exc})",
                code="registry_failed",
            ) from exc
        if response.status_code == 404:
            raise NotFound(
                f"registry {repo.host} has no {repo.name} at {url.rsplit('/', 1)[-1]}",
                code="manifest_not_found",
            )
        if response.status_code >= 400:
            raise RuntimeUnavailable(
                f"registry {repo.host} answered {response.status_code} to {method} {url}",
                code="registry_failed",
            )
        return response

    async def _authorize(
        self,
        client: httpx.AsyncClient,
        challenged: httpx.Response,
        repo: RepositoryRef,
        login: RegistryLogin | None,
    ) -> str:
        """The ``Authorization`` header answering a 401's ``WWW-Authenticate``."""
        import httpx

        challenge = challenged.headers.get("WWW-Authenticate", "")
        scheme, _, rest = challenge.partition(" ")
        basic = httpx.BasicAuth(login.username, login.password) if login else None
        if scheme.lower() == "basic":
            if login is None:
                raise RuntimeUnavailable(
                    f"registry {repo.host} asks for a login; store one under registries",
                    code="registry_failed",
                )
            pair = f"{login.username}:{login.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if scheme.lower() != "bearer":
            raise RuntimeUnavailable(
                f"registry {repo.host} asks for {scheme or 'an unknown'} authentication",
                code="registry_failed",
            )
        params = dict(_CHALLENGE_PARAM.findall(rest))
        realm = params.pop("realm", "")
        if not realm:
            raise RuntimeUnavailable(
                f"registry {repo.host} sent a Bearer challenge without a realm",
                code="registry_failed",
            )
        params.setdefault("scope", f"repository:{repo.name}:pull")
        token_response = await client.get(
            realm, params=params, auth=basic or httpx.USE_CLIENT_DEFAULT
        )
        if token_response.status_code != 200:
            raise RuntimeUnavailable(
                f"registry {repo.host}'s token service answered {token_response.status_code}"
                + (" (check the stored login)" if login else " (store a login for it)"),
                code="registry_failed",
            )
        body = token_response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RuntimeUnavailable(
                f"registry {repo.host}'s token service sent no token", code="registry_failed"
            )
        return f"Bearer {token}"
