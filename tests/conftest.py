"""Shared fixtures."""

from __future__ import annotations

import pytest

from tests.databases import backend_name


def pytest_report_header(config: pytest.Config) -> str:
    return f"moorage database backend: {backend_name()}"
