"""One exchange forwarded upstream: the client's Downstream joined to one upstream connection.

Request body chunks flow up as they arrive, response chunks flow down as they arrive, and each
side's write buffer pauses the other side's reads, so a 1 GB body never sits in memory. Faults
that shape a streaming response go through a `Shaper`; faults that need the whole body
(dribble, truncate, corrupt) and recording take it whole first, then hand it to the pipeline.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ...faults.enact import Shaper, after
from ...journal import Captured
from ...record.tee import RecordingTee
from ...response import Response, bodiless
from .errors import UpstreamError

if TYPE_CHECKING:
    from ...exchange import Exchange
    from .client import UpstreamConnection
    from .target import UpstreamTarget

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
MAX_PENDING = 256 * 1024  # request bytes held while the upstream connection is being set up


def recorded_fields(response: Response) -> list[tuple[bytes, bytes]]:
    """The response's fields as the upstream sent them (its Content-Length included)."""
    if response.length is None:
        return list(response.headers)
    return [*response.headers, (b"content-length", b"%d" % response.length)]


class ProxyCall:
    def __init__(self, pipeline: Any, ex: Exchange, target: UpstreamTarget):
        self.flow = pipeline
        self.ex = ex
        self.down = down = ex.down
        assert down is not None
        self.target = target
        self.conn: UpstreamConnection | None = None
        self.chunked = ex.has_body and ex.declared_length is None
        self.head = target.request_head(ex, self.chunked)
        self.pending: list[bytes] = []  # request body held until connected
        self.pending_size = 0
        self.body_done = not ex.has_body
        # a request that may have met a stale pooled connection is retried once (RFC 9110 §9.2.2)
        self.retryable = not ex.has_body and ex.method in _IDEMPOTENT
        self.got_bytes = False
        self.head_sent = False       # a response head came from the upstream
        self.done = False
        self.plan = plan = ex.plan   # faults that shape this response (None: the plain fast path)
        self.timeout = target.timeout
        if plan is not None and plan.upstream_timeout is not None:
            self.timeout = plan.upstream_timeout
        self.sink: Any = down        # where the response goes: the downstream, or a Shaper before it
        self.response: Response | None = None
        self.body_allowed = True
        self.close_delimited = False  # the upstream ends the body by closing
        self.buffered: list[bytes] | None = None  # the whole body first (recording, reshaping faults)
        self.buffered_size = 0
        self.release_at = 0.0        # a response-stage delay on a buffered response: not before then
        self.paused = False          # the upstream connection's reads, paused by the response's way down
        # recording: the whole exchange is kept, written, then the response goes out
        self.tee = RecordingTee(target.record, pipeline.server.recorder(target.record), target.url,
                                pipeline.settings.body_timeout) if target.record else None
        self.saving: asyncio.Future | None = None  # the recording being written

    # -- request side ---------------------------------------------------------------------
    def start(self) -> None:
        conn = self.target.pool.take_idle()
        if conn is not None:
            conn.reused = True
            self._attach(conn)
        else:
            self._connect()

    def start_later(self) -> None:
        """A request-stage delay is over."""
        self.ex.pending = None
        if not self.down.closed and not self.done:
            self.start()

    def _connect(self) -> None:
        task = asyncio.ensure_future(self.target.pool.connect())
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Future) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if self.done:
            if exc is None:
                self.target.pool.release(task.result())
            return
        if exc is not None:
            self.upstream_failed(exc if isinstance(exc, UpstreamError) else
                                 UpstreamError(502, "upstream-unreachable", str(exc)))
            return
        conn = task.result()
        conn.reused = False
        self._attach(conn)

    def _attach(self, conn: UpstreamConnection) -> None:
        self.conn = conn
        conn.call = self
        self.got_bytes = False
        out = [self.head]
        for chunk in self.pending:
            out.append(self._frame(chunk))
        if self.body_done and self.chunked:
            out.append(b"0\r\n\r\n")
        self.pending = []
        self.pending_size = 0
        self.down.resume_reading("pending")
        assert conn.transport is not None
        conn.transport.write(b"".join(out))
        conn.expect_head_within(self.timeout)

    def _frame(self, chunk: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk

    def feed(self, chunk: bytes) -> None:
        """A piece of the client's request body."""
        if self.tee is not None:  # (even once answered: an upstream may answer before reading it)
            self.tee.request_chunk(chunk)
        if self.done:
            return
        conn = self.conn
        if conn is None or conn.transport is None:
            self.pending.append(chunk)
            self.pending_size += len(chunk)
            if self.pending_size > MAX_PENDING:
                self.down.pause_reading("pending")
        elif self.chunked:
            conn.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        else:
            conn.transport.write(chunk)

    def end_body(self) -> None:
        self.body_done = True
        if self.tee is not None:
            self.tee.request_done()
        conn = self.conn
        if self.chunked and conn is not None and conn.transport is not None and not self.done:
            conn.transport.write(b"0\r\n\r\n")

    # -- response side --------------------------------------------------------------------
    def response_head(self, response: Response, upstream_keep_alive: bool, close_delimited: bool) -> None:
        ex = self.ex
        ex.status = response.status
        self.head_sent = True
        self.response = response
        self.body_allowed = not bodiless(ex.method, response.status)
        self.close_delimited = close_delimited and self.body_allowed
        if self.flow.journal_responses:  # kept for a snapshot: the head now, the body as it comes
            ex.response = Captured(response.status, (response.reason or b"").decode("latin-1"),
                                   recorded_fields(response))
        plan = self.plan
        watch = ex.watch
        if self.tee is not None or (plan is not None and plan.reshapes_body and self.body_allowed) \
                or (watch is not None and watch.holds_response):
            if self.tee is not None:
                self.tee.response_head()
            if plan is not None and plan.delay_response:
                self.release_at = self.down.loop.time() + plan.delay_response
            self.buffered = []
            return self._head_done(upstream_keep_alive)
        if watch is not None:  # a monitored contract checks it at its end
            watch.stream_head(response)
        if plan is not None:
            self.sink = Shaper(self.down, plan, self.pause, self.resume)
            self.sink.send_head(ex, response)
        else:
            self.down.send_head(ex, response)
        self._head_done(upstream_keep_alive)

    def _head_done(self, upstream_keep_alive: bool) -> None:
        if not self.body_allowed and self.ex.method == "HEAD":
            # llhttp cannot be told the response was to HEAD: finish here, fresh parser next time
            assert self.conn is not None
            self.conn.reset_parser()
            self.response_complete(upstream_keep_alive)

    def response_body(self, data: bytes) -> None:
        if not self.body_allowed or self.done:
            return
        captured = self.ex.response
        if captured is not None:
            captured.add(data, self.flow.journal_responses)
        if self.buffered is not None:
            self.buffered.append(data)
            self.buffered_size += len(data)
            limit = self.flow.settings.max_body_bytes
            if self.buffered_size > limit:
                self.upstream_failed(UpstreamError(
                    502, "response-too-large",
                    "recording, a dribble, truncate or corrupt fault, or a monitored contract's header or enforcement "
                    "holds the whole response, and it is over "
                    f"{limit} bytes (--max-body-bytes)"))
            return
        if self.ex.watch is not None:
            self.ex.watch.capture(data, self.flow.settings.max_body_bytes)
        self.sink.send_body(data)

    def flush(self) -> None:
        """The end of an upstream read: what it produced goes down in one write (a response that
        completed in it is out already)."""
        if self.buffered is None and not self.done:
            self.sink.flush()

    def response_complete(self, upstream_keep_alive: bool) -> None:
        if self.done:
            return
        self.done = True
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.call = None
            if self.paused and conn.transport is not None:  # a held or paced response is still going
                conn.transport.resume_reading()  # down, but this connection is done with it
                self.paused = False
            if upstream_keep_alive and self.body_done and not conn.closed:
                conn.pool.release(conn)
            else:
                conn.close()
        ex, response = self.ex, self.response
        assert response is not None
        if self.buffered is not None:  # recorded, and/or reshaped as a whole, then delivered
            if self.body_allowed:
                response.body = b"".join(self.buffered)
                response.length = len(response.body)
            else:
                response.body = b""
            if self.tee is not None:  # held here: the loop keeps only a weak reference to a task
                self.saving = asyncio.ensure_future(self._record_then_deliver(response))
            else:
                self._deliver(response)
        else:
            if ex.watch is not None:
                ex.watch.streamed()
            if self.sink is not self.down:
                self.sink.end(ex, lambda: self.flow.complete(ex))
            else:
                self.flow.complete(ex)

    async def _record_then_deliver(self, response: Response) -> None:
        """The exchange is on disk before the client has its response (crash-safe recording)."""
        assert self.tee is not None
        await self.tee.save(self.ex, response, recorded_fields(response))
        self._deliver(response)

    def _deliver(self, response: Response) -> None:
        wait = self.release_at - self.down.loop.time() if self.release_at else 0.0
        if wait > 0:
            self.ex.pending = after(self.down.loop, wait, self._delivered, response)
        else:
            self.flow.deliver(self.ex, response)

    def _delivered(self, response: Response) -> None:
        self.ex.pending = None
        self.flow.deliver(self.ex, response)

    # -- failures -------------------------------------------------------------------------
    def upstream_lost(self, exc: BaseException | None) -> None:
        if self.done:
            return
        conn = self.conn
        if not self.got_bytes and conn is not None and conn.reused and self.retryable:
            # the pooled connection was closed by the upstream while idle: try a fresh one
            self.retryable = False
            self.conn = None
            self._connect()
            return
        if self.head_sent and self.close_delimited:  # no length, no chunks: the close is the end
            self.response_complete(False)
            return
        if exc is None:  # a FIN: the upstream closed on purpose, mid-response
            self.upstream_failed(UpstreamError(
                502, "upstream-closed",
                f"{self.target.pool.origin} closed the connection before the response was complete"))
        else:  # an RST, or another socket error
            self.upstream_failed(UpstreamError(
                502, "upstream-reset", f"{self.target.pool.origin} reset the connection: {exc}"))

    def upstream_failed(self, err: UpstreamError) -> None:
        if self.done:
            return
        self.done = True
        self._drop_connection()
        ex = self.ex
        ex.error = err.cause
        if self.head_sent and self.buffered is None:  # part of a response is out: cut it, the only signal left
            self.sink.flush()
            self.flow.cut(ex)
            return
        ex.action = "error"
        ex.keep_alive = ex.keep_alive and self.body_done
        headers = [("X-Stuntman-Error", err.cause)]
        if self.plan is not None:
            headers += [(n.decode(), v.decode()) for n, v in self.plan.headers]
        self.flow.respond_now(ex, Response.text(err.status, f"stuntman: {err.detail}\n", headers=headers))

    def cancel(self) -> None:
        """The client went away."""
        if self.done:
            return
        self.done = True
        self._drop_connection()

    def _drop_connection(self) -> None:
        """Close the upstream connection: a half-used one can't go back to the pool."""
        if self.conn is not None:
            self.conn.call = None
            self.conn.close()
            self.conn = None

    def pause(self) -> None:
        if self.conn is not None and self.conn.transport is not None and not self.paused:
            self.paused = True
            self.conn.transport.pause_reading()

    def resume(self) -> None:
        if self.conn is not None and self.conn.transport is not None and self.paused:
            self.paused = False
            self.conn.transport.resume_reading()
