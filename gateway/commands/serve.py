"""``onecard serve``: run the gateway (``--embedded``: with its demo tenant and simulators)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from gateway import keys
from gateway.app import create_app
from gateway.embedded import EmbeddedContext, EmbeddedStack
from gateway.errors import GatewayError
from gateway.settings import Settings, SettingsError

log = logging.getLogger("gateway.serve")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="TCP port (default 8080)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--data-dir", type=Path,
                        help="where the SQLite database and master key live (default: .)")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--embedded", action="store_true",
                        help="also start the demo tenant, SMSC simulator and emulated SIMs")


def load_settings(args: argparse.Namespace) -> Settings:
    overrides = {"server.port": args.port, "server.host": args.host,
                 "data_dir": str(args.data_dir) if args.data_dir else None}
    return Settings.load(args.config, overrides, create_master_key=True)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"onecard serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level.upper() != "DEBUG":
        # Alembic narrates every plugin it loads at INFO; a start needs only its upgrades.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(settings, embedded=args.embedded))
    except GatewayError as exc:
        print(f"onecard serve: {exc.detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"onecard serve: cannot listen on {settings.host}:{settings.port}: "
              f"{exc.strerror}", file=sys.stderr)
        return 1
    return 0


async def serve(settings: Settings, *, embedded: bool = False,
                stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or until ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        base_url = f"http://{settings.host}:{settings.port}"
        log.info("onecard gateway listening on %s (data in %s)", base_url, settings.data_dir)
        if embedded:
            ctx = EmbeddedContext(deps=app[keys.DEPS], base_url=base_url, app=app)
            async with EmbeddedStack(ctx):
                await stop.wait()
        else:
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
