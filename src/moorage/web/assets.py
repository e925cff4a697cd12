"""Files browsers ask for at fixed paths: ``/favicon.ico`` (the anchor of
``static/favicon.svg``), so no page, API document or workspace wrapper gets a 404."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from moorage.security.access import Public

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FAVICON_FILE = Path(__file__).with_name("static") / "favicon.svg"
"""The icon pages link as ``/static/favicon.svg`` (``<link rel="icon">`` in base.html)."""


@router.get("/favicon.ico", dependencies=[Public])
async def favicon() -> FileResponse:
    """The favicon, an SVG (browsers take an SVG at this path by its content type);
    cached for a day."""
    return FileResponse(
        FAVICON_FILE,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
