"""Request body of an image update policy
(``PUT /api/v1/environments/{env}/image-updates/{kind}/{name}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from moorage.schemas._input import InputModel

__all__ = ["ImageUpdatePolicyBody", "check_cron", "check_range"]


def check_cron(expression: str, field: str) -> str:
    """``expression`` if it is a five-field cron expression (``*/30 * * * *``), else
    a ValueError naming ``field`` (the API answers 422)."""
    from croniter import croniter  # heavy: only when a policy is written

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"{field} is not a five-field cron expression (e.g. '0 3 * * *')")
    return expression


def check_range(text: str) -> str:
    """``text`` if it is an npm semver range (``~1.4``, ``^2``), else a ValueError."""
    import semantic_version

    try:
        semantic_version.NpmSpec(text)
    except ValueError as exc:
        raise ValueError(f"not a semver range such as '~1.4' or '^2' ({exc})") from exc
    return text


class ImageUpdatePolicyBody(InputModel):
    """An operator's opt-in for one container or stack.

    * ``policy``: ``notify`` (default: an alert through the notification channels and
      a badge in the containers list) or ``update`` (pull, recreate with the same
      configuration, wait for health, roll back on failure).
    * ``semver_range``: also look for a newer tag inside this npm range (``~1.4``,
      ``^2``); containers only (a stack's tags are in its Compose file).
    * ``schedule``: when to check, five-field cron in UTC (default hourly).
    * ``window_schedule`` + ``window_minutes``: updates are applied only inside a
      maintenance window opening when this cron fires and lasting that long (both or
      neither; checks and notifications run on ``schedule`` at any time).
    * ``health_timeout_seconds``: how long a new container has to become healthy;
      ``stable_seconds``: how long one without a healthcheck must keep running.
    """

    policy: Literal["notify", "update"] = "notify"
    semver_range: str | None = Field(default=None, min_length=1, max_length=64)
    schedule: str = Field(default="0 * * * *", min_length=9, max_length=128)
    window_schedule: str | None = Field(default=None, min_length=9, max_length=128)
    window_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    health_timeout_seconds: int = Field(default=120, ge=5, le=3600)
    stable_seconds: int = Field(default=10, ge=0, le=600)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_cron(value, "schedule")

    @field_validator("window_schedule")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value, "window_schedule")

    @field_validator("semver_range")
    @classmethod
    def _range(cls, value: str | None) -> str | None:
        return None if value is None else check_range(value)

    @model_validator(mode="after")
    def _window_pair(self) -> ImageUpdatePolicyBody:
        if (self.window_schedule is None) != (self.window_minutes is None):
            raise ValueError("window_schedule and window_minutes go together")
        return self
