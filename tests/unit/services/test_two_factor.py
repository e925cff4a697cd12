"""Two-factor codes with an injected clock: right, wrong, replayed, ±1 step, recovery
codes once only, regenerated codes replace the old ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.db.engine import WRITE_OPTIONS
from moorage.errors import Conflict, InvalidInput
from moorage.models.audit import AuditEvent
from moorage.models.two_factor import TwoFactor
from moorage.models.user import User
from moorage.services import two_factor

T0 = 1_900_000_020.0  # the start of a 30-second step


@asynccontextmanager
async def writing(app) -> AsyncIterator[AsyncSession]:
    """A session that writes, as a request's (SQLite's write lock from its start)."""
    async with app.context.sessionmaker() as db:
        await db.connection(execution_options=WRITE_OPTIONS)
        yield db


async def _user(app, db) -> User:
    user = await db.scalar(select(User).where(User.username == "admin"))
    assert user is not None
    return user


async def _enabled(app, db, now: float = T0) -> tuple[User, pyotp.TOTP, list[str]]:
    user = await _user(app, db)
    setup = await two_factor.start_setup(db, app.context.keyring, user)
    totp = pyotp.TOTP(setup.secret)
    codes = await two_factor.confirm_setup(db, app.context.keyring, user, totp.at(now), now=now)
    return user, totp, codes


async def test_setup_gives_a_qr_svg_an_otpauth_uri_and_a_sealed_secret(app):
    async with writing(app) as db:
        user = await _user(app, db)
        setup = await two_factor.start_setup(db, app.context.keyring, user)
        row = await db.get(TwoFactor, user.id)
        assert not (await two_factor.state_of(db, user)).enabled
    assert setup.qr_svg.startswith("<svg") and "</svg>" in setup.qr_svg
    assert setup.otpauth_uri.startswith("otpauth://totp/Moorage:admin?")
    assert f"secret={setup.secret}" in setup.otpauth_uri
    assert row is not None and setup.secret not in row.secret_sealed and row.enabled_at is None


async def test_confirm_with_a_wrong_code_is_refused_naming_the_field(app):
    async with writing(app) as db:
        user = await _user(app, db)
        await two_factor.start_setup(db, app.context.keyring, user)
        with pytest.raises(InvalidInput) as wrong:
            await two_factor.confirm_setup(db, app.context.keyring, user, "000000", now=T0)
    assert wrong.value.details["field"] == "code"


async def test_right_code_accepted_wrong_refused_replay_refused(app):
    async with writing(app) as db:
        user, totp, codes = await _enabled(app, db)
        assert len(codes) == 10 and len(set(codes)) == 10
        keyring = app.context.keyring
        later = T0 + 90
        assert not await two_factor.check_second_factor(db, keyring, user, "123456", now=later)
        assert await two_factor.check_second_factor(db, keyring, user, totp.at(later), now=later)
        # The same code (its step) again: refused, however soon.
        assert not await two_factor.check_second_factor(
            db, keyring, user, totp.at(later), now=later + 1
        )
        # The set-up's code, an earlier step, too.
        assert not await two_factor.check_second_factor(db, keyring, user, totp.at(T0), now=later)


async def test_one_step_of_drift_either_way_is_accepted_two_are_not(app):
    async with writing(app) as db:
        user, totp, _ = await _enabled(app, db)
        keyring = app.context.keyring
        now = T0 + 300
        assert await two_factor.check_second_factor(db, keyring, user, totp.at(now - 30), now=now)
        assert await two_factor.check_second_factor(db, keyring, user, totp.at(now + 30), now=now)
        now += 300
        assert not await two_factor.check_second_factor(
            db, keyring, user, totp.at(now - 60), now=now
        )
        assert not await two_factor.check_second_factor(
            db, keyring, user, totp.at(now + 60), now=now
        )


async def test_a_recovery_code_works_once_and_is_audited(app):
    async with writing(app) as db:
        user, _, codes = await _enabled(app, db)
        keyring = app.context.keyring
        assert await two_factor.check_second_factor(db, keyring, user, codes[0].upper(), now=T0)
        assert not await two_factor.check_second_factor(db, keyring, user, codes[0], now=T0)
        assert (await two_factor.state_of(db, user)).recovery_codes_left == 9
        actions = list(await db.scalars(select(AuditEvent.action)))
    assert "two_factor.enable" in actions and "two_factor.recovery_used" in actions


async def test_regenerated_codes_replace_all_the_old_ones(app):
    async with writing(app) as db:
        user, totp, old = await _enabled(app, db)
        keyring = app.context.keyring
        new = await two_factor.regenerate_codes(db, keyring, user, totp.at(T0 + 30), now=T0 + 30)
        assert set(new).isdisjoint(old)
        assert not await two_factor.check_second_factor(db, keyring, user, old[1], now=T0)
        assert await two_factor.check_second_factor(db, keyring, user, new[1], now=T0)


async def test_setup_again_while_enabled_is_a_conflict(app):
    async with writing(app) as db:
        user, _, _ = await _enabled(app, db)
        with pytest.raises(Conflict):
            await two_factor.start_setup(db, app.context.keyring, user)
