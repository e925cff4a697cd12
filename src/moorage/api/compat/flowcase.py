"""The flowcase seed API (being written; see moorage.api.compat)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["compat: flowcase"])
