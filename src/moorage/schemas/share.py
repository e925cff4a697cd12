"""Share link and live connection request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel, LeaseMinutes

__all__ = ["ConnectionPublic", "ShareCreate", "SharePublic"]


class ShareCreate(InputModel):
    """``POST /api/v1/sessions/{id}/shares``."""

    role: Literal["observer", "peer"] = Field(
        "observer",
        description="`observer`: sees, cannot type, click, paste or resize; `peer`: full control.",
    )
    minutes: LeaseMinutes | None = Field(
        None, description="Lifetime in minutes (default 60), never past the session's deadline."
    )
    users: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Usernames it is for (they must sign in); empty: anyone holding the link, "
        "who gives a display name.",
    )


class SharePublic(BaseModel):
    id: str
    role: str
    state: Literal["active", "revoked", "expired"]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    users: list[str] | None = Field(None, description="Usernames it is for; null: anyone.")
    url: str | None = Field(
        None, description="The link to hand out (`/share/<token>`): only in the answer to creation."
    )


class ConnectionPublic(BaseModel):
    """A websocket connected to the session now (on this server process)."""

    id: str
    who: str = Field(description="Username, or the display name a guest gave.")
    role: str = Field(description="`owner`, `admin`, `peer` or `observer`.")
    kind: str = Field(description="`terminal`, `desktop` or `app`.")
    guest: bool = Field(description="Connected through a share link.")
    since: datetime
