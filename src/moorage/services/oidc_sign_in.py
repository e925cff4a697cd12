"""Sign-in with an OpenID Connect provider: the authorization code flow (issue 13).

The protocol is Authlib's (its Starlette client: discovery, authorization URL,
token request, ID token validation against the provider's JWKS); this module keeps
what lies between the two halves and decides who the person is:

1. :func:`start` fetches the provider's metadata (OpenID Connect Discovery 1.0),
   makes a ``state``, a ``nonce`` (OpenID Connect Core 1.0, 3.1.2.1) and a PKCE
   ``code_verifier`` sent as its S256 challenge (RFC 7636), stores them in an
   :class:`~moorage.models.oidc.OidcSignIn` row keyed by the state's SHA-256 (the
   verifier sealed), and returns the provider's authorization URL. The page keeps
   the state in a cookie of the browser that started.
2. :func:`finish` (the callback) refuses a state that is not the browser's cookie
   (a callback from another browser: login CSRF) and takes the row with a
   conditional DELETE (a replayed callback finds nothing), checks the ``iss``
   response parameter when the provider sends one (RFC 9207: mix-up), trades the
   code and verifier for tokens at the token endpoint, validates the ID token
   (signature by the provider's JWKS, ``iss``, ``aud``, ``exp``, ``nonce``; Core
   3.1.3.7), reads the UserInfo endpoint when there is one (its ``sub`` must be the
   ID token's, Core 5.3.2), then :func:`moorage.services.oidc_accounts.sign_in_user`
   and a login token.

The redirect URI is fixed per provider, ``<site>/login/oidc/<name>/callback``, and
the page after sign-in is only ever a local path. A provider that cannot be reached
or answers nonsense is :class:`~moorage.errors.RuntimeUnavailable` (503); a refused
sign-in is :class:`~moorage.errors.Unauthenticated` (401) or
:class:`~moorage.errors.Forbidden` (403); the page shows either on the login form.
OIDC users never give Moorage's second factor: their provider asks its own.

Authlib and httpx are imported inside the functions: not at server start.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import MoorageError, RuntimeUnavailable, Unauthenticated
from moorage.models.oidc import OidcProvider, OidcSignIn
from moorage.models.token import TokenKind
from moorage.models.user import AuthSource, User
from moorage.observability.metrics import LOGIN_FAILURES
from moorage.security.crypto import Keyring
from moorage.services.audit import audit_in, record
from moorage.services.oidc_accounts import sign_in_user
from moorage.services.oidc_providers import DISCOVERY_PATH, client_secret_of, discovery_url
from moorage.services.users import create_token

if TYPE_CHECKING:
    from authlib.integrations.starlette_client import StarletteOAuth2App

__all__ = [
    "FLOW_TTL",
    "HTTP_TIMEOUT_SECONDS",
    "Started",
    "callback_path",
    "end_session_url",
    "finish",
    "provider_of",
    "start",
]

FLOW_TTL = timedelta(minutes=10)
"""How long a person has at the provider before the callback is refused."""
HTTP_TIMEOUT_SECONDS = 10.0
"""Timeout of each request to the provider (metadata, JWKS, token, UserInfo)."""
VERIFIER_CONTEXT = "oidc.code_verifier"


@dataclass(frozen=True)
class Started:
    """A sign-in sent to the provider: the ``url`` to send the browser to and the
    ``state`` to keep in its cookie."""

    url: str
    state: str


def callback_path(name: str) -> str:
    """The path of provider ``name``'s redirect URI (below the site's root)."""
    return f"/login/oidc/{name}/callback"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _client(provider: OidcProvider, keyring: Keyring) -> StarletteOAuth2App:
    """Authlib's client of ``provider`` (a confidential client when a secret is set)."""
    from authlib.integrations.starlette_client import StarletteIntegration, StarletteOAuth2App

    secret = client_secret_of(keyring, provider)
    kwargs: dict[str, Any] = {
        "scope": provider.scopes,
        "code_challenge_method": "S256",
        "timeout": HTTP_TIMEOUT_SECONDS,
    }
    if secret is None:
        kwargs["token_endpoint_auth_method"] = "none"
    return StarletteOAuth2App(
        StarletteIntegration(provider.name),
        name=provider.name,
        client_id=provider.client_id,
        client_secret=secret,
        server_metadata_url=discovery_url(provider.issuer),
        client_kwargs=kwargs,
    )


def _http_errors(*others: type[Exception]) -> tuple[type[Exception], ...]:
    """The HTTP client's errors Authlib lets through (httpx's, and httpx2's, which
    Authlib uses instead when it is installed), and ``others``."""
    import httpx

    errors: list[type[Exception]] = [httpx.HTTPError, *others]
    try:
        import httpx2  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        errors.append(httpx2.HTTPError)
    return tuple(errors)


def _unreachable(provider: OidcProvider) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        "%(provider)s cannot be reached or did not answer as an OpenID Connect provider; "
        "try again later, or sign in with a password",
        params={"provider": provider.display_name},
        code="oidc_provider_unavailable",
    )


async def _metadata(client: StarletteOAuth2App, provider: OidcProvider) -> dict[str, Any]:
    """The provider's discovery document, checked: the endpoints the flow needs, and
    an ``issuer`` equal to the configured one (Discovery 1.0, 4.3).

    Raises:
        RuntimeUnavailable: unreachable, not JSON, or not such a document.
    """
    try:
        metadata = await client.load_server_metadata()
    except _http_errors(ValueError, TypeError) as exc:  # not a JSON object
        raise _unreachable(provider) from exc
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(metadata, dict) or not all(
        isinstance(metadata.get(key), str) for key in needed
    ):
        raise _unreachable(provider)
    configured = provider.issuer.removesuffix(DISCOVERY_PATH).rstrip("/")
    if metadata["issuer"].rstrip("/") != configured:
        raise RuntimeUnavailable(
            "%(provider)s says its issuer is %(issuer)r, not the configured one; an admin "
            "must correct the issuer URL",
            params={"provider": provider.display_name, "issuer": metadata["issuer"][:200]},
            code="oidc_issuer_mismatch",
        )
    return metadata


async def start(
    db: AsyncSession,
    keyring: Keyring,
    provider: OidcProvider,
    *,
    redirect_uri: str,
    next_path: str,
) -> Started:
    """Begin a sign-in with ``provider`` (the row added to ``db``, not committed;
    expired rows of every provider are deleted on the way).

    Args:
        redirect_uri: the absolute URL of :func:`callback_path` on this site, as
            registered at the provider.
        next_path: where to go after signing in: a local path, checked by the caller.

    Raises:
        RuntimeUnavailable: the provider cannot be reached or answers nonsense.
    """
    client = _client(provider, keyring)
    await _metadata(client, provider)
    state = secrets.token_urlsafe(32)
    made = await client.create_authorization_url(redirect_uri, state=state)
    now = utcnow()
    await db.execute(delete(OidcSignIn).where(OidcSignIn.expires_at < now))
    db.add(
        OidcSignIn(
            state_hash=_state_hash(state),
            provider_id=provider.id,
            nonce=made["nonce"],
            code_verifier_sealed=keyring.seal(made["code_verifier"], VERIFIER_CONTEXT),
            redirect_uri=redirect_uri,
            next=next_path,
            created_at=now,
            expires_at=now + FLOW_TTL,
        )
    )
    await db.flush()
    return Started(url=made["url"], state=state)


async def _take(
    sessionmaker: async_sessionmaker[AsyncSession], provider: OidcProvider, state: str
) -> OidcSignIn:
    """Delete and return the sign-in row of ``state``: at most one callback gets it."""
    async with write_session(sessionmaker) as db:
        row = await db.get(OidcSignIn, _state_hash(state))
        taken = None
        if row is not None:
            result = await db.execute(
                delete(OidcSignIn).where(OidcSignIn.state_hash == row.state_hash)
            )
            taken = row if result.rowcount == 1 else None  # type: ignore[attr-defined]
    if taken is None or taken.provider_id != provider.id or taken.expires_at <= utcnow():
        raise Unauthenticated(
            "this sign-in was used already or has expired; sign in again",
            code="oidc_state_unknown",
        )
    return taken


async def _claims(
    client: StarletteOAuth2App,
    provider: OidcProvider,
    taken: OidcSignIn,
    keyring: Keyring,
    params: Mapping[str, str],
) -> dict[str, Any]:
    """Trade the code for tokens and return the checked claims (ID token over
    UserInfo)."""
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    metadata = await _metadata(client, provider)
    if "iss" in params and params["iss"] != metadata["issuer"]:
        raise Unauthenticated(
            "the answer did not come from this provider", code="oidc_issuer_mismatch"
        )
    code = params.get("code")
    if not code:
        raise Unauthenticated("the provider sent no authorization code", code="oidc_no_code")
    verifier = keyring.open(taken.code_verifier_sealed, VERIFIER_CONTEXT)
    try:
        token = await client.fetch_access_token(
            redirect_uri=taken.redirect_uri, code=code, code_verifier=verifier
        )
    except _http_errors() as exc:
        raise _unreachable(provider) from exc
    except (AuthlibBaseError, ValueError, TypeError, KeyError) as exc:
        raise Unauthenticated(
            "the provider refused the sign-in: %(error)s",
            params={"error": str(getattr(exc, "error", "") or exc)[:200]},
            code="oidc_token_refused",
        ) from exc
    if "id_token" not in token:
        raise Unauthenticated("the provider sent no ID token", code="oidc_bad_id_token")
    try:
        id_claims = dict(await client.parse_id_token(token, nonce=taken.nonce, leeway=60))
    except _http_errors() as exc:
        raise _unreachable(provider) from exc
    except (JoseError, AuthlibBaseError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise Unauthenticated(
            "the provider's ID token is not valid", code="oidc_bad_id_token"
        ) from exc
    info: dict[str, Any] = {}
    if isinstance(metadata.get("userinfo_endpoint"), str):
        try:
            info = dict(await client.userinfo(token=token))
        except _http_errors(AuthlibBaseError, ValueError, TypeError) as exc:
            raise _unreachable(provider) from exc
        if info.get("sub") != id_claims.get("sub"):
            raise Unauthenticated(
                "the provider's UserInfo is not the ID token's person", code="oidc_bad_id_token"
            )
    return {**info, **id_claims}


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    provider: OidcProvider,
    *,
    state_cookie: str | None,
    params: Mapping[str, str],
    ttl: timedelta,
    source: str | None = None,
) -> tuple[User, str, str]:
    """Complete a sign-in from the provider's redirect (``params``: its query) in the
    browser whose state cookie is ``state_cookie``. Audited ``user.sign_in`` (detail
    ``oidc <provider>``), or ``user.sign_in_failed`` once the person is known to
    the provider but refused here.

    Returns:
        The user, a login token valid for ``ttl`` (plaintext, for the cookie), and the
        local path to go to.

    Raises:
        Unauthenticated: a state not this browser's (``oidc_state_mismatch``), used or
            expired (``oidc_state_unknown``); the provider's error answer
            (``oidc_provider_refused``); a refused code or an invalid ID token; a bad
            ``sub`` or username claim; a disabled account.
        Forbidden: the username is another account's (``oidc_username_taken``).
        RuntimeUnavailable: the provider cannot be reached or answers nonsense.
    """
    state = params.get("state") or ""
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if (
        not state
        or not state_cookie
        or not hmac.compare_digest(state.encode(), state_cookie.encode())
    ):
        LOGIN_FAILURES.labels("oidc_state").inc()
        raise Unauthenticated(
            "this sign-in did not start in this browser; sign in again",
            code="oidc_state_mismatch",
        )
    taken = await _take(sessionmaker, provider, state)
    if params.get("error"):
        raise Unauthenticated(
            "%(provider)s refused the sign-in: %(error)s",
            params={
                "provider": provider.display_name,
                "error": (params.get("error_description") or params["error"])[:200],
            },
            code="oidc_provider_refused",
        )
    claims = await _claims(_client(provider, keyring), provider, taken, keyring, params)
    try:
        async with write_session(sessionmaker) as db:
            user = await sign_in_user(db, provider, claims, source=source)
            token = await create_token(db, user, name="login", kind=TokenKind.LOGIN, ttl=ttl)
            audit_in(
                db,
                user,
                "user.sign_in",
                "user",
                user.username,
                detail=f"oidc {provider.name}",
                source=source,
            )
    except MoorageError as exc:
        LOGIN_FAILURES.labels(exc.code).inc()
        async with write_session(sessionmaker) as db:
            record(
                db,
                provider.org_id,
                _who(provider, claims),
                "user.sign_in_failed",
                "oidc_provider",
                provider.name,
                detail=exc.code,
                source=source,
            )
        raise
    return user, token, taken.next


def _who(provider: OidcProvider, claims: Mapping[str, Any]) -> str:
    """The name a refused sign-in is recorded under: the username claim, else ``sub``."""
    return str(claims.get(provider.username_claim) or claims.get("sub") or "-")[:64]


async def provider_of(db: AsyncSession, user: User) -> OidcProvider | None:
    """The provider ``user`` signs in with, or None (a local or LDAP user, or a
    provider since removed)."""
    if user.auth_source != AuthSource.OIDC.value or not user.external_id:
        return None
    provider_id = user.external_id.split(":", 1)[0]
    return await db.scalar(select(OidcProvider).where(OidcProvider.id == provider_id))


async def end_session_url(
    keyring: Keyring, provider: OidcProvider, post_logout_redirect_uri: str
) -> str | None:
    """The provider's RP-Initiated Logout URL (OpenID Connect RP-Initiated Logout 1.0,
    section 2), with ``client_id`` and ``post_logout_redirect_uri`` (which must be
    registered at the provider), or None when it has no ``end_session_endpoint``.

    Raises:
        RuntimeUnavailable: the provider cannot be reached or answers nonsense.
    """
    client = _client(provider, keyring)
    metadata = await _metadata(client, provider)
    if not isinstance(metadata.get("end_session_endpoint"), str):
        return None
    made = await client.create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri, client_id=provider.client_id
    )
    return str(made["url"])
