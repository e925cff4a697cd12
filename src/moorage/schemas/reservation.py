"""Reservation request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel, LeaseMinutes, LeaseSeconds

__all__ = ["ReservationCreate", "ReservationExtend", "ReservationPublic", "ReservedMachine"]


class ReservationCreate(InputModel):
    """``POST /api/v1/reservations``. Username and password are generated when absent."""

    count: int = Field(1, ge=1, le=1000, description="How many machines.")
    pool: str = Field("default", min_length=1, max_length=64)
    duration_minutes: LeaseMinutes | None = None
    duration_seconds: LeaseSeconds | None = Field(
        None, description="At least 10, for short leases."
    )
    username: str | None = Field(
        None, max_length=64, description="Account name; 3-32 of [a-z0-9_-]."
    )
    password: str | None = Field(
        None, max_length=1024, description="Account password; 8-128 characters."
    )


class ReservationExtend(InputModel):
    minutes: LeaseMinutes = Field(description="Minutes to add; the pool's maximum still applies.")


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
