"""Settings read as the seeds write them: Projet-IAC's ``mysql+pymysql://`` database
URL, and the root path Winux's nginx example serves under."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from moorage.config import Settings
from moorage.db.engine import create_engine

IAC_URL = "mysql+pymysql://appuser:apppass@db:3306/containers?charset=utf8mb4"


def test_projet_iac_database_url_gets_the_async_mysql_driver():
    url = Settings(database_url=IAC_URL).resolved_database_url
    assert url == "mysql+asyncmy://appuser:apppass@db:3306/containers?charset=utf8mb4"
    parsed = make_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.port) == (
        "appuser",
        "apppass",
        "db",
        3306,
    )
    assert parsed.database == "containers" and parsed.query == {"charset": "utf8mb4"}
    assert Settings(database_url="mariadb://u@h/d").resolved_database_url == "mysql+asyncmy://u@h/d"


def test_async_and_other_urls_are_kept_as_written():
    for url in (
        "mysql+asyncmy://root@127.0.0.1/moorage",
        "postgresql+asyncpg://u@127.0.0.1/moorage",
        "sqlite+aiosqlite:////tmp/x.db",
    ):
        assert Settings(database_url=url).resolved_database_url == url


async def test_the_translated_url_builds_an_engine_without_pymysql():
    engine = create_engine(Settings(database_url=IAC_URL).resolved_database_url)
    assert engine.dialect.driver == "asyncmy"
    await engine.dispose()


def test_root_path_is_normalised_and_a_relative_one_refused():
    assert Settings(root_path="/winux/").root_path == "/winux"
    assert Settings().root_path == ""
    with pytest.raises(ValidationError, match="MOORAGE_ROOT_PATH"):
        Settings(root_path="winux")
