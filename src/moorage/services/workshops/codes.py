"""Join codes: how they are made, read back, and how guessing them is throttled.

A join code is :data:`CODE_LENGTH` characters from :data:`ALPHABET`, which leaves
out the characters people confuse when they read a code off a projector (``0``/``O``,
``1``/``I``/``L``), drawn with :mod:`secrets`: 31**8, about 8.5e11 codes. People may
type it in lower case, with spaces or dashes; :func:`normalize_code` takes those out.

Guessing is throttled per client address (:class:`JoinCodeThrottle`): after
:data:`WRONG_CODES_PER_MINUTE` wrong codes within a moving minute, every attempt from
that address gets ``429 too_many_attempts`` (with ``Retry-After``) until the oldest
wrong code leaves the window. It is the sign-in throttle's mechanism (the ``limits``
library's moving window, in this process's memory), with a policy of its own:
right codes are not counted, so a class behind one NAT address is never held back.
"""

from __future__ import annotations

import secrets

from moorage.errors import TooManyAttempts
from moorage.security.throttle import PerMinute

__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "WRONG_CODES_PER_MINUTE",
    "JoinCodeThrottle",
    "new_join_code",
    "normalize_code",
]

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""Digits and capitals without 0, 1, I, L and O."""
CODE_LENGTH = 8
WRONG_CODES_PER_MINUTE = 10


def new_join_code() -> str:
    """A fresh random join code (uniqueness is the caller's: the column is unique)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """``raw`` as stored: upper case, without spaces and dashes (``"ab2c-d3ef "`` →
    ``"AB2CD3EF"``). Not validated: an impossible code simply matches no workshop."""
    return "".join(ch for ch in raw.upper() if ch not in " -\t")[:32]


class JoinCodeThrottle:
    """Counts wrong join codes per client address (see the module docstring).

    Args:
        per_minute: wrong codes an address may send within a moving minute.
    """

    def __init__(self, per_minute: int = WRONG_CODES_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._window = PerMinute(per_minute)

    async def check(self, address: str) -> None:
        """Refuse an address that used up its wrong codes.

        Raises:
            TooManyAttempts: 429, with ``retry_after_seconds``.
        """
        key = f"join:{address}"
        if not await self._window.test(key):
            raise TooManyAttempts(
                "too many wrong workshop codes from your address; wait a minute and try again",
                retry_after_seconds=await self._window.retry_after(key),
            )

    async def wrong(self, address: str) -> None:
        """Count one wrong code from ``address``."""
        await self._window.hit(f"join:{address}")
