"""Translate aiodocker and aiohttp errors into Moorage errors at the driver boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiodocker.exceptions import DockerError

from moorage.errors import Conflict, MoorageError, NotFound, RuntimeUnavailable


@asynccontextmanager
async def translated(endpoint: str, what: str) -> AsyncIterator[None]:
    """Run a block of Docker calls; re-raise their failures as :class:`MoorageError`.

    ``what`` names the operation for the message (``"create the container"``).
    """
    try:
        yield
    except MoorageError:
        raise
    except DockerError as exc:
        message = str(exc.message)
        if exc.status == 404:
            if "image" in message.lower():
                raise RuntimeUnavailable(
                    f"cannot {what}: {message}. Build the image with `moorage images build`.",
                    code="image_missing",
                ) from exc
            raise NotFound(f"cannot {what}: {message}") from exc
        # 403: the engine refuses in this state (a network with active endpoints,
        # a pre-defined network); 409: name or state conflict.
        if exc.status in (403, 409):
            raise Conflict(f"cannot {what}: {message}") from exc
        raise RuntimeUnavailable(f"Docker at {endpoint} failed to {what}: {message}") from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise RuntimeUnavailable(
            f"Docker at {endpoint} is unreachable ({type(exc).__name__}: {exc})"
        ) from exc


# Streams (log follows, events) must stay open through long idle periods: no total
# or read timeout, only a bound on connecting.
NO_READ_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None, connect=10)
