"""Settings of the seed systems' own APIs (README, "Coming from Winux / Projet-IAC /
Flowcase / DashFleet"): a part of :class:`moorage.config.Settings`, which inherits
them (``MOORAGE_COMPAT``, ``MOORAGE_COMPAT_*``, ``MOORAGE_WEBHOOK_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

__all__ = ["COMPAT_ROUTERS", "SeedApiSettings", "split_list"]

COMPAT_ROUTERS = ("winux", "iac", "flowcase", "dashfleet")
"""The seed systems whose APIs Moorage can serve (``MOORAGE_COMPAT``)."""


def split_list(value: str) -> list[str]:
    """``value`` split on commas, blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


class SeedApiSettings(BaseSettings):
    """The seed APIs' settings (the environment prefix is :class:`Settings`'s)."""

    # The seed systems' own APIs (README, "Coming from Winux / Projet-IAC / Flowcase /
    # DashFleet"); each router is a thin translation onto the services.
    compat: str = Field(
        "",
        description=(
            "Seed APIs to serve at their own paths, comma-separated: winux, iac, flowcase, "
            "dashfleet (or `all`). Off by default."
        ),
    )
    compat_anonymous_users: str = Field(
        "",
        description=(
            "Opt-in, per router: `router=username` pairs, comma-separated (e.g. "
            "`winux=kiosk,iac=lab`). Callers of that router with no credential act as that "
            "user, for deployments whose reverse proxy authenticates. Refused at start-up "
            "unless Moorage listens on loopback or MOORAGE_TRUSTED_PROXIES is set."
        ),
    )
    compat_cors_origins: str = Field(
        "",
        description=(
            "Origins (scheme://host[:port]), comma-separated, whose pages may call the seed "
            "APIs from a browser (CORS), e.g. the Winux static web client's."
        ),
    )
    compat_winux_template: str = Field(
        "rdp-desktop", description="Template the Winux API launches (`POST /api/winux/sessions`)."
    )
    compat_iac_pool: str | None = Field(
        None,
        description=(
            "Machine pool of the Projet-IAC API; default: the org's `default` pool, or its "
            "first pool by name when it has no `default`."
        ),
    )
    compat_fleet_token: SecretStr | None = Field(
        None,
        description=(
            "DashFleet's FLEET_TOKEN: the shared token its agents send to "
            "`POST /api/fleet/report` (org API keys are accepted too)."
        ),
    )
    compat_action_token: SecretStr | None = Field(
        None,
        description=(
            "DashFleet's ACTION_TOKEN, accepted (besides an operator's token or an org API key) "
            "by `POST /api/action` and `POST /api/agent/link`."
        ),
    )

    # DashFleet's webhook (seed 004: WEBHOOK_URL, WEBHOOK_MIN_SECONDS).
    webhook_url: SecretStr | None = Field(
        None,
        description=(
            "DashFleet's WEBHOOK_URL: at start-up, a notification channel of the default "
            "org bound to its 'health turned critical' rule. An http(s) URL receives the "
            'seed\'s JSON payload `{"text": "…"}` (Slack/Teams compatible) by POST; any '
            "other Apprise URL (slack://, mailto://, …) is used as is. Unset: the channel "
            "is removed."
        ),
    )
    webhook_min_seconds: int = Field(
        300,
        ge=0,
        le=86400,
        description="DashFleet's WEBHOOK_MIN_SECONDS: at most one webhook message per this "
        "many seconds (the channel's cooldown).",
    )

    @property
    def compat_router_list(self) -> list[str]:
        """The seed APIs switched on (``compat`` split on commas; ``all`` is every one)."""
        names = [name.lower() for name in split_list(self.compat)]
        return list(COMPAT_ROUTERS) if "all" in names else names

    @property
    def compat_anonymous_user_map(self) -> dict[str, str]:
        """``compat_anonymous_users`` as ``{router: username}``."""
        pairs = (entry.partition("=") for entry in split_list(self.compat_anonymous_users))
        return {router.strip().lower(): username.strip() for router, _, username in pairs}

    @property
    def compat_cors_origin_list(self) -> list[str]:
        """``compat_cors_origins`` split on commas, blanks dropped."""
        return split_list(self.compat_cors_origins)
