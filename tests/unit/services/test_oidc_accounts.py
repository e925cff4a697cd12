"""From checked OpenID Connect claims to a Moorage user: bound by (provider, sub),
never by a username; created once; role and managed groups from the groups claim."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.errors import Forbidden, Unauthenticated
from moorage.models.oidc import OidcProvider
from moorage.models.user import User
from moorage.security.passwords import hash_password, verify_password
from moorage.services.oidc_accounts import (
    UNUSABLE_PASSWORD_PREFIX,
    groups_of,
    sign_in_user,
    username_of,
)
from moorage.web.pages import _safe_next
from tests.unit.conftest import App


@pytest.fixture
async def provider(app: App) -> OidcProvider:
    for group in ("staff", "class-2b"):
        assert (await app.client.post("/api/v1/groups", json={"name": group})).status_code == 201
    made = await app.client.post(
        "/api/v1/directory/oidc",
        json={
            "name": "corp",
            "display_name": "Corp SSO",
            "issuer": "https://sso.example.org",
            "client_id": "moorage",
            "groups_claim": "roles",
            "rules": [
                {"group": "Teachers", "role": "instructor", "groups": ["staff"]},
                {"group": "students", "groups": ["class-2b", "no-such-group"]},
            ],
        },
    )
    assert made.status_code == 201, made.text
    async with app.context.sessionmaker() as db:
        row = await db.scalar(select(OidcProvider).where(OidcProvider.name == "corp"))
    assert row is not None
    return row


async def sign_in(app: App, provider: OidcProvider, **claims) -> User:
    async with app.context.sessionmaker() as db:
        user = await sign_in_user(db, provider, claims)
        await db.commit()
        await db.refresh(user)
        return user


async def group_names(app: App, username: str) -> list[str]:
    users = {u["username"]: u for u in (await app.client.get("/api/v1/users")).json()}
    return sorted(users[username]["groups"])


async def test_a_first_sign_in_makes_a_user_bound_to_provider_and_sub(app: App, provider):
    user = await sign_in(
        app, provider, sub="s-1", preferred_username="Ada", name="Ada L", roles=["teachers"]
    )
    assert (user.username, user.role, user.auth_source) == ("ada", "instructor", "oidc")
    assert user.external_id == f"{provider.id}:s-1"
    assert user.org_id == provider.org_id
    assert user.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)
    assert not verify_password(user.password_hash, user.password_hash)
    assert await group_names(app, "ada") == ["staff"]


async def test_the_sub_not_the_username_finds_the_user_again(app: App, provider):
    first = await sign_in(app, provider, sub="s-2", preferred_username="bea")
    renamed = await sign_in(app, provider, sub="s-2", preferred_username="beatrice")
    assert renamed.id == first.id and renamed.username == "bea"


async def test_groups_are_set_again_at_every_sign_in(app: App, provider):
    await sign_in(app, provider, sub="s-3", preferred_username="cyd", roles=["teachers"])
    again = await sign_in(app, provider, sub="s-3", preferred_username="cyd", roles="students")
    assert again.role == "member"
    assert await group_names(app, "cyd") == ["class-2b"]


async def test_a_username_of_another_account_is_refused_not_taken_over(app: App, provider):
    made = await app.client.post(
        "/api/v1/users", json={"username": "eve", "password": "eve-password", "role": "admin"}
    )
    assert made.status_code == 201
    with pytest.raises(Forbidden) as refused:
        await sign_in(app, provider, sub="s-4", preferred_username="eve", roles=["teachers"])
    assert refused.value.code == "oidc_username_taken"
    async with app.context.sessionmaker() as db:
        eve = await db.scalar(select(User).where(User.username == "eve"))
    assert eve is not None and (eve.auth_source, eve.role, eve.external_id) == (
        "local",
        "admin",
        None,
    )


async def test_a_disabled_account_is_refused(app: App, provider):
    user = await sign_in(app, provider, sub="s-5", preferred_username="dan")
    disabled = await app.client.patch(f"/api/v1/users/{user.id}", json={"is_active": False})
    assert disabled.status_code == 200, disabled.text
    with pytest.raises(Unauthenticated) as refused:
        await sign_in(app, provider, sub="s-5", preferred_username="dan")
    assert refused.value.code == "account_disabled"


@pytest.mark.parametrize("claims", [{}, {"preferred_username": "x y"}, {"preferred_username": 7}])
async def test_a_missing_or_invalid_username_claim_is_refused_naming_the_claim(
    app: App, provider, claims
):
    with pytest.raises(Unauthenticated) as refused:
        username_of(provider, claims)
    assert "preferred_username" in refused.value.message


async def test_a_missing_or_too_long_sub_is_refused(app: App, provider):
    for sub in ("", "x" * 300):
        with pytest.raises(Unauthenticated):
            await sign_in(app, provider, sub=sub, preferred_username="fay")


def test_the_groups_claim_may_be_a_list_a_string_or_absent():
    provider = OidcProvider(groups_claim="groups")
    assert groups_of(provider, {"groups": ["a", 3, "b"]}) == ["a", "b"]
    assert groups_of(provider, {"groups": "a"}) == ["a"]
    assert groups_of(provider, {"groups": {"a": 1}}) == []
    assert groups_of(provider, {}) == []


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/reservations?x=1", "/reservations?x=1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/a\r\nSet-Cookie: x", "/"),
        ("", "/"),
    ],
)
def test_the_page_after_sign_in_is_only_ever_a_local_path(target, expected):
    assert _safe_next(target) == expected


async def test_an_oidc_user_never_signs_in_with_a_password_moorage_holds(app: App, provider):
    user = await sign_in(app, provider, sub="s-9", preferred_username="olga")
    # An admin cannot give them one (their provider keeps their sign-in) ...
    for attempt in (
        app.client.patch(f"/api/v1/users/{user.id}", json={"password": "a-new-password-1"}),
        app.client.post(f"/api/v1/users/{user.id}/password-reset"),
    ):
        refused = await attempt
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "directory_password"
    # ... and even a password hash set behind Moorage's back does not open a session.
    async with write_session(app.context.sessionmaker) as db:
        row = await db.get(User, user.id)
        assert row is not None
        row.password_hash = hash_password("a-new-password-1")
    login = await app.client.post(
        "/api/v1/auth/login", json={"username": "olga", "password": "a-new-password-1"}
    )
    assert login.status_code == 401
