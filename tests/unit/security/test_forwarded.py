"""X-Forwarded-For/Proto/Host believed from MOORAGE_TRUSTED_PROXIES only: audit
addresses and the absolute URLs the API generates are right behind a proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from moorage.app import create_app
from moorage.config import Settings
from moorage.drivers.fake import FakeDriver
from tests.databases import fresh_database

PASSWORD = "forwarded-admin-password"
PROXY = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "moorage.example.org",
}


@asynccontextmanager
async def admin_through(
    tmp_path, client: tuple[str, int], trusted: str, origin: str
) -> AsyncIterator:
    """An admin client whose requests come from ``client`` (the proxy's address),
    carrying the proxy's headers, to Moorage trusting ``trusted``."""
    async with fresh_database(tmp_path) as url:
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            admin_password=SecretStr(PASSWORD),
            reconcile_interval_seconds=3600,
            trusted_proxies=trusted,
        )
        driver = FakeDriver()
        app = create_app(settings, driver_factory=lambda env: driver, announce=lambda m: None)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=client)
            headers = {**PROXY, "Origin": origin}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://moorage:8000", headers=headers
            ) as http:
                login = await http.post(
                    "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                yield http


async def test_a_trusted_proxy_sets_the_address_scheme_and_host(tmp_path):
    async with admin_through(
        tmp_path, ("10.0.0.5", 40000), "10.0.0.0/24", "https://moorage.example.org"
    ) as admin:
        launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        urls = launched.json()["urls"]
        session_id = launched.json()["id"]
        assert urls["page"] == f"https://moorage.example.org/sessions/{session_id}"
        assert urls["terminal"].startswith("wss://moorage.example.org/api/v1/sessions/")
        events = (await admin.get("/api/v1/audit")).json()
        launch = next(e for e in events if e["action"] == "session.launch")
        assert launch["source"] == "203.0.113.7"


async def test_anybody_else_s_forwarded_headers_are_ignored(tmp_path):
    async with admin_through(
        tmp_path, ("192.0.2.9", 40000), "10.0.0.0/24", "http://moorage:8000"
    ) as admin:
        launched = await admin.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        session_id = launched.json()["id"]
        assert launched.json()["urls"]["page"] == f"http://moorage:8000/sessions/{session_id}"
        events = (await admin.get("/api/v1/audit")).json()
        launch = next(e for e in events if e["action"] == "session.launch")
        assert launch["source"] == "192.0.2.9"


def test_settings_are_read_from_a_dot_env_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "MOORAGE_PUBLIC_HOST=lab.example.org\nMOORAGE_WORKERS=3\nPOSTGRES_PASSWORD=x\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOORAGE_WORKERS", "2")  # the environment wins over the file
    settings = Settings()
    assert settings.public_host == "lab.example.org"
    assert settings.workers == 2
