"""Reservation request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReservationCreate", "ReservationExtend", "ReservationPublic", "ReservedMachine"]


class ReservationCreate(BaseModel):
    """``POST /api/v1/reservations``. Username and password are generated when absent."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, description="How many machines.")
    pool: str = Field("default", min_length=1, max_length=64)
    duration_minutes: int | None = None
    duration_seconds: int | None = Field(None, description="At least 10, for short leases.")
    username: str | None = Field(None, description="Account name; 3-32 of [a-z0-9_-].")
    password: str | None = Field(None, description="Account password; 8-128 characters.")


class ReservationExtend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int


class ReservedMachine(BaseModel):
    name: str
    host: str
    port: int
    account: str = Field(description="State of the account there: ready, removing, removed …")
    ssh: str = Field(description="The command to paste: ssh -p PORT USER@HOST")


class ReservationPublic(BaseModel):
    id: str
    state: str
    pool: str
    owner: str
    count: int
    username: str
    password: str | None = Field(description="Shown to the owner while the reservation lives.")
    sudo: bool
    machines: list[ReservedMachine]
    created_at: datetime
    starts_at: datetime
    expires_at: datetime
    released_at: datetime | None
    extensions: int
    error: str | None
