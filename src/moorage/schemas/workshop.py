"""Workshop request and response models (``/api/v1/workshops``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel

__all__ = [
    "BroadcastRequest",
    "BroadcastResult",
    "ExtendRequest",
    "JoinRequest",
    "JoinedPublic",
    "ObservationPublic",
    "ObserveRequest",
    "ParticipantPublic",
    "WorkshopCreate",
    "WorkshopPublic",
]


class WorkshopCreate(InputModel):
    """``POST /api/v1/workshops``."""

    multi_line_fields = frozenset({"description"})

    title: str = Field(max_length=128, description="Shown to the participants.")
    template: str = Field(max_length=64, description="The template's name or id.")
    capacity: int = Field(ge=1, le=1000, description="Participants at most.")
    starts_at: datetime | None = Field(
        None, description="UTC, with a time zone; default: now (it starts at once)."
    )
    ends_at: datetime | None = Field(
        None,
        description="UTC, after starts_at; default: starts_at + duration_minutes (else the "
        "template's default duration).",
    )
    anonymous: bool = Field(
        False, description="Participants give a display name instead of signing in."
    )
    description: str | None = Field(None, max_length=4000)
    duration_minutes: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Each participant's session, at most (cut at ends_at); default: the "
        "whole window within the template's maximum.",
    )
    prewarm_minutes: int = Field(
        15, ge=0, le=1440, description="How long before the start the warm pool is raised."
    )
    prewarm_share: float = Field(
        0.7, ge=0.0, le=1.0, description="Share of the capacity kept warm from then on."
    )


class WorkshopPublic(BaseModel):
    id: str
    title: str
    description: str
    template: str = Field(description="The template's name.")
    template_kind: str
    state: str = Field(description="`scheduled`, `open` or `ended`.")
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    capacity: int
    participants: int | None = Field(None, description="Seats taken (in single reads).")
    duration_minutes: int
    anonymous: bool
    join_code: str
    join_url: str = Field(description="The join link to hand out: `/join/<code>`.")
    prewarm_minutes: int
    prewarm_share: float
    owner: str = Field(description="The instructor's username.")
    broadcast_message: str | None
    broadcast_at: datetime | None
    created_at: datetime


class ParticipantPublic(BaseModel):
    id: str = Field(description="The seat's id (the `pid` of the participant routes).")
    display_name: str
    anonymous: bool
    joined_at: datetime
    session_id: str | None
    state: str = Field(description="The session's state, or `waiting` before it has one.")
    expires_at: datetime | None
    seconds_left: int = Field(description="Until the session's deadline; 0 once it ended.")
    thumbnail_url: str | None = Field(None, description="A picture of its screen now.")


class JoinRequest(InputModel):
    """``POST /api/v1/workshops/join``."""

    code: str = Field(min_length=1, max_length=32, description="The join code (any case).")
    display_name: str | None = Field(
        None, max_length=64, description="An anonymous workshop's participant: the name shown."
    )


class JoinedPublic(BaseModel):
    workshop_id: str
    title: str
    seat_id: str
    session_id: str
    session_url: str = Field(description="The workspace's page.")
    expires_at: datetime
    new_participant: bool = Field(
        description="A temporary user was made: the answer sets its login cookie."
    )


class ExtendRequest(InputModel):
    minutes: int = Field(ge=1, le=1440, description="Minutes added to the end and every session.")


class BroadcastRequest(InputModel):
    """A banner message, a command for every terminal, or both."""

    message: str | None = Field(
        None, max_length=500, description="Shown on every participant's page; empty clears it."
    )
    command: str | None = Field(
        None, max_length=2000, description="Run through exec in every ready terminal session."
    )


class BroadcastResult(BaseModel):
    session_id: str
    participant: str | None = None
    exit_code: int | None
    output: str
    error: str | None


class ObserveRequest(InputModel):
    control: bool = Field(
        False, description="false: read-only (observer); true: take control (peer)."
    )


class ObservationPublic(BaseModel):
    url: str = Field(description="Open it signed in as yourself (shown once).")
    role: str
    session_id: str
    link_id: str
