"""Two-factor sign-in: TOTP (RFC 6238) and single-use recovery codes.

A user starts the set-up (:func:`start_setup`: a new secret, its ``otpauth://``
URI and a QR code), confirms it with a first code (:func:`confirm_setup`, which
enables it and returns ten recovery codes, shown once), and from then on signs in
with their password and a code (:func:`check_second_factor`, called by
:func:`moorage.services.users.sign_in` only after the password was right).

* Codes (:mod:`moorage.security.one_time_codes`) are 6 digits, 30-second steps,
  HMAC-SHA1 (RFC 6238's defaults); one step of clock drift either way is accepted.
* Replay: the step of the last accepted code is stored; a code of that step or an
  earlier one is refused, with a conditional UPDATE, so two concurrent requests
  with one code cannot both pass.
* The secret is sealed with the keyring (context ``user.totp_secret``) like every
  secret.
* Recovery codes: 12 characters from a 31-symbol alphabet (about 59 bits), drawn
  with :mod:`secrets`. They are stored as SHA-256, not Argon2: a code this random
  cannot be guessed from its hash offline, while the sign-in would otherwise run
  up to ten Argon2 verifications per attempt; online guessing is held back by the
  sign-in throttle.
* An org may require the second factor of some roles
  (``Org.two_factor_required_roles``); such a user who has not set it up gets
  only their account page (:func:`moorage.security.auth.authenticate_token`).

Directory users (LDAP) would hook in at the same place as local ones: once the
directory accepted the password, ``sign_in`` calls :func:`check_second_factor`
for the Moorage user it maps to; OIDC users rely on their provider's.

``pyotp`` and ``segno`` are imported inside the functions that need them, never at
server start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from moorage.db.base import utcnow
from moorage.errors import Conflict, Forbidden, InvalidInput, NotFound
from moorage.models.org import Org
from moorage.models.two_factor import RecoveryCode, TwoFactor
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.one_time_codes import (
    RECOVERY_CODE_COUNT,
    STEP_SECONDS,
    hash_recovery,
    new_recovery_codes,
    normalise_recovery,
    totp_step,
)
from moorage.security.passwords import verify_password
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = [
    "RECOVERY_CODE_COUNT",
    "SECRET_CONTEXT",
    "STEP_SECONDS",
    "Setup",
    "TwoFactorState",
    "check_second_factor",
    "clock",
    "confirm_setup",
    "disable",
    "has_second_factor",
    "is_required",
    "regenerate_codes",
    "required_roles",
    "reset",
    "start_setup",
    "state_of",
]

SECRET_CONTEXT = "user.totp_secret"
ISSUER = "Moorage"


@dataclass(frozen=True)
class Setup:
    """A set-up in progress: ``secret`` (base32), ``otpauth_uri`` (the Key URI
    Format of Google Authenticator, which every app reads) and ``qr_svg`` (an
    inline ``<svg>`` of that URI)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class TwoFactorState:
    """What ``GET /api/v1/auth/me`` says of a user's second factor."""

    enabled: bool
    recovery_codes_left: int
    required: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "recovery_codes_left": self.recovery_codes_left,
            "required": self.required,
        }


clock: Callable[[], float] = time.time
"""Unix time in seconds for the TOTP steps when a caller gives no ``now`` (tests of
the API replace it)."""


def _now(now: float | None) -> float:
    return clock() if now is None else now


async def _row(db: AsyncSession, user: User) -> TwoFactor | None:
    return await db.get(TwoFactor, user.id)


async def _enabled_row(db: AsyncSession, user: User) -> TwoFactor:
    row = await _row(db, user)
    if row is None or row.enabled_at is None:
        raise Conflict("two-factor sign-in is not enabled", code="two_factor_not_enabled")
    return row


async def _store_codes(db: AsyncSession, user: User) -> list[str]:
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = new_recovery_codes()
    db.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery(c)) for c in codes)
    await db.flush()
    return codes


async def _accept_totp(
    db: AsyncSession, keyring: Keyring, row: TwoFactor, code: str, now: float
) -> bool:
    """Check ``code`` against ``row``'s secret and, when right, move ``last_step`` to
    its step in a conditional UPDATE (replay protection)."""
    secret = keyring.open(row.secret_sealed, SECRET_CONTEXT)
    step = totp_step(secret, code, now, row.last_step)
    if step is None:
        return False
    result = await db.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == row.user_id, TwoFactor.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    accepted = bool(result.rowcount)  # type: ignore[attr-defined]
    if accepted:
        # What the UPDATE wrote, without marking the row dirty: a later flush must
        # never write an older step over a concurrent request's newer one.
        set_committed_value(row, "last_step", step)
    return accepted


async def required_roles(db: AsyncSession, user: User) -> list[str]:
    """The roles of whose users ``user``'s org requires a second factor."""
    roles = await db.scalar(select(Org.two_factor_required_roles).where(Org.id == user.org_id))
    return list(roles or [])


async def is_required(db: AsyncSession, user: User) -> bool:
    """True when ``user``'s org requires a second factor of ``user``'s role."""
    return user.role in await required_roles(db, user)


async def state_of(db: AsyncSession, user: User) -> TwoFactorState:
    """Enabled or not, recovery codes left, and whether the org requires it."""
    row = await _row(db, user)
    left = await db.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return TwoFactorState(
        enabled=row is not None and row.enabled_at is not None,
        recovery_codes_left=int(left or 0),
        required=await is_required(db, user),
    )


async def start_setup(db: AsyncSession, keyring: Keyring, user: User) -> Setup:
    """A new secret for ``user`` (not committed; replaces a set-up not yet confirmed).
    Not enabled until :func:`confirm_setup`.

    Raises:
        Conflict: two-factor is already enabled (``two_factor_enabled``): disable it
            first.
    """
    import pyotp
    import segno

    row = await _row(db, user)
    if row is not None and row.enabled_at is not None:
        raise Conflict(
            "two-factor sign-in is already enabled; disable it first to set up another device",
            code="two_factor_enabled",
        )
    secret = pyotp.random_base32()
    sealed = keyring.seal(secret, SECRET_CONTEXT)
    if row is None:
        db.add(TwoFactor(user_id=user.id, secret_sealed=sealed, last_step=0))
    else:
        row.secret_sealed, row.last_step, row.created_at = sealed, 0, utcnow()
    await db.flush()
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=user.username, issuer_name=ISSUER
    )
    # Dark modules on a white square whatever the theme, so a phone can read it.
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", title="Two-factor set-up QR code"
    )
    return Setup(secret=secret, otpauth_uri=uri, qr_svg=svg)


async def confirm_setup(
    db: AsyncSession,
    keyring: Keyring,
    user: User,
    code: str,
    *,
    now: float | None = None,
    source: str | None = None,
) -> list[str]:
    """Enable two-factor with a first right ``code`` (not committed); audited
    ``two_factor.enable``. Returns ten new recovery codes (plaintext, shown once).

    Raises:
        Conflict: no set-up started (``two_factor_not_started``) or already enabled.
        InvalidInput: a wrong code (field ``code``).
    """
    row = await _row(db, user)
    if row is None:
        raise Conflict("start the two-factor set-up first", code="two_factor_not_started")
    if row.enabled_at is not None:
        raise Conflict("two-factor sign-in is already enabled", code="two_factor_enabled")
    if not await _accept_totp(db, keyring, row, code, _now(now)):
        raise InvalidInput("the code is not right; check the device's clock", field="code")
    row.enabled_at = utcnow()
    codes = await _store_codes(db, user)
    audit_in(db, user, "two_factor.enable", "user", user.username, source=source)
    return codes


async def regenerate_codes(
    db: AsyncSession,
    keyring: Keyring,
    user: User,
    code: str,
    *,
    now: float | None = None,
    source: str | None = None,
) -> list[str]:
    """Replace all of ``user``'s recovery codes, given a current TOTP ``code`` (not
    committed); audited ``two_factor.codes_regenerated``.

    Raises:
        Conflict: two-factor is not enabled. InvalidInput: a wrong code (``code``).
    """
    row = await _enabled_row(db, user)
    if not await _accept_totp(db, keyring, row, code, _now(now)):
        raise InvalidInput("the code is not right", field="code")
    codes = await _store_codes(db, user)
    audit_in(db, user, "two_factor.codes_regenerated", "user", user.username, source=source)
    return codes


async def _delete(db: AsyncSession, user_id: str) -> None:
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await db.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))


async def disable(
    db: AsyncSession,
    keyring: Keyring,
    user: User,
    password: str,
    code: str,
    *,
    now: float | None = None,
    source: str | None = None,
) -> None:
    """Turn ``user``'s second factor off (not committed), given their password and a
    TOTP or recovery code; audited ``two_factor.disable``.

    Raises:
        Conflict: not enabled.
        Forbidden: the org requires it of the user's role (``two_factor_required``).
        InvalidInput: a wrong password (field ``password``) or code (field ``code``).
    """
    await _enabled_row(db, user)
    if await is_required(db, user):
        raise Forbidden(
            f"your org requires two-factor sign-in for the role {user.role}; it cannot be "
            "turned off",
            code="two_factor_required",
        )
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        raise InvalidInput("the password is not right", field="password")
    if not await check_second_factor(db, keyring, user, code, now=now, source=source):
        raise InvalidInput("the code is not right", field="code")
    await _delete(db, user.id)
    audit_in(db, user, "two_factor.disable", "user", user.username, source=source)


async def reset(db: AsyncSession, admin: User, user_id: str, *, source: str | None = None) -> User:
    """An admin turns off another user's second factor (they lost their device and
    codes), not committed; audited ``two_factor.reset``. They set it up again at
    their next sign-in when their role requires it.

    Raises:
        Forbidden: ``admin`` is not an admin.
        NotFound: no such user in the admin's org (``user_not_found``).
    """
    require_role(admin, Role.ADMIN)
    user = await db.get(User, user_id)
    if user is None or user.org_id != admin.org_id or user.deleted_at is not None:
        raise NotFound(f"no user with id {user_id!r}", code="user_not_found")
    await _delete(db, user.id)
    audit_in(db, admin, "two_factor.reset", "user", user.username, source=source)
    return user


async def has_second_factor(db: AsyncSession, user: User) -> bool:
    """True when ``user`` must give a code to sign in."""
    row = await _row(db, user)
    return row is not None and row.enabled_at is not None


async def check_second_factor(
    db: AsyncSession,
    keyring: Keyring,
    user: User,
    code: str,
    *,
    now: float | None = None,
    source: str | None = None,
) -> bool:
    """Accept a TOTP code (not replayed) or an unused recovery code of ``user`` (then
    spent, audited ``two_factor.recovery_used``), in ``db``'s write transaction.

    Returns:
        True when accepted; False for a wrong, replayed or spent code, or when two-factor
        is not enabled.
    """
    row = await _row(db, user)
    if row is None or row.enabled_at is None or not code:
        return False
    if await _accept_totp(db, keyring, row, code, _now(now)):
        return True
    if len(normalise_recovery(code)) != 12:
        return False
    result = await db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_recovery(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    audit_in(db, user, "two_factor.recovery_used", "user", user.username, source=source)
    return True
