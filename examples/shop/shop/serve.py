"""Run an aiohttp application until SIGTERM or SIGINT: the `python -m shop.NAME` entry points."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from aiohttp import web


def arguments(description: str, default_port: int) -> argparse.ArgumentParser:
    """A parser with --host and --port (0: any free port; the address in use is printed)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", default_port)))
    return parser


async def _serve(app: web.Application, name: str, host: str, port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    # the first line of output, read by whoever started us with --port 0
    print(f"{name} listening on http://{bound_host}:{bound_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, name: str, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"{name} %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(app, name, host, port))
