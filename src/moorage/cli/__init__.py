"""The ``moorage`` command (Typer).

``moorage agent enroll|run`` and ``moorage top`` go straight to the standalone
agent (:mod:`moorage.agent`) without loading the server's modules, which
keeps the agent within its memory budget (RSS ≤ 60 MB).
"""

from __future__ import annotations

import sys

__all__ = ["main"]

LIGHT = {("agent", "enroll"), ("agent", "run"), ("top",)}


def main() -> None:
    args = sys.argv[1:]
    if tuple(args[:2]) in LIGHT or tuple(args[:1]) in LIGHT:
        from moorage.agent.main import main as agent_main

        agent_main(args[1:] if args[0] == "agent" else args)
        return
    from moorage.cli.main import main as full_main

    full_main()
