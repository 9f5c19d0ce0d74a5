"""An HTTP/1.1 connection: an asyncio Protocol over llhttp (httptools) callbacks.

One `HTTP1Connection` per client connection: framing, limits, pipelining and timers, nothing
else. It turns each request into an `Exchange` for the pipeline (which decides everything) and is
the pipeline's `Downstream`: it turns `Response`s back into HTTP/1.1 bytes.

Requests are answered strictly in order (pipelining): the one at the head of the line is
`active`; later ones wait in `waiting`, and reading pauses while they do. The parser enforces
framing (no Content-Length together with Transfer-Encoding, valid chunk sizes); this class adds
size limits and the timers that keep slow or idle clients from holding the server.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections import deque

import httptools

from ..exchange import Exchange
from ..response import Response, bodiless
from .head import METHODS, VERSIONLESS, VERSIONS, Rejected, check_hosts, other_version, versionless
from .wire import BROKEN_CHUNK, BROKEN_TAIL, connection_line, date_cache, head_prefix, header_fields, simple_response

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LINGER_ZERO = struct.pack("ii", 1, 0)  # close() then sends RST, not FIN
RAW_KEEP_BYTES = 16384  # a read larger than this is not kept for the journal (bodies are cut)
log = logging.getLogger("stuntman")


class HTTP1Connection(asyncio.Protocol):
    __slots__ = (
        "server", "settings", "parser", "transport", "peer", "reading", "active", "waiting",
        "url", "header_bytes", "in_head", "paused_for", "closed", "timer", "timer_at", "rejected",
        "waiting_for", "since", "loop",
        "advancing", "advance_again", "heads_seen", "header_size", "chunk", "chunk_requests",
        "pipeline", "timeouts", "out", "answered", "body_allowed", "chunked", "broken", "trailers",
    )

    def __init__(self, server):
        self.server = server
        self.settings = server.settings
        self.pipeline = server.pipeline
        self.timeouts = server.timeouts  # deadlines by what the connection waits for
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # until connection_made
        self.peer = ""
        # being parsed: None between requests (llhttp calls the message callbacks only inside one)
        self.reading: Exchange = None  # type: ignore[assignment]
        self.active: Exchange | None = None    # being answered
        self.waiting: deque[Exchange] = deque()
        self.url: list[bytes] = []
        self.header_bytes = 0
        self.in_head = True                    # between requests or inside a request head
        self.paused_for: set[str] = set()
        self.closed = False
        self.loop = server.loop
        # One lazily re-armed timer per connection instead of one per request: `waiting_for`
        # says which deadline applies ("idle", "head", "linger", or None while busy), `since`
        # when that wait began; _watchdog checks and re-arms.
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.waiting_for: str | None = "idle"
        self.since = 0.0
        self.rejected: bytes | None = None     # a final error answer queued behind `waiting`
        self.advancing = False
        self.advance_again = False
        self.heads_seen = 0                    # request heads completed (for the head-size cap)
        self.header_size = 0                   # bytes of header fields in the current head
        self.chunk: bytes | None = None        # the current read, if requests may keep it
        self.chunk_requests = 0                # requests begun in it
        # the response being written (Downstream): bytes held until flush, and how its body is framed
        self.out: list[bytes] = []
        self.answered = False                  # a response (or its head) went out for `active`
        self.body_allowed = True
        self.chunked = False
        self.broken = False                    # a corrupt fault's broken framing
        self.trailers: list[tuple[bytes, bytes]] | None = None

    # -- transport events -----------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.server.connections.add(self)
        self._wait("idle")

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._stop_timer()
        self.server.connections.discard(self)
        if self.active is not None:
            self.pipeline.client_gone(self.active)

    def data_received(self, data: bytes) -> None:
        if self.closed or self.rejected is not None:
            return
        was_in_head, heads = self.in_head, self.heads_seen
        # requests that begin and end in this read can keep `data` for the journal
        self.chunk = data if self.reading is None and len(data) <= RAW_KEEP_BYTES else None
        self.chunk_requests = 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._upgrade_requested()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, Rejected):
                self._reject(cause.status, cause.message)
            else:
                self._fail(cause or exc)
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed request: {exc}")
        else:
            # llhttp holds a partial header line without bound: cap a head that keeps growing
            if self.in_head and was_in_head and heads == self.heads_seen:
                if self.reading is not None and self.url and versionless(self.parser, data):
                    self._reject(400, VERSIONLESS)  # HTTP/0.9: refused as soon as its line ends
                    return
                self.header_bytes += len(data)
                if self.header_bytes > self.settings.max_header_bytes:
                    self._reject(431, f"request head larger than {self.settings.max_header_bytes} bytes")
            else:
                self.header_bytes = 0

    def pause_writing(self) -> None:
        self.pause_reading("write")
        if self.active is not None and self.active.call is not None:
            self.active.call.pause()

    def resume_writing(self) -> None:
        self.resume_reading("write")
        if self.active is not None and self.active.call is not None:
            self.active.call.resume()

    def pause_reading(self, reason: str) -> None:
        if not self.paused_for and not self.closed:
            self.transport.pause_reading()
        self.paused_for.add(reason)

    def resume_reading(self, reason: str) -> None:
        if reason in self.paused_for:
            self.paused_for.discard(reason)
            if not self.paused_for and not self.closed:
                self.transport.resume_reading()

    # -- llhttp callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.reading = ex = Exchange()
        ex.down = self
        if self.chunk is not None:
            ex.raw = self.chunk
            ex.reparse = header_fields
            ex.raw_index = self.chunk_requests
            self.chunk_requests += 1
        self.url = []
        self.header_size = 0
        if self.active is None:  # the head must now arrive within header_timeout (slowloris)
            self._wait("head")

    def on_url(self, url: bytes) -> None:
        self.url.append(url)
        if len(self.url) > 1 and sum(map(len, self.url)) > self.settings.max_url_bytes \
                or len(url) > self.settings.max_url_bytes:
            raise Rejected(414, f"request-target longer than {self.settings.max_url_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.reading.raw_headers
        headers.append((name, value))
        self.header_size += len(name) + len(value) + 4
        if len(headers) > self.settings.max_headers:
            raise Rejected(431, f"more than {self.settings.max_headers} header fields")
        if self.header_size > self.settings.max_header_bytes:
            raise Rejected(431, f"request head larger than {self.settings.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        ex = self.reading
        parser = self.parser
        method = parser.get_method()
        ex.method = METHODS.get(method) or method.decode()
        if ex.method == "CONNECT":
            raise Rejected(501, "CONNECT (forward proxying) is not supported on this port")
        version = parser.get_http_version()
        ex.version = VERSIONS.get(version) or other_version(version)
        ex.keep_alive = parser.should_keep_alive() and not self.server.draining
        ex.client = self.peer
        ex.set_target(b"".join(self.url) if len(self.url) != 1 else self.url[0])
        hosts = 0
        for name, value in ex.raw_headers:
            n = len(name)
            if n == 4 and name.lower() == b"host":
                hosts += 1
            elif n == 14 and name.lower() == b"content-length":  # (llhttp checked it: digits)
                ex.declared_length = length = int(value) if value.strip() else 0
                ex.has_body = length > 0
            elif n == 12 and name.lower() == b"content-type":
                text = value.decode("latin-1")
                ex.content_type = text if ex.content_type is None else f"{ex.content_type}, {text}"
            elif n == 17 and name.lower() == b"transfer-encoding":
                ex.has_body = True
            elif n == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
                ex.expect_continue = True
        if hosts != 1:
            check_hosts(hosts, ex.version)
        ex.body = [] if ex.has_body else None
        self.in_head = False
        self.header_bytes = 0
        self.heads_seen += 1
        if self.active is None:
            self._begin(ex)
        else:
            self.waiting.append(ex)
            self.pause_reading("pipeline")

    def on_body(self, data: bytes) -> None:
        if self.waiting_for == "body":
            self.since = self.loop.time()  # the body timeout is between reads, not for the whole body
        self.pipeline.request_body(self.reading, data)

    def on_message_complete(self) -> None:
        ex = self.reading
        self.reading = None  # type: ignore[assignment]
        self.in_head = True
        ex.complete = True
        if ex.raw is not self.chunk:  # it spanned reads
            ex.raw = None
        if self.waiting_for == "body":
            self.waiting_for = None
        if ex is self.active:
            if ex.phase == "done":
                self._advance()
            else:
                self.pipeline.request_complete(ex)

    # -- the line of requests -------------------------------------------------------------
    def _begin(self, ex: Exchange) -> None:
        """ex is now at the head of the line: the pipeline takes it from here."""
        self.active = ex
        self.answered = False
        if ex.has_body and not ex.complete:
            self._wait("body")  # a body that stops arriving must not hold the connection
        else:
            self.waiting_for = None
        if ex.expect_continue and not ex.complete:
            self.transport.write(CONTINUE)
        self.pipeline.begin(ex)

    def response_done(self, ex: Exchange) -> None:
        """The whole response is written; move on once the request is fully read too.

        Closing with unread request bytes would make the kernel send RST, which can destroy the
        response before the client reads it: the rest of the body is read and dropped first
        (bounded by linger_timeout).
        """
        ex.phase = "done"
        ex.call = None
        if ex.complete:
            self._advance()
        elif not ex.keep_alive:
            self._wait("linger")

    def _advance(self) -> None:
        """Close, or start the next waiting request (a loop, not recursion: pipelines can be long)."""
        if self.advancing:
            self.advance_again = True
            return
        self.advancing = True
        try:
            while True:
                self.advance_again = False
                done = self.active
                self.active = None
                if done is not None and not done.keep_alive:
                    return self._close()
                if self.waiting:
                    ex = self.waiting.popleft()
                    if not self.waiting:
                        self.resume_reading("pipeline")
                    self._begin(ex)
                elif self.rejected is not None:
                    self.transport.write(self.rejected)
                    return self._close()
                elif self.server.draining and self.reading is None:
                    return self._close()
                else:
                    if self.reading is None:
                        self._wait("idle")
                    elif self.in_head:  # the next head began while we were busy: time it now
                        self._wait("head")
                if not self.advance_again:
                    return
        finally:
            self.advancing = False

    def drain(self) -> None:
        """The server is stopping: close now if idle, else after the answers in flight."""
        if self.active is None and not self.waiting and self.reading is None:
            return self._close()
        for ex in (self.active, *self.waiting):
            if ex is not None and ex.phase != "done":
                ex.keep_alive = False  # "Connection: close" on answers not yet begun

    # -- Downstream: the pipeline's responses, as HTTP/1.1 bytes ----------------------------
    def send(self, ex: Exchange, response: Response) -> None:
        """A whole response in one write; a static one is rendered once and kept (response.cache)."""
        if self.closed:
            return
        self.answered = True
        cache = response.cache
        if cache is not None:
            prefix = cache.get("http1")
            if prefix is None:
                prefix = cache["http1"] = head_prefix(response)
        else:
            prefix = head_prefix(response)
        end = date_cache.end(ex.keep_alive, ex.version) if response.dated else \
            connection_line(ex.keep_alive, ex.version) + b"\r\n"
        body = response.body
        if ex.method == "HEAD" or not body:
            data = prefix + end
        elif response.broken_framing:
            data = prefix + end + BROKEN_CHUNK + body + BROKEN_TAIL
        else:
            data = prefix + end + body
        if self.out:
            self.out.append(data)
            return self.flush()
        self.transport.write(data)

    def send_head(self, ex: Exchange, response: Response) -> None:
        if self.closed:
            return
        self.answered = True
        self.body_allowed = not bodiless(ex.method, response.status)
        self.chunked = False
        framing = b""
        if response.length is None and self.body_allowed and not response.broken_framing:
            if ex.version == "1.1":
                self.chunked = True
                framing = b"transfer-encoding: chunked\r\n"
            else:
                ex.keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        if response.dated:
            end = date_cache.end(ex.keep_alive, ex.version)
        elif ex.keep_alive and ex.version == "1.1":  # most answers: no Connection field
            end = b"\r\n"
        else:
            end = connection_line(ex.keep_alive, ex.version) + b"\r\n"
        self.out += (head_prefix(response), framing, end)
        if response.broken_framing and self.body_allowed:
            self.out.append(BROKEN_CHUNK)
            self.broken = True

    def send_body(self, data: bytes) -> None:
        if not self.body_allowed or not data:
            return
        if self.chunked:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def send_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        """Kept for the last chunk; a response with a Content-Length has no place for them."""
        self.trailers = trailers

    def flush(self) -> None:
        out = self.out
        if out:
            if not self.closed:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def end(self, ex: Exchange) -> None:
        if self.chunked:
            self.chunked = False
            if self.trailers:
                self.out.append(b"0\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in self.trailers) + b"\r\n")
            else:
                self.out.append(b"0\r\n\r\n")
        if self.trailers is not None:
            self.trailers = None
        if self.out:
            self.flush()
        self.response_done(ex)

    def abort(self, ex: Exchange, reset: bool = False) -> None:
        """Cut the exchange: what is out stays out, then FIN (close) or RST (reset: SO_LINGER 0)."""
        if self.broken:  # a broken-framing body ends as it began, then the close
            self.out.append(BROKEN_TAIL)
        self.flush()
        self.active = None
        if reset and not self.closed:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                except OSError:
                    pass
            self.closed = True
            self._stop_timer()
            self.transport.abort()
        else:
            self._close()

    # -- errors and timers ----------------------------------------------------------------
    def _reject(self, status: int, message: str) -> None:
        """Answer status after what is already in line, then close (the stream is unusable)."""
        self.pause_reading("rejected")
        self.rejected = simple_response(status, f"stuntman: {message}\n", keep_alive=False)
        active = self.active
        if active is not None and self.reading is active:
            # the bad bytes are in the body of the request being answered: it can never complete
            self.pipeline.cancel(active)
            self.active = None
            if self.answered:  # a response (or part of one) is out: closing is the only signal left
                return self._close()
        if self.active is None:
            self.transport.write(self.rejected)
            self._close()

    def _fail(self, exc: BaseException) -> None:
        """A bug of ours surfaced in a callback: answer 500 if nothing was sent yet, and close."""
        log.error("internal error on a connection from %s", self.peer, exc_info=exc)
        ex = self.active
        answered = ex is not None and self.answered
        if ex is not None:
            self.pipeline.cancel(ex)
        if not answered:
            self.transport.write(simple_response(500, f"stuntman: internal error: {exc!r}\n", keep_alive=False))
        self.active = None
        self._close()

    def _upgrade_requested(self) -> None:
        """Protocol upgrades (WebSocket) are not tunnelled yet: answer the request, then close."""
        self.pause_reading("upgrade")
        last = self.waiting[-1] if self.waiting else self.active
        if last is None:
            self._close()
        else:
            last.keep_alive = False

    def _wait(self, what: str) -> None:
        """Start waiting for `what`; arm the timer sooner if this deadline is nearer."""
        self.waiting_for = what
        self.since = now = self.loop.time()
        deadline = now + self.timeouts[what]
        if self.timer is None or deadline < self.timer_at:
            self._arm(deadline)

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._watchdog)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _watchdog(self) -> None:
        self.timer = None
        if self.closed:
            return
        what = self.waiting_for
        now = self.loop.time()
        if what is None:  # busy: look again later
            return self._arm(now + self.timeouts[None])
        deadline = self.since + self.timeouts[what]
        if now < deadline:
            return self._arm(deadline)
        if what == "head":
            self._reject(408, f"request head not received within {self.settings.header_timeout:g} s")
        elif what == "body":
            self._reject(408, f"request body stalled: nothing received for {self.settings.body_timeout:g} s")
        else:  # idle, or done lingering over an unread body
            self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stop_timer()
            self.transport.close()
