"""The agent's command line: ``enroll``, ``run`` and ``top`` (the same for
``moorage agent …``, ``moorage top`` and the served single file)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from moorage.agent._common import DEFAULT_CONFIG, DEFAULT_INTERVAL
from moorage.agent.docker_tunnel import DockerTunnel
from moorage.agent.enrolment import enroll, load_config
from moorage.agent.platforms import Platform, this_platform
from moorage.agent.reporter import Agent
from moorage.agent.top import top
from moorage.agent.top_web import DEFAULT_EXPORT_DIR, DEFAULT_PORT, serve

__all__ = ["main", "stop_on_signals"]


def _exit(*_: Any) -> None:
    sys.exit(0)


def stop_on_signals(system: Platform | None = None) -> list[signal.Signals]:
    """Exit cleanly (``finally`` blocks run) on the platform's stop signals
    (:meth:`Platform.stop_signals`); returns the signals handled."""
    handled = (system or this_platform()).stop_signals()
    for signum in handled:
        signal.signal(signum, _exit)
    return handled


def main(argv: list[str] | None = None) -> None:
    """``moorage-agent enroll|run|top …`` (``argv`` defaults to ``sys.argv[1:]``). The
    config's default path is the platform's (:data:`DEFAULT_CONFIG`)."""
    parser = argparse.ArgumentParser(
        prog="moorage-agent", description="The Moorage agent: metrics, health and actions."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p_enroll = commands.add_parser("enroll", help="exchange an enrolment token for a credential")
    p_enroll.add_argument("--server", required=True)
    p_enroll.add_argument("--token", required=True)
    p_enroll.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_enroll.add_argument("--ca-file")
    p_run = commands.add_parser("run", help="push a report every interval")
    p_run.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_run.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    p_run.add_argument("--allow-actions", action="store_true")
    p_run.add_argument("--max-backoff", type=float, default=300.0, help="seconds")
    p_run.add_argument(
        "--docker",
        action="store_true",
        help="keep a tunnel open through which the hub reaches this machine's Docker "
        "engine and loopback ports (needs asyncssh and aiohttp)",
    )
    p_run.add_argument(
        "--docker-socket", help="with --docker: the engine's socket (default: the platform's)"
    )
    p_top = commands.add_parser("top", help="print this machine's metrics")
    p_top.add_argument("--interval", type=float, default=2.0)
    p_top.add_argument("--export-csv", type=Path, help="append samples to this CSV file")
    p_top.add_argument("--export-jsonl", type=Path, help="append samples as JSON lines")
    p_top.add_argument(
        "--web",
        action="store_true",
        help="serve a live page with history instead of printing (exports default to "
        f"{DEFAULT_EXPORT_DIR}/metrics.csv and metrics.jsonl)",
    )
    p_top.add_argument("--host", default="127.0.0.1", help="with --web: address to listen on")
    p_top.add_argument("--port", type=int, default=DEFAULT_PORT, help="with --web: port")
    p_top.add_argument("--no-export", action="store_true", help="with --web: write no files")
    args = parser.parse_args(argv)
    if args.command == "run" and args.docker_socket and not args.docker:
        parser.error("--docker-socket goes with --docker")
    if args.command == "top" and args.interval <= 0:
        parser.error("--interval must be more than 0 seconds")
    if args.command == "top" and not args.web and (args.no_export or args.host != "127.0.0.1"):
        parser.error("--host and --no-export go with --web")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "enroll":
        config = enroll(args.server, args.token, args.config, ca_file=args.ca_file)
        print(f"enrolled as {config['name']} (node {config['node_id']}); config in {args.config}")
    elif args.command == "run":
        config = load_config(args.config)
        agent = Agent(
            config,
            interval=args.interval,
            allow_actions=args.allow_actions,
            max_backoff=args.max_backoff,
        )
        stop_on_signals()
        if args.docker:
            _start_docker_tunnel(config, args.docker_socket)
        try:
            agent.run_forever()
        except KeyboardInterrupt:
            pass
    elif args.web:
        _serve_top(args)
    else:
        try:
            top(args.interval, export_csv=args.export_csv, export_jsonl=args.export_jsonl)
        except KeyboardInterrupt:
            pass


def _start_docker_tunnel(config: dict[str, Any], docker_socket: str | None) -> None:
    """Run :class:`DockerTunnel` on its own thread and event loop, beside the report
    loop (which blocks). Exits when the platform has no Unix socket to serve or the
    libraries are missing."""
    system = this_platform()
    if system.is_windows:
        sys.exit("--docker is not available on Windows (the engine is a named pipe)")
    try:
        import aiohttp  # noqa: F401
        import asyncssh  # noqa: F401
    except ImportError as exc:
        sys.exit(f"--docker needs asyncssh and aiohttp: {exc}")
    tunnel = DockerTunnel(config, docker_socket or system.docker_endpoint())
    threading.Thread(
        target=asyncio.run, args=(tunnel.run_forever(),), name="docker-tunnel", daemon=True
    ).start()


def _serve_top(args: argparse.Namespace) -> None:
    csv_path, jsonl_path = args.export_csv, args.export_jsonl
    if not args.no_export and csv_path is None and jsonl_path is None:
        csv_path = DEFAULT_EXPORT_DIR / "metrics.csv"
        jsonl_path = DEFAULT_EXPORT_DIR / "metrics.jsonl"
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"warning: the page has no login; anyone reaching {args.host}:{args.port} "
            "sees this machine's metrics",
            file=sys.stderr,
        )
    try:
        serve(args.host, args.port, args.interval, export_csv=csv_path, export_jsonl=jsonl_path)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        sys.exit(f"moorage top --web: {exc}")
