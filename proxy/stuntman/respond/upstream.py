"""The `respond: upstream` stage: forward an exchange to a real upstream, streaming both ways.

An `UpstreamTarget` is the compiled `proxy:` of a route (or the global `--upstream`). Each origin
has a `Pool` of keep-alive `UpstreamConnection`s (asyncio Protocols with llhttp's response
parser). A `ProxyCall` joins one client exchange to one upstream connection: request body chunks
flow up as they arrive, response chunks flow down as they arrive, and each side's write buffer
pauses the other side's reads, so a 1 GB body never sits in memory.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from time import monotonic
from urllib.parse import urlsplit

import httptools

from ..faults.delivery import Pacer, after
from ..http1.wire import HOP_BY_HOP, connection_line, simple_response, status_line

log = logging.getLogger("stuntman")
_NO_BODY_STATUS = (204, 304)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
MAX_PENDING = 256 * 1024  # request bytes held while the upstream connection is being set up


class UpstreamError(Exception):
    """Why an upstream gave no usable response: `cause` goes to X-Stuntman-Error."""

    def __init__(self, status: int, cause: str, detail: str):
        super().__init__(detail)
        self.status, self.cause, self.detail = status, cause, detail


class Pool:
    """Idle keep-alive connections to one origin (scheme, host, port)."""

    def __init__(self, scheme: str, host: str, port: int, settings):
        self.scheme, self.host, self.port = scheme, host, port
        self.settings = settings
        self.idle: list[UpstreamConnection] = []
        self.ssl_context = _tls_context(settings) if scheme == "https" else None

    def take_idle(self) -> UpstreamConnection | None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        if conn.closed:
            return
        if len(self.idle) >= self.settings.pool_max_idle:
            conn.close()
            return
        conn.call = None
        self.idle.append(conn)

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port, ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context else None),
                self.settings.connect_timeout)
        except asyncio.TimeoutError:
            raise UpstreamError(504, "upstream-connect-timeout",
                                f"no connection to {self.origin} within {self.settings.connect_timeout:g} s") from None
        except ConnectionRefusedError:
            raise UpstreamError(502, "upstream-refused", f"{self.origin} refused the connection") from None
        except socket.gaierror as exc:
            raise UpstreamError(502, "upstream-dns", f"cannot resolve {self.host}: {exc.strerror}") from None
        except ssl.SSLError as exc:
            raise UpstreamError(502, "upstream-tls", f"TLS with {self.origin} failed: {exc}") from None
        except OSError as exc:
            raise UpstreamError(502, "upstream-unreachable", f"cannot connect to {self.origin}: {exc}") from None
        return conn

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


def _tls_context(settings) -> ssl.SSLContext:
    """Verify upstream certificates (system store or --upstream-ca) unless told not to."""
    ctx = ssl.create_default_context(cafile=str(settings.upstream_ca) if settings.upstream_ca else None)
    if settings.insecure_upstream:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class UpstreamTarget:
    """A compiled `proxy:` action."""

    kind = "proxy"
    needs_body = False

    def __init__(self, url: str, pools: dict, settings, *, preserve_host: bool | None = None,
                 timeout_ms: int | None = None, strip_prefix: str | None = None, record: str | None = None):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, parts.hostname, port)
        if key not in pools:
            pools[key] = Pool(scheme, parts.hostname, port, settings)
        self.pool: Pool = pools[key]
        self.base_path = parts.path.rstrip("/").encode()
        default_port = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
        self.host_header = (parts.hostname if default_port else f"{parts.hostname}:{port}").encode()
        self.preserve_host = settings.preserve_host if preserve_host is None else preserve_host
        self.timeout = timeout_ms / 1000 if timeout_ms else settings.upstream_timeout
        self.strip_prefix = strip_prefix.encode() if strip_prefix else b""
        self.url = url
        self.record = record  # the recording every exchange goes to (a name under --recordings)

    def request_head(self, ex, chunked: bool) -> bytes:
        path = ex.path.encode("latin-1")
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix):] or b"/"
            if not path.startswith(b"/"):
                path = b"/" + path
        target = self.base_path + path
        if ex.query_string:
            target += b"?" + ex.query_string.encode("latin-1")
        out = [ex.method.encode() + b" " + target + b" HTTP/1.1\r\n"]
        host = xff = listed = None
        has_proto = has_xhost = False
        for name, value in ex.raw_headers:
            lname = name.lower()
            if lname not in _REQUEST_SPECIAL:
                out += (name, b": ", value, b"\r\n")
            elif lname == b"connection":
                listed = _listed(value, listed)
            elif lname == b"host":
                host = value
            elif lname == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif lname == b"x-forwarded-proto":
                has_proto = True
                out += (name, b": ", value, b"\r\n")
            elif lname == b"x-forwarded-host":
                has_xhost = True
                out += (name, b": ", value, b"\r\n")
            elif lname == b"content-length" and not chunked:
                out += (name, b": ", value, b"\r\n")
            # else: hop-by-hop, Expect (answered by stuntman), a length replaced by chunking
        if listed:
            out = _without(out, 1, listed)
        out.append(b"host: " + (host if self.preserve_host and host else self.host_header) + b"\r\n")
        client = ex.client.encode()
        out.append(b"x-forwarded-for: " + (xff + b", " + client if xff else client) + b"\r\n")
        if not has_proto:
            out.append(b"x-forwarded-proto: http\r\n")
        if not has_xhost and host:
            out.append(b"x-forwarded-host: " + host + b"\r\n")
        if chunked:
            out.append(b"transfer-encoding: chunked\r\n")
        out.append(b"\r\n")
        return b"".join(out)


_REQUEST_SPECIAL = HOP_BY_HOP | {b"expect", b"host", b"x-forwarded-for", b"x-forwarded-proto",
                                 b"x-forwarded-host", b"content-length"}
_RESPONSE_SPECIAL = HOP_BY_HOP | {b"content-length"}


def _listed(value: bytes, names: set | None) -> set | None:
    """Add the field names a Connection header declares hop-by-hop (RFC 9110 §7.6.1)."""
    for token in value.split(b","):
        token = token.strip().lower()
        if token and token != b"keep-alive" and token != b"close":
            names = names or set()
            names.add(token)
    return names


def _fields(parts: list) -> list[tuple[bytes, bytes]]:
    """(name, ': ', value, CRLF) groups as (name, value) pairs."""
    return [(parts[i], parts[i + 2]) for i in range(0, len(parts), 4)]


def _without(parts: list, start: int, names: set) -> list:
    """parts[start:] are (name, ': ', value, CRLF) groups: drop those whose name is in names."""
    kept = parts[:start]
    for i in range(start, len(parts), 4):
        if parts[i].lower() not in names:
            kept += parts[i:i + 4]
    return kept


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream; reports parsed response events to its current ProxyCall."""

    def __init__(self, pool: Pool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.call: ProxyCall | None = None
        self.closed = False
        self.reused = False
        self.parser = httptools.HttpResponseParser(self)
        self.loop = asyncio.get_running_loop()
        # response-head deadline: one lazily re-armed timer per connection, not one per request
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.call is not None:
            self.call.upstream_lost(exc)

    def expect_head_within(self, seconds: float) -> None:
        loop = self.loop
        self.deadline = deadline = loop.time() + seconds
        if self.timer is None or deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = deadline
            self.timer = loop.call_at(deadline, self._watchdog)

    def _watchdog(self) -> None:
        self.timer = None
        call = self.call
        if call is None or call.head_sent or self.closed:
            return  # nothing is waiting for a response head
        now = self.loop.time()
        if now < self.deadline:
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self._watchdog)
            return
        call.upstream_failed(UpstreamError(
            504, "upstream-timeout",
            f"{self.pool.origin} did not answer within {call.timeout:g} s"))

    def data_received(self, data: bytes) -> None:
        call = self.call
        if call is None:  # unsolicited bytes on an idle connection: it is unusable
            self.close()
            return
        call.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.call is not None:
                self.call.upstream_failed(UpstreamError(
                    502, "upstream-bad-response", f"invalid HTTP from upstream: {exc}"))
            self.close()
            return
        call.flush()  # everything this read produced goes to the client in one write

    def pause_writing(self) -> None:
        if self.call is not None:
            self.call.client.pause_reading("upstream")

    def resume_writing(self) -> None:
        if self.call is not None:
            self.call.client.resume_reading("upstream")

    # llhttp callbacks
    def on_status(self, reason: bytes) -> None:
        self.call.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        call = self.call
        lname = name.lower()
        if lname not in _RESPONSE_SPECIAL:
            call.head_parts += (name, b": ", value, b"\r\n")
        elif lname == b"content-length":
            call.has_length = True
            call.head_parts += (name, b": ", value, b"\r\n")
        elif lname == b"connection":
            call.listed = _listed(value, call.listed)
        # else: hop-by-hop, dropped

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (103 Early Hints...): dropped
            self.call.reset_response()
            return
        self.call.response_head(status, self.parser.should_keep_alive())

    def on_body(self, data: bytes) -> None:
        self.call.response_body(data)

    def on_message_complete(self) -> None:
        if self.call is not None and self.call.head_sent:
            self.call.response_complete(self.parser.should_keep_alive())

    def reset_parser(self) -> None:
        self.parser = httptools.HttpResponseParser(self)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Captured:
    """A proxied response as the journal keeps it for snapshots: whole, or marked truncated."""

    __slots__ = ("status", "reason", "headers", "chunks", "size", "truncated")

    def __init__(self, status: int, reason: str, headers: list[tuple[bytes, bytes]]):
        self.status, self.reason, self.headers = status, reason, headers
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes, limit: int) -> None:
        if self.size + len(data) > limit:
            self.truncated = True
            self.chunks.clear()  # useless for a snapshot: let it go
        elif not self.truncated:
            self.chunks.append(data)
        self.size += len(data)


class ProxyCall:
    """One exchange forwarded upstream. `client` is the listener's connection object."""

    def __init__(self, client, ex, target: UpstreamTarget):
        self.client = client
        self.ex = ex
        self.target = target
        self.conn: UpstreamConnection | None = None
        self.chunked = ex.has_body and ex.header("content-length") is None
        self.head = target.request_head(ex, self.chunked)
        self.pending: list[bytes] = []  # request body held until connected
        self.pending_size = 0
        self.body_done = not ex.has_body
        # a request that may have met a stale pooled connection is retried once (RFC 9110 §9.2.2)
        self.retryable = not ex.has_body and ex.method in _IDEMPOTENT
        self.got_bytes = False
        self.head_sent = False
        self.done = False
        self.out: list[bytes] = []  # response bytes for the client, written by flush()
        plan = self.plan = ex.plan  # faults that shape this response (None: the plain fast path)
        self.timeout = target.timeout
        self.holding = False        # a response-stage delay: nothing reaches the client yet
        self.held_end = None        # response_complete's argument, while holding
        self.pacer = None           # bandwidth: the body streams through it
        self.buffered: list[bytes] | None = None  # dribble/truncate/corrupt: the whole body first
        self.buffered_size = 0
        if plan is not None and plan.upstream_timeout is not None:
            self.timeout = plan.upstream_timeout
        # recording: the whole exchange is kept, written, then the response goes out
        self.recorder = client.server.recorder(target.record) if target.record else None
        self.request_body: list[bytes] = []
        self.request_read = asyncio.Event() if self.recorder is not None else None  # the whole request is in
        self.head_at = 0.0
        self.reset_response()

    def reset_response(self) -> None:
        self.reason = b""
        self.head_parts: list[bytes] = []  # (name, ': ', value, CRLF) groups, filtered
        self.has_length = False
        self.listed: set | None = None
        self.response_chunked = False
        self.response_body_allowed = True

    # -- request side ---------------------------------------------------------------------
    def start(self) -> None:
        conn = self.target.pool.take_idle()
        if conn is not None:
            conn.reused = True
            self._attach(conn)
        else:
            self._connect()

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
        self.client.resume_reading("pending")
        conn.transport.write(b"".join(out))
        conn.expect_head_within(self.timeout)

    def _frame(self, chunk: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk

    def feed(self, chunk: bytes) -> None:
        """A piece of the client's request body."""
        if self.recorder is not None:  # (even once answered: an upstream may answer before reading it)
            self.request_body.append(chunk)
        if self.done:
            return
        if self.conn is None:
            self.pending.append(chunk)
            self.pending_size += len(chunk)
            if self.pending_size > MAX_PENDING:
                self.client.pause_reading("pending")
        elif self.chunked:
            self.conn.transport.writelines((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        else:
            self.conn.transport.write(chunk)

    def end_body(self) -> None:
        self.body_done = True
        if self.request_read is not None:
            self.request_read.set()
        if self.chunked and self.conn is not None and not self.done:
            self.conn.transport.write(b"0\r\n\r\n")

    # -- response side --------------------------------------------------------------------
    def response_head(self, status: int, upstream_keep_alive: bool) -> None:
        ex = self.ex
        ex.status = status
        self.head_sent = True
        parts = self.head_parts
        if self.listed:
            parts = _without(parts, 0, self.listed)
        no_body = ex.method == "HEAD" or status in _NO_BODY_STATUS or status < 200
        self.response_body_allowed = not no_body
        framing = b""
        if not no_body and not self.has_length:
            if ex.version == "1.1":
                self.response_chunked = True
                framing = b"transfer-encoding: chunked\r\n"
            else:
                ex.keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        if self.client.server.journal_responses:  # kept for a snapshot: the head now, the body as it comes
            ex.response = Captured(status, self.reason.decode("latin-1"),
                                   _fields(parts))
        if self.plan is not None or self.recorder is not None:
            framing = self._shape_response(parts, framing, no_body)
        self.out += (status_line(status, self.reason or None), b"".join(parts), framing,
                     connection_line(ex.keep_alive, ex.version), b"\r\n")
        if self.pacer is not None and not self.holding:  # the head unthrottled, the body paced
            self.client.write(b"".join(self.out))
            self.out.clear()
        if no_body and ex.method == "HEAD":
            # llhttp cannot be told the response was to HEAD: finish here, fresh parser next time
            self.conn.reset_parser()
            self.response_complete(upstream_keep_alive)

    def _shape_response(self, parts: list, framing: bytes, no_body: bool) -> bytes:
        """Faults on a proxied response: its header, a delay, a throttle, or buffering it whole
        for a fault that needs the whole body. Returns the framing header to use."""
        plan, ex = self.plan, self.ex
        if self.recorder is not None:
            self.head_at = monotonic()
            self.recorded_head = _fields(parts)
        if plan is not None and plan.delay_response:
            self.holding = True
            self.pause_upstream()
            ex.pending = after(self.client.loop, plan.delay_response, self._release)
        if self.recorder is not None or plan.reshapes_body and not no_body:
            self.buffered = []
            self.response_chunked = False
            if not no_body:
                parts[:] = _without(parts, 0, {b"content-length"})  # the buffered body gets its own
            return b""
        if plan.header is not None:
            parts.append(plan.header)
        if plan.rate is not None and not no_body:
            self.pacer = Pacer(self.client, plan.rate, max(1, plan.rate // 20),
                               pause=self.pause_upstream, resume=self.resume_upstream)
        return framing

    def _release(self) -> None:
        """The response-stage delay is over: let the response through."""
        self.ex.pending = None
        self.holding = False
        self.resume_upstream()
        if self.pacer is not None and self.out:  # the head (and what came with it) unthrottled
            self.client.write(b"".join(self.out))
            self.out.clear()
        if self.held_end is not None:
            self.response_complete(self.held_end)
        else:
            self.flush()

    def response_body(self, data: bytes) -> None:
        if not self.response_body_allowed or self.done:
            return
        captured = self.ex.response
        if captured is not None:
            captured.add(data, self.client.server.journal_responses)
        if self.buffered is not None:
            self.buffered.append(data)
            self.buffered_size += len(data)
            if self.buffered_size > self.client.settings.max_body_bytes:
                self.upstream_failed(UpstreamError(
                    502, "response-too-large",
                    "recording, or a dribble, truncate or corrupt fault, holds the whole response, and it is over "
                    f"{self.client.settings.max_body_bytes} bytes (--max-body-bytes)"))
            return
        if self.response_chunked:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def flush(self) -> None:
        out = self.out
        if out and not self.holding and self.buffered is None:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            if self.pacer is not None:
                self.pacer.push(data)
            else:
                self.client.write(data)

    def response_complete(self, upstream_keep_alive: bool) -> None:
        if self.done:
            return
        if self.holding:  # finish when the delay is over
            self.held_end = upstream_keep_alive
            return
        if self.response_chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()  # before response_done: the next pipelined answer must come after this one
        self.done = True
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.call = None
            if upstream_keep_alive and self.body_done and not conn.closed:
                conn.pool.release(conn)
            else:
                conn.close()
        ex = self.ex
        if self.buffered is not None:  # recorded, and/or reshaped as a whole, then delivered
            body = b"".join(self.buffered)
            head = b"".join(self.out)
            self.out.clear()
            data = head[:-2] + b"content-length: %d\r\n\r\n" % len(body) + body if self.response_body_allowed else head
            if self.recorder is not None:
                asyncio.ensure_future(self._record_then_deliver(body, data))
            else:
                self.client.deliver(ex, data)
        elif self.pacer is not None:
            ex.pending = self.pacer
            self.pacer.finish(lambda: self._paced(ex))
        else:
            self.client.response_done(ex)

    async def _record_then_deliver(self, body: bytes, data: bytes) -> None:
        """The exchange is on disk before the client has its response (crash-safe recording)."""
        ex, now = self.ex, monotonic()
        if not self.body_done:  # the upstream answered before the request was all in: record all of it
            try:
                await asyncio.wait_for(self.request_read.wait(), self.client.settings.body_timeout)
            except asyncio.TimeoutError:
                pass  # recorded with what arrived; the listener's body timeout deals with the client
        entry, side = self.recorder.exchange(
            ex, self.target.url, b"".join(self.request_body), ex.status, self.reason.decode("latin-1"),
            self.recorded_head, body, self.head_at - ex.started, now - ex.started)
        try:
            await self.recorder.save(entry, side)
        except OSError as exc:  # the response still goes out; the failure is said, and logged
            log.error("recording %s: cannot write %s: %s", self.target.record, entry["file"], exc)
            ex.error = "record-failed"
        self.client.deliver(ex, data)

    def _paced(self, ex) -> None:
        ex.pending = None
        self.client.response_done(ex)

    # -- failures -------------------------------------------------------------------------
    def upstream_lost(self, exc) -> None:
        if self.done:
            return
        conn = self.conn
        if not self.got_bytes and conn is not None and conn.reused and self.retryable:
            # the pooled connection was closed by the upstream while idle: try a fresh one
            self.retryable = False
            self.conn = None
            self._connect()
            return
        if self.head_sent and not self.response_chunked and not self.has_length:
            # close-delimited body (no length, HTTP/1.0 client): the close is the end
            self.response_complete(False)
            return
        self.upstream_failed(UpstreamError(
            502, "upstream-reset",
            f"{self.target.pool.origin} closed the connection before the response was complete"))

    def upstream_failed(self, err: UpstreamError) -> None:
        if self.done:
            return
        self.done = True
        self._drop_connection()
        ex = self.ex
        ex.error = err.cause
        if self.head_sent and self.buffered is None:  # part of a response is out: cut it, the only signal left
            self.flush()
            self.client.abort()
            return
        ex.status = err.status
        ex.action = "error"
        ex.keep_alive = ex.keep_alive and self.body_done
        headers = [("X-Stuntman-Error", err.cause)]
        if self.plan is not None and self.plan.header is not None:
            headers.append(("X-Stuntman-Fault", self.plan.header.split(b": ", 1)[1].strip().decode()))
        self.client.write(simple_response(
            err.status, f"stuntman: {err.detail}\n", headers=headers,
            keep_alive=ex.keep_alive, version=ex.version, head_only=ex.method == "HEAD"))
        self.client.response_done(ex)

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

    def pause_upstream(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.pause_reading()

    def resume_upstream(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.resume_reading()
