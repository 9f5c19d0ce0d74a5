"""The HTTP/1.1 listener: an asyncio Protocol over llhttp (httptools) callbacks.

One `HTTP1Connection` per client connection. Requests are answered strictly in order
(pipelining): the one at the head of the line is `active`; later ones wait in `waiting`, and
reading pauses while they do. The parser enforces framing (no Content-Length together with
Transfer-Encoding, valid chunk sizes); this class adds size limits and the timers that keep slow
or idle clients from holding the server.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections import deque

import httptools

from ..exchange import Exchange
from ..faults.delivery import Pacer, after, reshape, split
from ..faults.plan import decide
from ..match.nearmiss import nearest, report_json, report_text
from ..match.routes import match
from ..respond.upstream import ProxyCall
from .wire import simple_response

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LINGER_ZERO = struct.pack("ii", 1, 0)  # close() then sends RST, not FIN
# one shared str per common method and version, not a fresh one per request (and per journal entry)
METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")}
VERSIONS = {v: v for v in ("1.1", "1.0")}
RAW_KEEP_BYTES = 16384  # a read larger than this is not kept for the journal (bodies are cut)
log = logging.getLogger("stuntman")


def _needs_body(ex: Exchange) -> bool:
    """Does a route that could take ex (method and path hold) need its body to decide or answer?"""
    for route in ex.candidates:
        if route.needs_body and (route.methods is None or ex.method in route.methods) \
                and route.path_params(ex.path) is not None:
            return True
    return False


class Rejected(Exception):
    """Raised from a parser callback: answer `status` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _Forever:
    """The pending step of a hang without for_ms: nothing to cancel."""

    @staticmethod
    def cancel() -> None:
        pass


class HTTP1Connection(asyncio.Protocol):
    __slots__ = (
        "server", "settings", "parser", "transport", "peer", "reading", "active", "waiting",
        "url", "header_bytes", "in_head", "paused_for", "closed", "timer", "timer_at", "rejected",
        "waiting_for", "since", "loop",
        "advancing", "advance_again", "heads_seen", "header_size", "chunk", "chunk_requests",
    )

    def __init__(self, server):
        self.server = server
        self.settings = server.settings
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.reading: Exchange | None = None   # being parsed
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
        ex = self.active
        if ex is not None:
            if ex.call is not None:
                ex.call.cancel()
            if ex.pending is not None:  # a delay, a hang, a paced body: the client left first
                ex.pending.cancel()
                ex.pending = None
                if self.server.recording:
                    self.server.record(ex)

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
                self._fail(cause)
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed request: {exc}")
        else:
            # llhttp holds a partial header line without bound: cap a head that keeps growing
            if self.in_head and was_in_head and heads == self.heads_seen:
                self.header_bytes += len(data)
                if self.header_bytes > self.settings.max_header_bytes:
                    self._reject(431, f"request head larger than {self.settings.max_header_bytes} bytes")
            else:
                self.header_bytes = 0

    def pause_writing(self) -> None:
        self.pause_reading("write")
        if self.active is not None and self.active.call is not None:
            self.active.call.pause_upstream()

    def resume_writing(self) -> None:
        self.resume_reading("write")
        if self.active is not None and self.active.call is not None:
            self.active.call.resume_upstream()

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
        if self.chunk is not None:
            ex.raw = self.chunk
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
        ex.version = VERSIONS.get(version, version)
        ex.keep_alive = parser.should_keep_alive() and not self.server.draining
        ex.client = self.peer
        ex.set_target(b"".join(self.url) if len(self.url) != 1 else self.url[0])
        for name, value in ex.raw_headers:
            n = len(name)
            if n == 14 and name.lower() == b"content-length":
                ex.has_body = value.strip() not in (b"0", b"")
            elif n == 17 and name.lower() == b"transfer-encoding":
                ex.has_body = True
            elif n == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
                ex.expect_continue = True
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
        ex = self.reading
        if self.waiting_for == "body":
            self.since = self.loop.time()  # the body timeout is between reads, not for the whole body
        if ex.phase == "done":  # answered already (an early 413, an error): read and drop the rest
            ex.body_size += len(data)
            return
        if ex.call is not None:  # streaming upstream: keep only what the journal shows
            ex.call.feed(data)
            kept = self.server.journal_body_bytes - ex.body_size
            if kept > 0:
                ex.body.append(data[:kept])
            ex.body_size += len(data)
            return
        ex.body_size += len(data)
        if ex.body_size > self.settings.max_body_bytes:
            ex.too_large = True
            ex.body = None  # stop holding it; the route decides between 413 and not caring
        elif ex.body is not None:
            ex.body.append(data)

    def on_message_complete(self) -> None:
        ex = self.reading
        self.reading = None
        self.in_head = True
        ex.complete = True
        if ex.raw is not self.chunk:  # it spanned reads
            ex.raw = None
        if self.waiting_for == "body":
            self.waiting_for = None
        if ex.call is not None:
            ex.call.end_body()
        if ex is self.active:
            if ex.phase == "route":
                self._route(ex)
            elif ex.phase == "stub":
                self._answer_stub(ex)
            elif ex.phase == "done":
                self._advance()

    # -- the pipeline ---------------------------------------------------------------------
    def _begin(self, ex: Exchange) -> None:
        """ex is now at the head of the line: match it, then respond."""
        self.active = ex
        if ex.has_body and not ex.complete:
            self._wait("body")  # a body that stops arriving must not hold the connection
        else:
            self.waiting_for = None
        if ex.expect_continue and not ex.complete:
            self.transport.write(CONTINUE)
        table = self.server.table  # read once: the exchange sees one table even across a reload
        ex.candidates = table.candidates(ex.path)
        if table.any_needs_body and _needs_body(ex):
            if ex.too_large:
                return self._too_large(ex)
            if not ex.complete:
                ex.phase = "route"  # matching needs the body: _route runs at message complete
                return
        self._route(ex)

    def _too_large(self, ex: Exchange) -> None:
        ex.keep_alive = False
        self._respond_now(ex, simple_response(
            413, f"stuntman: request body over {self.settings.max_body_bytes} bytes; "
                 "this route needs the body to match or render it\n",
            keep_alive=False, version=ex.version))

    def _route(self, ex: Exchange) -> None:
        server = self.server
        if ex.too_large and _needs_body(ex):
            return self._too_large(ex)
        route = match(ex, server.state, ex.candidates)
        ex.route = route
        rules = server.table.faults
        if rules.active:  # the faults stage: decide now, carry out as the response is made
            faults = rules.for_request(ex, route, server.state)
            if faults:
                ex.plan = plan = decide(faults, ex, server.fault_state.counters, server.state.session(ex))
                if plan is not None and plan.answer is not None:
                    ex.action = "fault"
                    ex.phase = "stub"  # answered by the fault, once the request is read
                    if ex.complete:
                        self._answer_stub(ex)
                    return
        if route is not None and route.action.kind == "replay":  # a recording's own routes decide
            replay = route.action
            inner = replay.match(ex, server.state)
            if inner is not None:
                ex.route = route = inner
            elif replay.upstream is None:
                return self._not_found(ex)
        if route is not None and route.action.kind == "stub":
            ex.action = "stub"
            ex.phase = "stub"
            if ex.complete:
                self._answer_stub(ex)
            return
        target = route.action if route is not None else server.default_upstream
        if target is not None and target.kind == "replay":
            target = target.upstream  # spy: not recorded, so it goes upstream
        if target is None:
            return self._not_found(ex)
        ex.action = "proxy"
        ex.phase = "proxy"
        if ex.too_large:  # its start was dropped while it waited in line
            ex.keep_alive = False
            return self._respond_now(ex, simple_response(
                413, "stuntman: request body too large to forward\n", keep_alive=False, version=ex.version))
        call = ProxyCall(self, ex, target)
        ex.call = call
        if ex.body:
            for chunk in ex.body:
                call.feed(chunk)
        elif ex.has_body:
            ex.body = []  # for the journal's copy of what streams through
        if ex.complete:
            call.end_body()
        plan = ex.plan
        if plan is not None and plan.delay_request:
            ex.pending = after(self.loop, plan.delay_request, self._start_call, ex)
        else:
            call.start()

    def _start_call(self, ex: Exchange) -> None:
        ex.pending = None
        if not self.closed and ex.call is not None:
            ex.call.start()

    def _answer_stub(self, ex: Exchange) -> None:
        plan = ex.plan
        if plan is not None:
            return self._answer_with_faults(ex, plan)
        try:
            data = ex.route.action.respond(ex, self.server.state)
        except Exception as exc:  # a template that fails on this request's data: say so
            data = self._render_failed(ex, exc)
        self.transport.write(data)
        self.response_done(ex)

    def _render_failed(self, ex: Exchange, exc: Exception) -> bytes:
        log.exception("stub %s failed to render for %s", ex.route.label, ex.describe())
        ex.keep_alive = False
        return simple_response(500, f"stuntman: stub {ex.route.label} failed to render: {exc!r}\n",
                               keep_alive=False, version=ex.version)

    # -- faults on a stub, or a fault's own answer ----------------------------------------
    def _answer_with_faults(self, ex: Exchange, plan, ready: bytes | None = None) -> None:
        ex.pending = None
        if self.closed:
            return
        if plan.delay:  # both stages: nothing goes upstream, so the answer waits
            delay, plan.delay_request, plan.delay_response = plan.delay, 0.0, 0.0
            ex.pending = after(self.loop, delay, self._answer_with_faults, ex, plan, ready)
            return
        answer = plan.answer
        if ready is not None and answer is None:
            data = ready
        elif answer is None:
            try:
                data = ex.route.action.respond(ex, self.server.state)
            except Exception as exc:
                data = self._render_failed(ex, exc)
        elif answer.type == "error":
            ex.status = answer.status
            data = simple_response(answer.status, answer.body, headers=answer.headers, keep_alive=ex.keep_alive,
                                   version=ex.version, head_only=ex.method == "HEAD")
        elif answer.type == "hang":  # until the client gives up (connection_lost), or for_ms then close
            if answer.seconds is not None:
                ex.pending = after(self.loop, answer.seconds, self._hung_up, ex)
            else:
                ex.pending = _Forever
            return
        else:
            return self._cut(ex, reset=answer.type == "reset")
        self.deliver(ex, data)

    def deliver(self, ex: Exchange, data: bytes) -> None:
        """Write a whole response the faults reshape or pace (a stub's, a fault's, or a buffered
        upstream one), then finish the exchange."""
        plan = ex.plan
        if plan is None or not (plan.reshapes_body or plan.rate):  # nothing to reshape or pace
            if plan is not None and plan.header is not None:  # right after the status line
                at = data.find(b"\r\n") + 2
                data = data[:at] + plan.header + data[at:]
            if ex.status == 0:
                ex.status = int(data[9:12])
            self.write(data)
            return self.response_done(ex)
        head, body = split(data)
        head, body, close = reshape(head, body, plan, ex.method == "HEAD")
        if ex.status == 0:
            ex.status = int(head[9:12])
        pacer = Pacer.for_plan(self, plan, len(body))
        if pacer is None:
            self.transport.write(head + body)
            return self._delivered(ex, close)
        self.transport.write(head)
        ex.pending = pacer
        pacer.push(body)
        pacer.finish(lambda: self._delivered(ex, close))

    def _delivered(self, ex: Exchange, close: bool) -> None:
        ex.pending = None
        if close:  # truncated or unframeable: the close is the only end the client gets
            ex.keep_alive = False
            self.abort()
        else:
            self.response_done(ex)

    def _hung_up(self, ex: Exchange) -> None:
        ex.pending = None
        self.abort()

    def _cut(self, ex: Exchange, reset: bool) -> None:
        """No response at all: FIN (close), or RST (reset: SO_LINGER 0, then close)."""
        if self.server.recording:
            self.server.record(ex)
        self.active = None
        if reset:
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

    def _not_found(self, ex: Exchange) -> None:
        near = nearest(self.server.table, ex, self.server.state)
        wants_json = "json" in (ex.headers.get("accept") or "")
        body = report_json(ex, near) if wants_json else report_text(ex, near)
        ex.status = 404
        data = simple_response(
            404, body, headers=[("X-Stuntman-Match", "none")],
            content_type="application/json" if wants_json else "text/plain; charset=utf-8",
            keep_alive=ex.keep_alive, version=ex.version, head_only=ex.method == "HEAD")
        if ex.plan is not None:  # global faults apply to unmatched requests too
            return self._answer_with_faults(ex, ex.plan, data)
        self._respond_now(ex, data)

    def _respond_now(self, ex: Exchange, data: bytes) -> None:
        if ex.status == 0:
            ex.status = int(data[9:12])
        self.transport.write(data)
        self.response_done(ex)

    def response_done(self, ex: Exchange) -> None:
        """The whole response is written; move on once the request is fully read too.

        Closing with unread request bytes would make the kernel send RST, which can destroy the
        response before the client reads it: the rest of the body is read and dropped first
        (bounded by linger_timeout).
        """
        ex.phase = "done"
        ex.call = None
        if self.server.recording:
            self.server.record(ex)
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

    # -- writes used by ProxyCall ---------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def writelines(self, parts) -> None:
        if not self.closed:
            self.transport.writelines(parts)

    def abort(self) -> None:
        """Cut a response that cannot be completed: the client sees a truncated message."""
        if self.active is not None and self.server.recording:
            self.server.record(self.active)
        self.active = None
        self._close()

    # -- errors and timers ----------------------------------------------------------------
    def _reject(self, status: int, message: str) -> None:
        """Answer status after what is already in line, then close (the stream is unusable)."""
        self.pause_reading("rejected")
        self.rejected = simple_response(status, f"stuntman: {message}\n", keep_alive=False)
        active = self.active
        if active is not None and self.reading is active:
            # the bad bytes are in the body of the request being answered: it can never complete
            call = active.call
            answered = call.head_sent if call is not None else active.phase == "done"
            if call is not None:
                call.cancel()
            self.active = None
            if answered:  # a response (or part of one) is out: closing is the only signal left
                return self._close()
        if self.active is None:
            self.transport.write(self.rejected)
            self._close()

    def _fail(self, exc: BaseException) -> None:
        """A bug of ours surfaced in a callback: answer 500 if nothing was sent yet, and close."""
        log.error("internal error on a connection from %s", self.peer, exc_info=exc)
        ex = self.active
        answered = ex is not None and (ex.phase == "done" or (ex.call is not None and ex.call.head_sent))
        if ex is not None and ex.call is not None:
            ex.call.cancel()
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
        deadline = now + self._timeout(what)
        if self.timer is None or deadline < self.timer_at:
            self._arm(deadline)

    def _timeout(self, what: str | None) -> float:
        return self.server.timeouts[what]

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
            return self._arm(now + self._timeout(None))
        deadline = self.since + self._timeout(what)
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
