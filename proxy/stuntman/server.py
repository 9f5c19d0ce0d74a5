"""A running stuntman: the data-plane listener, its route table, stub state and upstream pools."""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import random
import re
import time
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config.loader import ConfigError, ConfigErrors, FileInFlux
from .faults.kinds import FaultState
from .http1.connection import HTTP1Connection
from .journal import Journal
from .mappings import Mappings
from .match.routes import RouteTable
from .metrics import Metrics
from .pipeline import Pipeline
from .reload import start_watching
from .respond.scenarios import StubState
from .respond.upstream.target import UpstreamTarget
from .settings import Settings

if TYPE_CHECKING:
    from .admin import Admin
    from .grpc.listener import GrpcListener

log = logging.getLogger("stuntman")


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
        if settings.replay and settings.replay_mode == "strict" and settings.grpc_upstream:
            # a strict replay answers what was not recorded itself, gRPC calls as HTTP requests
            settings = replace(settings, grpc_upstream=None)
        self.settings = settings
        self.state = StubState(settings.session_header)
        self.pools: dict = {}
        # fault decisions: seeded per run (printed at start) so a failing run can be repeated
        self.seed = settings.seed if settings.seed is not None else random.randrange(1 << 31)
        self.fault_state = FaultState(self.seed)
        self.mappings = Mappings(settings, self.pools, self.fault_state)
        self.journal = Journal(settings.journal_size, settings.journal_body_bytes) if settings.journal_size else None
        self.journal_body_bytes = settings.journal_body_bytes if self.journal else 0
        self.journal_responses = settings.journal_responses if self.journal else 0
        self.metrics = Metrics(self) if settings.metrics else None
        self.recording = self.journal is not None or self.metrics is not None
        self.table = RouteTable([])
        self.recorders: dict = {}
        # unmatched requests: to the upstream (sidecar mode), unless a strict replay says 404
        passes = settings.upstream and not (settings.replay and settings.replay_mode == "strict")
        record_to = settings.record_to or (settings.replay[0] if settings.replay_mode == "record-missing"
                                           and settings.replay else None)
        self.default_upstream = (UpstreamTarget(settings.upstream, self.pools, settings, record=record_to)
                                 if passes and settings.upstream else None)
        self.record_to = record_to  # the recording what passes upstream goes to (HTTP and gRPC)
        self.pipeline = Pipeline(self)
        self.connections: set[HTTP1Connection] = set()
        # the listener's deadlines, by what a connection is waiting for (None: busy, look later)
        self.timeouts = {"idle": settings.idle_timeout, "head": settings.header_timeout,
                         "body": settings.body_timeout, "linger": settings.linger_timeout,
                         None: min(settings.idle_timeout, settings.header_timeout)}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = time.time()
        self._listener: asyncio.base_events.Server | None = None
        self._admin: Admin | None = None
        self._watcher: asyncio.Task | None = None
        self.grpc: GrpcListener | None = None  # --grpc-port
        self.config_errors: list[ConfigError] = []  # of the last load that failed, until one works
        self.reloads = {"ok": 0, "error": 0}
        self.stop_requested = asyncio.Event()  # POST /__admin/shutdown
        self.draining = False                  # stopping: finish what is in flight, take nothing new

    def load(self, emptied_means_busy: Collection[str] = ()) -> int:
        """(Re)load the stubs directory; on any error keep the current table and raise."""
        self.mappings.load_files(emptied_means_busy)
        self.config_errors = []
        self.publish()
        _give_back_memory()
        return len(self.table.routes)

    def contract_files(self) -> list[Path]:
        """Every file the contracts served were read from, the --openapi specs, and the --proto files
        (resolved)."""
        found = {path for contract in self.mappings.contracts() for path in contract.spec.paths}
        found.update(Path(spec).resolve() for spec in (*self.settings.openapi, *self.settings.openapi_monitor))
        found.update(path.resolve() for path in self.settings.pact if not path.is_dir())
        protos = self.table.protos  # (--proto: each .proto read, imports across directories too)
        found.update(path.resolve() for path in (protos.sources if protos is not None else ()))
        return sorted(found)

    def contract_dirs(self) -> list[Path]:
        """The --pact directories: a pact file added to one is served, one removed is not."""
        return sorted({path.resolve() for path in self.settings.pact if path.is_dir()})

    def recorder(self, name: str):
        """The Recorder of a recording under --recordings, created on first use."""
        recorder = self.recorders.get(name)
        if recorder is None:
            from .record.format import Redactor
            from .record.recorder import Recorder, recording_dir

            settings = self.settings
            directory = recording_dir(settings.recordings, name)
            redactor = Redactor(settings.redact, settings.redact_json, enabled=not settings.no_redact)
            recorder = self.recorders[name] = Recorder(directory, redactor, settings.record_body_inline)
            if settings.replay_mode == "record-missing" and name in settings.replay:
                recorder.saved.append(lambda: self.reload("a missing exchange was recorded"))
        return recorder

    def _record_grpc(self, listener: GrpcListener, name: str) -> None:
        """The calls the listener passes through, into the recording `name`: their messages kept
        whole (up to --max-body-bytes each way), and each written once the call is over."""
        from .record.grpc import GrpcRecording

        settings = self.settings
        listener.keep = max(listener.keep, settings.max_body_bytes)
        listener.finished.append(GrpcRecording(name, self.recorder(name), settings.grpc_upstream,
                                               self.journal_body_bytes))

    def publish(self) -> None:
        """Swap in the table of the current mappings: one assignment, so a request sees the old
        table or the new one, never a mix."""
        self.table = self.mappings.table()

    def reload(self, why: str, settle: bool = False) -> bool | None:
        """load(), reporting instead of raising: errors are kept for health and logged.

        With settle, a file that had stubs and now reads empty is taken for a write in progress:
        nothing changes and None asks the caller to try again shortly.
        """
        try:
            count = self.load(self.table.files if settle else ())
        except FileInFlux:
            return None
        except ConfigErrors as exc:
            self.config_errors = exc.errors
            self.reloads["error"] += 1
            log.error("reload (%s) failed; still serving the previous %d stub(s):\n  %s", why,
                      len(self.table.routes), "\n  ".join(map(str, exc.errors)))
            return False
        self.reloads["ok"] += 1
        log.info("reloaded (%s): %d stub(s)", why, count)
        return True

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.settings.watch:  # before the port opens: a change made once it is open is seen
            self._watcher = await start_watching(self)
        if self.settings.grpc_port is not None:
            from .grpc.listener import GrpcListener

            self.grpc = GrpcListener(self)
            if self.record_to is not None:
                self._record_grpc(self.grpc, self.record_to)
            await self.grpc.start()
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
        assert self._listener is not None, "not started"
        return self._listener.sockets[0].getsockname()[1]

    @property
    def admin_port(self) -> int | None:
        return self._admin.port if self._admin else None

    async def drain(self, timeout: float) -> int:
        """Graceful stop, step one: accept no more connections, close idle ones, let in-flight
        exchanges finish (each connection closes after its last answer) for up to `timeout`
        seconds. Returns how many connections were still busy at the deadline."""
        self.draining = True
        if self._listener is not None:
            self._listener.close()
        for conn in list(self.connections):
            conn.drain()
        # gRPC calls in flight get the same time, beside (grpc.aio refuses new calls meanwhile)
        grpc_stopped = asyncio.ensure_future(self.grpc.close(timeout)) if self.grpc is not None else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self.connections:
            log.warning("drain: %d connection(s) still busy after %g s; closing them", len(self.connections), timeout)
        if grpc_stopped is not None:
            await grpc_stopped
        return len(self.connections)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self.grpc is not None:  # (its calls in flight are cancelled, and journaled as such)
            await self.grpc.close()
        if self._listener is not None:
            self._listener.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        for pool in self.pools.values():
            pool.close()
        for recorder in self.recorders.values():  # every exchange answered is on disk already
            await asyncio.get_running_loop().run_in_executor(None, recorder.close)
        if self._admin is not None:
            await self._admin.close()
        if self._listener is not None:
            await self._listener.wait_closed()

    def health(self) -> dict:
        orphans = [{"id": rule.fault.id, "route": rule.route_name, "source": rule.fault.source}
                   for rule in getattr(self.table.faults, "orphans", ())]  # none before the first load
        return {
            "status": "degraded" if self.config_errors or orphans else "ok",
            "version": __version__,
            "uptimeSeconds": round(time.time() - self.started, 3),
            "stubs": len(self.table.routes),
            "configErrors": [error.as_dict() for error in self.config_errors],
            "orphanFaults": orphans,  # faults whose `route:` names no stub now (they wait for it)
            "journal": {"size": len(self.journal.entries) if self.journal else 0,
                        "capacity": self.settings.journal_size},
        }
