"""stuntman inside a test process: `InProcess` runs a server on free loopback ports in a thread
with its own event loop (uvloop). The pytest plugin and stuntman's own tests use it."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from .server import Server
from .settings import Settings

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; `call(coro)` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop
        try:
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a dependency; stay usable without it
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="stuntman-loop")
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():  # its epoll and wake-up descriptors: a test run starts hundreds
            self.loop.close()


async def _run(fn: Callable[[], T]) -> T:
    return fn()


class InProcess:
    """A stuntman server started in this process: `url` (data plane), `admin_url` (or None)."""

    def __init__(self, settings: Settings):
        self.thread = LoopThread()
        self.server = Server(settings)
        try:
            self.server.load()
            self.thread.call(self.server.start())
        except BaseException:
            self.thread.stop()
            raise
        self.port = self.server.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.stubs = settings.stubs
        self.admin_url = f"http://127.0.0.1:{self.server.admin_port}" if self.server.admin_port else None

    @classmethod
    def start(cls, stubs: Path | str, **overrides: Any) -> InProcess:
        """Free ports on 127.0.0.1, no file watching; any other Settings field may be given."""
        overrides = {"port": 0, "admin_port": 0, "watch": False, **overrides}
        return cls(replace(Settings(), stubs=Path(stubs), **overrides))

    def reload(self) -> int:
        return self.thread.call(_run(self.server.load))

    def stop(self) -> None:
        self.thread.call(self.server.close())
        self.thread.stop()
