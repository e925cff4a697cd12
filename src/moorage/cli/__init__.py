"""The ``moorage`` command (Typer)."""

from moorage.cli.main import app, main

__all__ = ["app", "main"]
