"""One-time codes of the second factor: TOTP steps (RFC 6238) and recovery codes.

* TOTP: 6 digits, 30-second steps, HMAC-SHA1 (RFC 6238's defaults, what every
  authenticator app expects); one step of drift either way is accepted
  (RFC 6238, 5.2). ``pyotp`` is imported when a code is checked, not at start.
* Recovery codes: 12 characters from a 31-symbol alphabet without look-alikes
  (about 59 bits), drawn with :mod:`secrets`, shown as ``xxxx-xxxx-xxxx``; stored
  as the SHA-256 hex of their normalised text (see :mod:`moorage.services.two_factor`
  for why not Argon2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "RECOVERY_CODE_COUNT",
    "STEP_SECONDS",
    "hash_recovery",
    "new_recovery_codes",
    "normalise_recovery",
    "totp_step",
]

STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed


def totp_step(secret: str, code: str, now: float, after_step: int) -> int | None:
    """The time step (within ±1 of ``now``'s) whose code is ``code`` and that is later
    than ``after_step``; None when there is none."""
    import pyotp  # heavy: only when a code is checked

    code = code.replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def normalise_recovery(code: str) -> str:
    """``code`` as stored: lower case, without dashes and spaces."""
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_recovery(code: str) -> str:
    """The SHA-256 hex (64 characters) of the normalised ``code``."""
    return hashlib.sha256(normalise_recovery(code).encode()).hexdigest()


def new_recovery_codes() -> list[str]:
    """:data:`RECOVERY_CODE_COUNT` new codes, ``xxxx-xxxx-xxxx``."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes
