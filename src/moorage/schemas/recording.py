"""Recording response models and the org's recording policy."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel

__all__ = ["RecordingPolicy", "RecordingPolicyUpdate", "RecordingPublic"]


class RecordingPublic(BaseModel):
    id: str
    session_id: str
    owner: str = Field(description="Username of the session's owner.")
    template: str = Field(description="The session's template name.")
    kind: str = Field(description="terminal (asciicast v2) or desktop (framed RFB stream).")
    with_input: bool = Field(description="Keys typed are in it too (terminals).")
    started_at: datetime
    ended_at: datetime | None = Field(description="None while it is being written.")
    size_bytes: int
    width: int = Field(description="Columns of a terminal at its start (0 for a desktop).")
    height: int = Field(description="Rows of a terminal at its start (0 for a desktop).")
    file: str = Field(description="The file (audited as a read); ?download=1 to save it.")
    page: str = Field(description="The player page.")
    snippet: str | None = Field(None, description="Search: the text around the match.")


class RecordingPolicy(BaseModel):
    """The org's recording settings."""

    recording_required: bool = Field(
        description="Record every session of the org, whatever its template says."
    )
    recording_retention_days: int = Field(description="Recordings older than this are deleted.")


class RecordingPolicyUpdate(InputModel):
    recording_required: bool | None = None
    recording_retention_days: int | None = Field(None, ge=1, le=3650)
