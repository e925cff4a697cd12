"""Settings for every Moorage process, read from ``MOORAGE_*`` environment variables
and from a ``.env`` file in the working directory (the environment wins).

One pydantic-settings class (the seed APIs' settings in :mod:`moorage.config_seed_apis`,
which it inherits). Paths are resolved against the data directory,
durations carry their unit in the field name.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from moorage.config_seed_apis import COMPAT_ROUTERS, SeedApiSettings, split_list

__all__ = ["COMPAT_ROUTERS", "Settings"]

SYNC_MYSQL_SCHEMES = frozenset(
    {"mysql", "mysql+pymysql", "mysql+mysqldb", "mariadb", "mariadb+pymysql", "mariadb+mysqldb"}
)
"""URL schemes of MySQL/MariaDB with a synchronous driver, read as ``mysql+asyncmy``."""


class Settings(SeedApiSettings, BaseSettings):
    """Process settings. Every field can be set as ``MOORAGE_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="MOORAGE_", extra="ignore", env_file=".env", env_file_encoding="utf-8"
    )

    mode: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses a missing secret key and insecure cookies.",
    )
    data_dir: Path = Field(
        Path("./data"),
        description="Directory for the SQLite database, generated keys and stack files.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy async URL. Default: SQLite (WAL) at <data_dir>/moorage.db. "
            "Examples: postgresql+asyncpg://u@127.0.0.1/moorage, "
            "mysql+asyncmy://root@127.0.0.1/moorage (mysql+pymysql:// URLs, as Projet-IAC "
            "writes them, are read as mysql+asyncmy)."
        ),
    )
    admin_password: SecretStr | None = Field(
        None,
        description="Password of the `admin` user created on first start; generated when unset.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key for encrypted secrets; generated into the data directory when unset.",
    )
    old_secret_keys: SecretStr | None = Field(
        None,
        description="Retired secret keys, comma-separated, still used to open old values.",
    )
    probe_interval_seconds: float = Field(
        30.0, description="How often the reconciler probes every pool machine over SSH."
    )
    workers: int = Field(
        1, ge=1, le=64, description="Server processes (`moorage serve`); >1 needs a DB server."
    )
    fleet_ttl_seconds: float = Field(
        60.0, description="A node with no report for this long is offline."
    )
    fleet_raw_retention_hours: float = Field(24.0, description="Keep raw agent samples.")
    fleet_minute_retention_days: float = Field(7.0, description="Keep 1-minute averages.")
    fleet_hour_retention_days: float = Field(365.0, description="Keep 1-hour averages.")
    fleet_alert_interval_seconds: float = Field(
        10.0, description="How often the reconciler evaluates alert rules."
    )
    fleet_ingest_flush_seconds: float = Field(
        0.5, description="Agent reports are written in batches at least this often."
    )
    ssh_connect_timeout_seconds: float = Field(10.0, description="SSH connect timeout.")
    ssh_command_timeout_seconds: float = Field(60.0, description="Timeout of one SSH command.")
    ssh_connections_per_host: int = Field(
        3, description="At most this many concurrent SSH connections to one machine."
    )
    docker_url: str = Field(
        "unix:///var/run/docker.sock",
        description="Docker endpoint of the `local` environment created on first start.",
    )
    publish_address: str = Field(
        "127.0.0.1",
        description="Host address workspace ports (ssh, http) are published on.",
    )
    public_host: str = Field(
        "127.0.0.1",
        description="Host name shown to users in connection details (ssh -p PORT user@HOST).",
    )
    guacd_address: str | None = Field(
        None,
        description="host:port of a guacd; when set, rdp desktops open in the browser.",
    )
    guacd_rdp_host: str | None = Field(
        None,
        description="Address guacd uses to reach published RDP ports (default: publish_address).",
    )
    docker_timeout_seconds: float = Field(
        30.0, description="Timeout of one Docker API call (streams have none)."
    )
    swarm_publish_mode: Literal["host", "ingress"] = Field(
        "host",
        description="How swarm environments publish workspace ports: host (on the node "
        "running the task; no IPVS needed) or ingress (the routing mesh, on every node).",
    )
    launch_timeout_seconds: float = Field(
        60.0, description="How long a launch may take before it is failed and cleaned up."
    )
    reconcile_interval_seconds: float = Field(
        5.0, description="Period of the full database-versus-runtime reconcile."
    )
    instance_ttl_seconds: float = Field(
        15.0,
        description="A server instance whose heartbeat is older is dead; its launches are failed.",
    )
    warm_max_age_minutes: float = Field(
        240.0,
        gt=0,
        description="A warm workspace unclaimed this long is recycled (started again fresh).",
    )
    warm_starts_at_once: int = Field(
        4, ge=1, le=64, description="How many warm workspaces the reconciler starts at a time."
    )
    warm_interval_seconds: float = Field(
        5.0, gt=0, description="How often the reconciler refills and recycles warm pools."
    )
    login_ttl_hours: int = Field(12, description="Lifetime of a login cookie.")
    cookie_secure: bool = Field(
        False,
        description=(
            "Mark the login cookie `Secure` and send Strict-Transport-Security (serve over HTTPS)."
        ),
    )
    trusted_origins: str = Field(
        "",
        description=(
            "Comma-separated origins (scheme://host[:port]) besides the request's own whose "
            "pages may send cookie-authenticated POST/PUT/PATCH/DELETE and websockets, e.g. "
            "https://moorage.example.org when a proxy rewrites Host."
        ),
    )
    workspace_domain: str | None = Field(
        None,
        description=(
            "Serve workspace web apps (kind http) from their own origin, one host per session: "
            "https://<session-id>.<workspace_domain>/s/<session-id>/ (needs a wildcard DNS record "
            "and TLS certificate for *.<workspace_domain> pointing at Moorage), e.g. "
            "ws.example.org. Unset, and no workspace_port: apps share Moorage's origin, sandboxed."
        ),
    )
    workspace_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "Serve workspace web apps from a second port of `moorage serve` (same host, another "
            "origin), for machines without wildcard DNS. One server process only."
        ),
    )
    run_reconciler: bool = Field(
        True, description="Run the reconciler inside `moorage serve` (the embedded default)."
    )
    root_path: str = Field(
        "",
        description=(
            "Path prefix Moorage is served under behind a reverse proxy that strips it, "
            "e.g. /winux for nginx's `location /winux/ { proxy_pass http://127.0.0.1:8000/; }`; "
            "passed to uvicorn as its root_path. Empty: served at the root."
        ),
    )
    trusted_proxies: str = Field(
        "",
        description=(
            "Addresses or networks (CIDR) of reverse proxies in front of Moorage, "
            "comma-separated, e.g. 127.0.0.1,10.0.0.0/24. Their X-Forwarded-For and "
            "X-Forwarded-Proto and X-Forwarded-Host headers are believed; nobody "
            "else's are."
        ),
    )
    # Self-registration (issue 13, "Users, groups, roles"): off unless switched on.
    signup_enabled: bool = Field(
        False,
        description="Let people create their own account (role member) on the /signup page.",
    )
    signup_email_domains: str = Field(
        "",
        description="E-mail domains allowed to sign up, comma-separated (e.g. "
        "`school.example,staff.school.example`); empty: any domain.",
    )
    signup_group: str | None = Field(
        None, description="The group new self-registered users join (by name), if any."
    )

    @property
    def signup_domain_list(self) -> list[str]:
        return [d.lower().lstrip("@") for d in split_list(self.signup_email_domains)]

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.workspace_domain and self.workspace_port:
            raise ValueError("set MOORAGE_WORKSPACE_DOMAIN or MOORAGE_WORKSPACE_PORT, not both")
        if self.workspace_domain is not None:
            self.workspace_domain = self.workspace_domain.strip().strip(".").lower() or None
        unknown = set(self.compat_router_list) - set(COMPAT_ROUTERS)
        if unknown:
            raise ValueError(
                f"MOORAGE_COMPAT: unknown router(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(COMPAT_ROUTERS)}"
            )
        for router, username in self.compat_anonymous_user_map.items():
            if router not in COMPAT_ROUTERS or not username:
                raise ValueError(
                    f"MOORAGE_COMPAT_ANONYMOUS_USERS: {router}={username} is not "
                    f"router=username with router one of {', '.join(COMPAT_ROUTERS)}"
                )
        root = self.root_path.strip()
        if root and (not root.startswith("/") or any(c in root for c in "?#% \t")):
            raise ValueError(f"MOORAGE_ROOT_PATH: {root!r} is not a path such as /winux")
        self.root_path = root.rstrip("/")
        for entry in split_list(self.trusted_proxies):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"MOORAGE_TRUSTED_PROXIES: {entry!r} is not an address or network"
                ) from None
        if self.mode == "production":
            if self.secret_key is None:
                raise ValueError("MOORAGE_SECRET_KEY must be set when MOORAGE_MODE=production")
            if not self.cookie_secure:
                raise ValueError("MOORAGE_COOKIE_SECURE must be true when MOORAGE_MODE=production")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory. A MySQL or
        MariaDB URL with a synchronous driver or none, as Projet-IAC writes its
        ``DATABASE_URL`` (``mysql+pymysql://u:p@db:3306/containers?charset=utf8mb4``),
        gets Moorage's async driver, ``mysql+asyncmy``; the rest is kept as written."""
        if self.database_url:
            scheme, sep, rest = self.database_url.partition("://")
            if sep and scheme.lower() in SYNC_MYSQL_SCHEMES:
                return f"mysql+asyncmy://{rest}"
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'moorage.db'}"

    @property
    def trusted_origin_list(self) -> list[str]:
        """``trusted_origins`` split on commas, blanks dropped."""
        return [origin.strip() for origin in self.trusted_origins.split(",") if origin.strip()]

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``trusted_proxies`` parsed (a bare address is a /32 or /128 network)."""
        return [
            ipaddress.ip_network(entry, strict=False) for entry in split_list(self.trusted_proxies)
        ]

    @property
    def workspace_origin_mode(self) -> bool:
        """True when web apps get their own origin (a workspace domain or port)."""
        return bool(self.workspace_domain or self.workspace_port)

    def workspace_origin(self, scheme: str, host: str, session_id: str) -> str | None:
        """The origin (``scheme://host[:port]``) serving session ``session_id``'s web app,
        given the ``scheme`` and ``Host`` header (``name[:port]``) Moorage was reached at;
        None when apps share Moorage's origin (neither setting)."""
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if not name or not port.isdigit():
            name, port = host, ""
        if self.workspace_domain:
            return f"{scheme}://{session_id}.{self.workspace_domain}" + (f":{port}" if port else "")
        if self.workspace_port:
            return f"{scheme}://{name}:{self.workspace_port}"
        return None

    def workspace_app_url(self, moorage_url: str, session_id: str) -> str:
        """The URL of session ``session_id``'s web app, given Moorage's root URL
        (``scheme://host[:port]``): ``<workspace origin>/s/<id>/``, or
        ``<moorage_url>/s/<id>/`` when apps share Moorage's origin."""
        scheme, _, rest = moorage_url.rstrip("/").partition("://")
        origin = self.workspace_origin(scheme, rest.split("/", 1)[0], session_id)
        return f"{origin or moorage_url.rstrip('/')}/s/{session_id}/"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    git_allow_file_urls: bool = Field(
        False,
        description="Let stacks come from file:// Git repositories on this server's "
        "filesystem (tests, single-user set-ups); off: https, http and ssh only.",
    )

    # Metrics (README, "Metrics and logs"), kept at the end like the webhook above.
    metrics_token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token a Prometheus scraper sends to `GET /metrics` (besides any admin's "
            "API token). Unset: only admins' tokens are accepted."
        ),
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "Also serve `GET /metrics` on 127.0.0.1 at this port, without a token, for a "
            "scraper on the same host. Unset: only the main port's `/metrics`."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: log lines as JSON objects, each with the request's `request_id`.",
    )
