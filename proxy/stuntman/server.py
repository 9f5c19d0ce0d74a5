"""A running stuntman: the data-plane listener, its route table, stub state and upstream pools."""
from __future__ import annotations

import asyncio
import ctypes
import gc
import re
import time

from . import __version__
from .compile import compile_table
from .config.loader import ConfigErrors, load_dir
from .http1.listener import HTTP1Connection
from .match.routes import RouteTable
from .respond.scenarios import StubState
from .respond.upstream import UpstreamTarget
from .settings import Settings


def _give_back_memory() -> None:
    """Loading peaks well above what the table keeps (YAML trees, pydantic models): return the
    freed heap to the OS so a long-running sidecar's RSS reflects what it holds."""
    re.purge()  # re's cache holds the last 512 patterns compiled; the routes keep their own
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Server:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.state = StubState(settings.session_header)
        self.pools: dict = {}
        self.table = RouteTable([])
        self.default_upstream = (UpstreamTarget(settings.upstream, self.pools, settings)
                                 if settings.upstream else None)
        self.connections: set[HTTP1Connection] = set()
        # the listener's deadlines, by what a connection is waiting for (None: busy, look later)
        self.timeouts = {"idle": settings.idle_timeout, "head": settings.header_timeout,
                         "linger": settings.linger_timeout,
                         None: min(settings.idle_timeout, settings.header_timeout)}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = time.time()
        self._listener: asyncio.base_events.Server | None = None
        self._admin = None

    def load(self) -> int:
        """(Re)load the stubs directory; on any error keep the current table and raise."""
        stubs, errors = load_dir(self.settings.stubs)
        table, compile_errors = compile_table(stubs, self.settings.stubs, self.pools, self.settings)
        errors += compile_errors
        if errors:
            raise ConfigErrors(errors)
        self.table = table  # one assignment: a request sees the old table or the new one
        _give_back_memory()
        return len(table.routes)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._listener = await self.loop.create_server(
            lambda: HTTP1Connection(self), self.settings.host, self.settings.port,
            backlog=4096, reuse_address=True)
        if self.settings.admin_port is not None:
            from .admin import start_admin

            try:
                self._admin = await start_admin(self)
            except BaseException:
                await self.close()
                raise

    @property
    def port(self) -> int:
        return self._listener.sockets[0].getsockname()[1]

    @property
    def admin_port(self) -> int | None:
        return self._admin.port if self._admin else None

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        for pool in self.pools.values():
            pool.close()
        if self._admin is not None:
            await self._admin.close()
        if self._listener is not None:
            await self._listener.wait_closed()

    def health(self) -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": round(time.time() - self.started, 3),
            "stubs": len(self.table.routes),
        }
