"""The pipeline every protocol feeds: match → faults → respond → finish.

A protocol builds an `Exchange` (with its `Downstream` in `ex.down`) and calls `begin` once the
request head is in and the exchange is at the head of its line, then `request_body` and
`request_complete` as the body arrives, and `client_gone` if the client leaves. From there the
pipeline decides: which route matches, which faults fire (`decide() → Plan`), which response
source answers; and it carries the decision out through the Downstream, in `Response`s and body
bytes, never in a protocol's bytes. Every exchange ends through `complete` or `cut`, and both
call `finish` (journal and metrics), the one place that happens.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from time import monotonic
from typing import TYPE_CHECKING

from .faults.enact import Pacer, after, reshape, with_headers
from .faults.plan import Plan, decide
from .match.nearmiss import nearest, report_json, report_text
from .match.routes import match
from .response import Headers, Response

if TYPE_CHECKING:
    from .exchange import Exchange
    from .match.routes import Route
    from .respond.responder import Responder
    from .server import Server

log = logging.getLogger("stuntman")
_ANSWERS = frozenset(("stub", "proxy"))  # the responses a monitored contract judges (not stuntman's own)


def needs_body(ex: Exchange) -> bool:
    """Does a route that could take ex (method and path hold) need its body to decide or answer?"""
    for route in ex.candidates:
        if route.needs_body and (route.methods is None or ex.method in route.methods) \
                and route.path_params(ex.path) is not None:
            return True
    return False


class Pipeline:
    """One per server. Reads the server's current route table once per exchange, so a request
    sees one table even across a reload."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.settings = server.settings
        self.state = server.state
        self.counters = server.fault_state.counters  # (cleared in place by a reset, never replaced)
        self.session_of = server.state.session       # (one bound method, not one per request)
        self.journal_responses = server.journal_responses  # bytes of a proxied response kept, or 0
        self.journal, self.metrics = server.journal, server.metrics
        self.finishing = server.recording  # a journal or metrics to tell

    # -- what a protocol calls --------------------------------------------------------------
    def begin(self, ex: Exchange) -> None:
        """ex's head is in and it is next to be answered: match it, then respond."""
        table = self.server.table
        ex.candidates = table.candidates(ex.path)
        if table.monitor is not None:  # a monitored contract: check ex against its operation
            ex.watch = watch = table.monitor.watch(ex)
            if watch is not None and watch.holds_request and not ex.complete and not ex.too_large \
                    and not self._declared_too_large(ex):
                ex.phase = "route"  # enforcing: the request is checked whole before it goes anywhere
                return
        # (a request with no body, or all of it in, can be matched now: route() handles too_large)
        if table.any_needs_body and (ex.too_large or ex.has_body and not ex.complete) and needs_body(ex):
            if ex.too_large or self._declared_too_large(ex):  # (not waiting for bytes it won't keep)
                return self.too_large(ex)
            ex.phase = "route"  # matching needs the body: route() runs when it is in
            return
        self.route(ex)

    def _declared_too_large(self, ex: Exchange) -> bool:
        """The request says its body is longer than --max-body-bytes (Content-Length)."""
        declared = ex.declared_length
        return declared is not None and declared > self.settings.max_body_bytes

    def request_body(self, ex: Exchange, data: bytes) -> None:
        """A piece of a request's body (of the exchange being answered, or of one waiting)."""
        if ex.phase == "done":  # answered already (an early 413, an error): read and drop the rest
            ex.body_size += len(data)
            return
        call = ex.call
        if call is not None:  # streaming upstream: keep only what the journal shows
            call.feed(data)
            if ex.watch is not None:  # (and what a monitored contract checks)
                ex.watch.feed(ex, data, self.settings.max_body_bytes)
            kept = self.server.journal_body_bytes - ex.body_size
            if kept > 0 and ex.body is not None:
                ex.body.append(data[:kept])
            ex.body_size += len(data)
            return
        ex.body_size += len(data)
        if ex.body_size > self.settings.max_body_bytes:
            ex.too_large = True
            ex.body = None  # stop holding it; the route decides between 413 and not caring
        elif ex.body is not None:
            ex.body.append(data)

    def request_complete(self, ex: Exchange) -> None:
        """The whole request of the exchange being answered is in."""
        if ex.call is not None:
            ex.call.end_body()
        if ex.phase == "route":
            self.route(ex)
        elif ex.phase == "answer":
            self.answer(ex)

    def client_gone(self, ex: Exchange) -> None:
        """The client left while ex was being answered."""
        if ex.call is not None:
            ex.call.cancel()
        if ex.leave is not None:  # places the faults' limits hold for it
            ex.left()
        if ex.pending is not None:  # a delay, a hang, a paced body, a queue: the client left first
            ex.pending.cancel()
            ex.pending = None
            self.finish(ex)

    def cancel(self, ex: Exchange) -> None:
        """The protocol gives up on ex (its request turned out malformed, or a bug of ours)."""
        if ex.call is not None:
            ex.call.cancel()
        if ex.leave is not None:  # places the faults' limits hold for it
            ex.left()
        if ex.pending is not None:  # a place in a queue (or a timer) for a request that will not go on
            ex.pending.cancel()
            ex.pending = None

    # -- deciding ---------------------------------------------------------------------------
    def route(self, ex: Exchange) -> None:
        if ex.too_large and needs_body(ex):
            return self.too_large(ex)
        watch = ex.watch
        if watch is not None and watch.holds_request:
            refused = watch.refuse(ex)
            if refused is not None:  # it breaks the contract: it goes nowhere
                ex.action, ex.error = "error", "contract-violation"
                return self.respond_now(ex, refused)
        route = match(ex, self.state, ex.candidates)
        ex.route = route
        # the faults stage, carried out as the response is made (no call at all when no fault exists)
        plan = self.decide_faults(ex, route) if self.server.table.faults.active else None
        if plan is not None:
            if plan.queue is not None:  # a concurrency limit: in line first, then on
                ex.phase = "queued"
                ex.pending = plan.queue.wait(ex, self._admitted)
                return
            if plan.answer is not None:
                ex.action = "fault"
                return self._when_read(ex)
        self._respond(ex, route)

    def decide_faults(self, ex: Exchange, route: Route | None) -> Plan | None:
        """The faults stage, for every protocol: which faults apply to ex (taken by route), and
        what those that fire will do (ex.plan too)."""
        rules = self.server.table.faults
        if not rules.active:
            return None
        faults = rules.fixed.get(route.id if route is not None else None)  # (most routes: made once)
        if faults is None:
            faults = rules.for_request(ex, route, self.state)
        if not faults:
            return None
        ex.plan = plan = decide(faults, ex, self.counters, self.session_of)
        return plan

    def _admitted(self, ex: Exchange) -> None:
        """Out of a queue: let in, or turned away (the plan's answer then says how)."""
        ex.pending = None
        plan = ex.plan
        assert plan is not None
        plan.queue = None
        if plan.answer is not None:
            ex.action = "fault"
            return self._when_read(ex)
        self._respond(ex, ex.route)

    def _respond(self, ex: Exchange, route: Route | None) -> None:
        """The response's source takes ex: a stub's when it is read, an upstream's at once."""
        state = self.state
        responder: Responder | None = route.action if route is not None else self.server.default_upstream
        if responder is not None and responder.delegates:
            responder = responder.resolve(ex, state)  # a replay picks one of its recorded routes
        if responder is None:
            return self.not_found(ex)
        ex.responder = responder
        ex.action = responder.action
        if responder.streams:
            ex.phase = "proxy"
            if ex.too_large:  # its start was dropped while it waited in line
                ex.keep_alive = False
                return self.respond_now(ex, Response.text(413, "stuntman: request body too large to forward\n"))
            responder.start(ex, self)
        elif responder.needs_body and ex.has_body and \
                (ex.too_large or not ex.complete and self._declared_too_large(ex)):
            self.too_large(ex)  # it answers with the body, and the body will not be kept
        else:
            self._when_read(ex)

    def _when_read(self, ex: Exchange) -> None:
        """A whole response: made once the request is read."""
        ex.phase = "answer"
        if ex.complete:
            self.answer(ex)

    def answer(self, ex: Exchange) -> None:
        """Make the whole response (the request is read) and carry out the plan on it."""
        if ex.too_large and ex.responder is not None and ex.responder.needs_body:  # its body was let go
            return self.too_large(ex)
        if ex.plan is not None:
            return self._answer_with_faults(ex, ex.plan)
        self.respond_now(ex, self._render(ex))

    def _render(self, ex: Exchange) -> Response:
        try:
            return ex.responder.respond(ex, self.state)
        except Exception as exc:  # a template that fails on this request's data: say so, and close
            log.exception("stub %s failed to render for %s", ex.route.label, ex.describe())
            ex.keep_alive = False
            return Response.text(500, f"stuntman: stub {ex.route.label} failed to render: {exc!r}\n")

    def _answer_with_faults(self, ex: Exchange, plan: Plan, ready: Response | None = None) -> None:
        """A whole response (a stub's, the near-miss 404 when `ready`) or a fault's own answer,
        after the plan's delays."""
        ex.pending = None
        down = ex.down
        if down.closed:
            return
        if plan.delay:  # both stages: nothing goes upstream, so the answer waits
            delay, plan.delay_request, plan.delay_response = plan.delay, 0.0, 0.0
            ex.pending = after(down.loop, delay, self._answer_with_faults, ex, plan, ready)
            return
        if plan.answer is not None:  # each answering kind carries itself out (faults/kinds/)
            return plan.answer.answer(ex, self)
        self.deliver(ex, ready if ready is not None else self._render(ex))

    def not_found(self, ex: Exchange) -> None:
        """No route, no upstream: 404 with the nearest stubs and what differed."""
        near = nearest(self.server.table, ex, self.state)
        wants_json = "json" in (ex.headers.get("accept") or "")
        response = Response.text(
            404, report_json(ex, near) if wants_json else report_text(ex, near),
            headers=[("X-Stuntman-Match", "none")],
            content_type="application/json" if wants_json else "text/plain; charset=utf-8")
        if ex.plan is not None:  # global faults apply to unmatched requests too
            return self._answer_with_faults(ex, ex.plan, response)
        self.respond_now(ex, response)

    def too_large(self, ex: Exchange) -> None:
        ex.keep_alive = False
        self.respond_now(ex, Response.text(
            413, f"stuntman: request body over {self.settings.max_body_bytes} bytes; "
                 "this route needs the body to match or render it\n"))

    # -- carrying it out --------------------------------------------------------------------
    def respond_now(self, ex: Exchange, response: Response) -> None:
        """A response, no faults: out, and done."""
        if ex.watch is not None and ex.action in _ANSWERS:  # a monitored contract's verdict on it
            response = ex.watch.whole(ex, response)
        ex.status = response.status
        if response.body is None:
            return self._stream(ex, response)
        ex.down.send(ex, response)
        self.complete(ex)

    def deliver(self, ex: Exchange, response: Response) -> None:
        """A whole response (a stub's, a fault's, a buffered upstream one) with the plan's fields,
        reshaping and pacing carried out, then the end of the exchange."""
        plan = ex.plan
        if plan is None:
            return self.respond_now(ex, response)
        if ex.watch is not None and ex.action in _ANSWERS:  # a monitored contract's verdict on it
            response = ex.watch.whole(ex, response)
        ex.status = response.status
        down = ex.down
        if response.body is None:  # a stream: the plan's fields, but not a body it has not got
            return self._stream(ex, with_headers(response, plan.headers) if plan.headers else response)
        if not (plan.reshapes_body or plan.rate):  # nothing to reshape or pace
            down.send(ex, with_headers(response, plan.headers) if plan.headers else response)
            return self.complete(ex)
        head_only = ex.method == "HEAD"
        response, close = reshape(response, plan, head_only)
        body = b"" if head_only else response.body or b""
        pacer = Pacer.for_plan(down, plan, len(body))
        if pacer is None:
            down.send(ex, response)
            return self.cut(ex) if close else self.complete(ex)
        down.send_head(ex, response)
        down.flush()
        ex.pending = pacer
        pacer.push(body)
        pacer.finish(lambda: self._paced(ex, close))

    def _stream(self, ex: Exchange, response: Response) -> None:
        """A response whose body a source produces as it goes (`response.stream`)."""
        down = ex.down
        down.send_head(ex, response)
        down.flush()
        if response.stream is None:  # nothing will come (a source's mistake): end it here
            return self.cut(ex)
        ex.pending = asyncio.ensure_future(self._pump(ex, response.stream, response.trailers))

    async def _pump(self, ex: Exchange, stream: AsyncIterator[bytes], trailers: Headers | None) -> None:
        down = ex.down
        try:
            async for chunk in stream:
                if down.closed:
                    return
                down.send_body(chunk)
                down.flush()
            if trailers:
                down.send_trailers(trailers)
        except Exception:  # the source failed mid-body: what is out stays out, then the cut
            log.exception("the body of %s failed mid-stream", ex.describe())
            ex.pending = None
            return self.cut(ex)
        ex.pending = None
        self.complete(ex)

    def _paced(self, ex: Exchange, close: bool) -> None:
        ex.pending = None
        if close:  # truncated or unframeable: the close is the only end the client gets
            ex.keep_alive = False
            self.cut(ex)
        else:
            self.complete(ex)

    def complete(self, ex: Exchange) -> None:
        """The response is all out."""
        down = ex.down
        self.finish(ex)
        down.end(ex)

    def cut(self, ex: Exchange, reset: bool = False) -> None:
        """End the exchange without (the rest of) a response: close, or reset."""
        if ex.pending is not None:
            ex.pending.cancel()
            ex.pending = None
        down = ex.down
        self.finish(ex)
        down.abort(ex, reset)

    # -- finish: the one place every exchange is journaled and counted ----------------------
    def finish(self, ex: Exchange) -> None:
        if ex.leave is not None:  # places the faults' limits hold for it
            ex.left()
        if not self.finishing or ex.ended:
            return
        ex.ended = monotonic()
        if ex.watch is not None:
            ex.watch.finish(ex)
        if self.journal is not None:
            self.journal.record(ex)
        if self.metrics is not None:
            self.metrics.observe(ex, ex.ended - ex.started)
