"""Sign-in throttling: slow down, then lock out, password guessing.

Every sign-in attempt is counted, per account and per client address, in a
moving window (the ``limits`` library); a successful sign-in clears both
counts. With the default policies, for an account (an address has more room,
since many people may share one behind a NAT):

* attempts 1-5 within 15 minutes: answered at once;
* attempts 6-10: answered after 1, 2, 4, 8, 16 seconds (the wait comes before
  the password is checked, so it also holds back a correct guess);
* beyond: ``429 too_many_attempts`` with ``Retry-After`` (seconds until the
  oldest counted attempt leaves the window), without checking the password.

An attempt is counted when it starts, not when it fails, so a burst of
concurrent guesses cannot all slip in before the first one fails. An admin
lifts an account's lock with ``DELETE /api/v1/users/{username}/sign-in-lock``.

Counts live in the server process's memory: with several workers each keeps
its own (the limits are per worker), and a restart forgets them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from moorage.errors import TooManyAttempts

if TYPE_CHECKING:  # limits is imported at the first attempt, not at start-up
    from limits import RateLimitItem
    from limits.aio.strategies import MovingWindowRateLimiter

__all__ = [
    "ACCOUNT_POLICY",
    "ADDRESS_POLICY",
    "PerMinute",
    "SignInPolicy",
    "SignInThrottle",
    "moving_window",
    "throttled",
]


def moving_window() -> MovingWindowRateLimiter:
    """A ``limits`` moving-window limiter on in-process memory."""
    from limits.aio.storage import MemoryStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    return MovingWindowRateLimiter(MemoryStorage())


class PerMinute:
    """A moving one-minute window of ``limit`` events per key, in this process's
    memory (``limits``, imported at the first use)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @cached_property
    def _item(self) -> RateLimitItem:
        from limits import RateLimitItemPerMinute

        return RateLimitItemPerMinute(self.limit, 1)

    @cached_property
    def _limiter(self) -> MovingWindowRateLimiter:
        return moving_window()

    async def test(self, key: str) -> bool:
        """Whether ``key`` has events left, without counting one."""
        return await self._limiter.test(self._item, key)

    async def hit(self, key: str) -> bool:
        """Count one event of ``key``; False when it had none left."""
        return await self._limiter.hit(self._item, key)

    async def retry_after(self, key: str) -> int:
        """Seconds (at least 1) until ``key`` has an event again."""
        stats = await self._limiter.get_window_stats(self._item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


@dataclass(frozen=True)
class SignInPolicy:
    """How many attempts one key (an account or an address) gets.

    Attributes:
        free_attempts: attempts answered without delay within the window.
        lock_after: attempts within the window after which the key is locked (429).
        window_minutes: length of the moving window.
    """

    free_attempts: int
    lock_after: int
    window_minutes: int

    @property
    def item(self) -> RateLimitItem:
        from limits import RateLimitItemPerMinute

        return RateLimitItemPerMinute(self.lock_after, self.window_minutes)


ACCOUNT_POLICY = SignInPolicy(free_attempts=5, lock_after=10, window_minutes=15)
ADDRESS_POLICY = SignInPolicy(free_attempts=20, lock_after=40, window_minutes=15)
MAX_DELAY_SECONDS = 16.0


class SignInThrottle:
    """Counts sign-in attempts per account and per address (see the module docstring).

    Args:
        account: policy per username.
        address: policy per client address.
        sleep: how to wait (injected so tests need not); ``asyncio.sleep``.
    """

    def __init__(
        self,
        *,
        account: SignInPolicy = ACCOUNT_POLICY,
        address: SignInPolicy = ADDRESS_POLICY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.account = account
        self.address = address
        self.sleep = sleep

    @cached_property
    def _limiter(self) -> MovingWindowRateLimiter:
        return moving_window()

    def _keys(self, username: str, address: str) -> list[tuple[SignInPolicy, str]]:
        return [(self.account, f"account:{username.lower()}"), (self.address, f"address:{address}")]

    async def admit(self, username: str, address: str) -> None:
        """Count an attempt and wait the delay it earns.

        Raises:
            TooManyAttempts: the account or the address is locked.
        """
        delay = 0.0
        for policy, key in self._keys(username, address):
            admitted = await self._limiter.hit(policy.item, key)
            stats = await self._limiter.get_window_stats(policy.item, key)
            if not admitted:
                raise TooManyAttempts(
                    "too many failed sign-ins; try again later or ask an admin to unlock "
                    "the account",
                    retry_after_seconds=max(1, math.ceil(stats.reset_time - time.time())),
                )
            earlier = policy.lock_after - stats.remaining - 1
            if earlier >= policy.free_attempts:
                excess = earlier - policy.free_attempts
                delay = max(delay, min(2.0**excess, MAX_DELAY_SECONDS))
        if delay:
            await self.sleep(delay)

    async def succeeded(self, username: str, address: str) -> None:
        """Forget the attempts of this account and this address."""
        for policy, key in self._keys(username, address):
            await self._limiter.clear(policy.item, key)

    async def unlock(self, username: str) -> None:
        """Forget the attempts of ``username`` (an admin's unlock)."""
        await self._limiter.clear(self.account.item, f"account:{username.lower()}")

    @asynccontextmanager
    async def attempt(self, username: str, address: str) -> AsyncIterator[None]:
        """``admit`` on entry; ``succeeded`` when the block ends without an exception
        (an exception, such as a wrong password, leaves the attempt counted)."""
        await self.admit(username, address)
        yield
        await self.succeeded(username, address)


def throttled(connection: HTTPConnection, username: str) -> AbstractAsyncContextManager[None]:
    """The app's :meth:`SignInThrottle.attempt` for ``username`` from this client::

    async with throttled(request, body.username):
        user = await check_the_password(...)
    """
    throttle: SignInThrottle = connection.app.state.sign_in_throttle
    address = connection.client.host if connection.client else "unknown"
    return throttle.attempt(username, address)
