"""Session request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from moorage.schemas._input import InputModel, LeaseMinutes, LeaseSeconds

__all__ = ["SessionConnection", "SessionCreate", "SessionExtend", "SessionPublic", "SessionUrls"]


class SessionCreate(InputModel):
    """``POST /api/v1/sessions``. Give at most one duration; none means the template's default."""

    template: str = Field(
        min_length=1, max_length=64, description="Template id or name, e.g. `debian-shell`."
    )
    duration_minutes: LeaseMinutes | None = Field(None, description="Lease length in minutes.")
    duration_seconds: LeaseSeconds | None = Field(
        None, description="Lease length in seconds (at least 10), for short leases."
    )


class SessionExtend(InputModel):
    minutes: LeaseMinutes = Field(
        description="Minutes to add; the template's maximum still applies."
    )


class SessionUrls(BaseModel):
    page: str = Field(description="The session's web page (terminal in the browser).")
    terminal: str = Field(description="Websocket of the terminal (binary frames, JSON resize).")
    app: str | None = Field(None, description="The web app, through Moorage (http kind).")
    desktop: str | None = Field(None, description="Websocket of the desktop for noVNC (vnc kind).")


class SessionConnection(BaseModel):
    """How to reach an ``ssh`` or ``rdp`` workspace with a native client."""

    host: str
    port: int
    username: str
    password: str | None = Field(description="Shown to the owner while the session lives.")
    command: str = Field(description="The command to paste (ssh or xfreerdp).")


class SessionPublic(BaseModel):
    id: str
    state: str = Field(description="pending, provisioning, ready, releasing, released or failed.")
    template: str = Field(min_length=1, max_length=64, description="Template name.")
    template_display_name: str
    kind: str
    owner: str = Field(description="Username of the owner.")
    environment: str = Field(description="Environment name.")
    created_at: datetime
    starts_at: datetime
    expires_at: datetime
    released_at: datetime | None
    extensions: int
    max_expires_at: datetime = Field(description="The latest expires_at extensions may reach.")
    error: str | None
    idle_since: datetime | None = Field(
        None,
        description="While it is ready: its last activity (input, a web-app request, busy "
        "CPU), or its start when there was none.",
    )
    idle_timeout_seconds: int | None = Field(
        None, description="The template's idle timeout; None: never ended for idleness."
    )
    idle_expires_at: datetime | None = Field(
        None, description="When it ends unless something happens: idle_since + the timeout."
    )
    end_reason: str | None = Field(
        None,
        description="Once it has ended: deadline, idle, owner, admin, workshop_end or failed.",
    )
    recorded: bool = Field(False, description="Its terminal or desktop is recorded.")
    urls: SessionUrls
    connection: SessionConnection | None = Field(
        None, description="Native-client details (ssh workspaces)."
    )
