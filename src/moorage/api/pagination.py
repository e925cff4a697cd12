"""Pages of list endpoints: ``?limit=N`` and an opaque ``?cursor=…``, with the next
page's URL in a ``Link`` header (RFC 8288, ``rel="next"``), as GitHub's API does.

The body stays what it was, a JSON array: a client that sends neither parameter
gets the whole list as before; one that sends ``limit`` gets at most that many
items and follows ``Link: <…>; rel="next"`` until there is none. A cursor is
the position after the last item given, encoded; it is valid for the same query
(filters and order) only.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response

from moorage.errors import InvalidInput

__all__ = ["MAX_LIMIT", "Page", "PageQuery", "decode_cursor", "encode_cursor"]

MAX_LIMIT = 1000
"""The largest ``limit`` a list endpoint accepts."""

T = TypeVar("T")


def encode_cursor(offset: int) -> str:
    """The opaque cursor of position ``offset`` (URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor from :func:`encode_cursor` holds.

    Raises:
        InvalidInput: not such a cursor (field ``cursor``).
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("o") or not text[1:].isdigit() or len(text) > 12:
            raise ValueError(text)
        return int(text[1:])
    except ValueError:
        raise InvalidInput(
            "cursor is not one this API gave (take it from the Link header)", field="cursor"
        ) from None


@dataclass(frozen=True)
class PageQuery:
    """The ``limit`` and ``cursor`` of a list request (both None: everything)."""

    limit: int | None
    cursor: str | None

    @property
    def offset(self) -> int:
        return decode_cursor(self.cursor) if self.cursor else 0

    def apply(self, request: Request, response: Response, items: Sequence[T]) -> list[T]:
        """The items of this page of ``items`` (the whole list, in order), with a ``Link``
        header to the next page on ``response`` when there is one. Without ``limit``,
        everything from the cursor on."""
        start = self.offset
        if self.limit is None:
            return list(items[start:])
        end = start + self.limit
        if end < len(items):
            url = request.url.include_query_params(limit=self.limit, cursor=encode_cursor(end))
            response.headers["Link"] = f'<{url}>; rel="next"'
        return list(items[start:end])


def _page(
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description="At most this many items; see the Link header."),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=64, description="Where to go on, from a Link header.")
    ] = None,
) -> PageQuery:
    if cursor is not None:
        decode_cursor(cursor)  # a bad cursor is a 422 before any work
    return PageQuery(limit, cursor)


Page = Annotated[PageQuery, Depends(_page)]
"""A list route's ``limit`` and ``cursor`` query parameters."""
