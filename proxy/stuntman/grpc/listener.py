"""The gRPC listener: a grpc.aio server (h2c) on --grpc-port whose one generic handler takes
every call, whatever its service, method or kind, as raw bytes.

Each call becomes an Exchange (call.py) that goes through the pipeline's stages as an HTTP request
does: matched against the gRPC routes (`request.grpc`, metadata as headers), its faults decided by
the same `decide() → Plan` and carried out here in gRPC's terms (answer.py), then answered: by its
stub's messages and status, else passed through to its route's upstream or --grpc-upstream, else
with a message made from the method's output type when --proto knows it, else UNIMPLEMENTED
naming the nearest methods. The pipeline finishes it however it ends (answered, failed,
cancelled, past its deadline): journaled, counted, its limits' places given back. Health and
reflection (services.py) take their own calls first.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from ..match.routes import match, match_each
from ..proto.messages import NOT_A_MESSAGE
from ..respond.grpc import GrpcStub
from .answer import Aborted, CallDown, Ending
from .answers import converse, generated_answer, nearest_methods, not_matched, stub_answer
from .call import Inbound, Outbound, Replies, TooMuch, call_exchange
from .learn import Learned
from .proxy import GrpcUpstream
from .services import builtin_handlers

if TYPE_CHECKING:
    from ..body import BodyView
    from ..exchange import Exchange
    from ..faults.plan import Plan
    from ..match.routes import Route
    from ..proto.protoset import Method, ProtoSet
    from ..server import Server

log = logging.getLogger("stuntman.grpc")


class GrpcListener:
    def __init__(self, server: Server):
        self.server = server
        self.upstreams: dict[str, GrpcUpstream] = {}  # by target: --grpc-upstream and the routes'
        self.port = 0
        self._server: aio.Server | None = None
        # bytes of each call's messages kept each way (the journal's; a recording raises it), and
        # what is told of each call once it is over (a recording)
        self.keep = server.journal_body_bytes
        self.finished: list[Callable[[Exchange], Awaitable[None] | None]] = []
        self.learned: Learned | None = None  # --grpc-upstream-reflection: made on first use

    async def start(self) -> None:
        settings = self.server.settings
        limit = settings.max_body_bytes  # (a message, like a request body, is held whole)
        self._server = aio.server(options=[("grpc.max_receive_message_length", limit),
                                           ("grpc.max_send_message_length", limit),
                                           # (a client's calls beyond it wait: HTTP/2 flow, not errors)
                                           ("grpc.max_concurrent_streams", settings.grpc_max_streams),
                                           ("grpc.so_reuseport", 0)])
        self._server.add_generic_rpc_handlers([*builtin_handlers(self), _Handler(self)])
        host = settings.grpc_host or settings.host
        address = f"[{host}]:{settings.grpc_port}" if ":" in host else f"{host}:{settings.grpc_port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:  # (grpcio: "Failed to bind to address ...")
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
        await self._server.start()

    async def close(self, grace: float | None = None) -> None:
        """Stop: calls in flight get `grace` seconds to end (None: cancelled now). Once only."""
        server, self._server = self._server, None
        if server is None:
            return
        await server.stop(grace)
        if self.learned is not None:
            await self.learned.close()
        for upstream in self.upstreams.values():
            await upstream.close()

    def _upstream(self, route: Any) -> GrpcUpstream | None:
        """The route's upstream, else --grpc-upstream; a channel per target, kept."""
        settings = self.server.settings
        target = getattr(route.action, "upstream", None) if route is not None else None
        target = target or settings.grpc_upstream
        if target is None:
            return None
        upstream = self.upstreams.get(target)
        if upstream is None:
            upstream = self.upstreams[target] = GrpcUpstream(target, settings.grpc_upstream_ca,
                                                             settings.max_body_bytes)
        return upstream

    def known(self, method: str, ask: bool = False) -> tuple[Method | None, ProtoSet | None]:
        """The method as --proto has it, else as the upstream's reflection told (ask: ask it, the
        first time, when --grpc-upstream-reflection is on), and the descriptors that read it."""
        protos = self.server.table.protos
        found = protos.methods.get(method) if protos is not None else None
        if found is not None:
            return found, protos
        settings = self.server.settings
        if self.learned is None and ask and settings.grpc_upstream_reflection and settings.grpc_upstream:
            upstream = self._upstream(None)
            assert upstream is not None
            self.learned = Learned(upstream)
        if self.learned is not None:
            learned = self.learned.methods.get(method) if not ask else self.learned.method(method)
            if learned is not None:
                return learned
        return None, protos

    async def handle(self, method: str, requests: AsyncIterator[bytes] | bytes, context: aio.ServicerContext,
                     replies: Replies) -> None:
        """One call (requests: its messages, or a unary method's one): routed (by its messages'
        fields too, when routes ask), its faults decided and carried out, then answered; finished
        by the pipeline however it ends."""
        server = self.server
        pipeline, table = server.pipeline, server.table
        ex = call_exchange(method, context.invocation_metadata() or (), context.peer(), self.keep)
        ex.status = 200  # (HTTP's: a gRPC call's own status is ex.grpc.code)
        outcome = ex.grpc
        outcome.method, outcome.protos = known, protos = self.known(method, ask=True)
        inbound, out = Inbound(ex, requests), Outbound(ex, replies)
        try:
            candidates = table.grpc_candidates(ex.path)
            ex.route = route = await self._route(ex, known, candidates, inbound)
            plan = pipeline.decide_faults(ex, route)
            ending = await _carry_out(ex, plan) if plan is not None else None
            if ending is not None:
                ex.action = "fault"
                return outcome.end(context, ending.code, ending.details, ending.trailers)
            answer = route.action if route is not None else None
            if isinstance(answer, GrpcStub):
                ex.action = "stub"
                if known is not None and known.client_streaming and known.server_streaming:
                    assert protos is not None
                    await converse(ex, answer, candidates, pipeline.state, _viewer(protos, known), inbound,
                                   context, out)
                else:
                    await stub_answer(ex, answer, inbound, context, out)
            else:
                await self._pass_or_stand_in(ex, route, candidates, inbound, context, out)
            if plan is not None and plan.abort is not None:  # fewer messages came than it lets through
                raise Aborted.by(plan.abort)
        except Aborted as exc:
            outcome.end(context, exc.ending.code, exc.ending.details, exc.ending.trailers)
        except TooMuch as exc:
            ex.action, ex.error = "error", "request messages too large"
            outcome.end(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except asyncio.CancelledError:  # the client cancelled, or its deadline passed
            remaining = context.time_remaining()
            outcome.code = grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 \
                else grpc.StatusCode.CANCELLED
            raise
        except Exception:
            log.exception("gRPC call %s failed", method)
            ex.action, ex.error = "error", "stuntman error"
            outcome.end(context, grpc.StatusCode.INTERNAL, "stuntman: internal error")
        finally:
            if ex.pending is not None:  # a queue's place, a hang's timer
                ex.pending.cancel()
                ex.pending = None
            if ex.action == "proxy" and outcome.code is grpc.StatusCode.UNAVAILABLE and not outcome.responses:
                ex.action, ex.error = "error", "grpc upstream unavailable"
            ex.complete = True
            pipeline.finish(ex)
            for finished in self.finished:  # (a recording: its file is written before the status goes)
                writing = finished(ex)
                if writing is not None:
                    with contextlib.suppress(Exception):  # (its own callback says what failed)
                        await asyncio.shield(writing)

    async def _route(self, ex: Exchange, known: Method | None, candidates: list[Route],
                     inbound: Inbound) -> Route | None:
        """The route of the call. When the method's descriptors are loaded and a route (or a
        fault) matches on message fields, messages are read first: a unary or server-streaming
        call's one, a client stream's every one (a route must accept each), a bidirectional
        stream's first (the rest are routed as they come, by `converse`); a bidi stream's first
        is read too when a stub may answer it. Otherwise the call is routed on its metadata."""
        state = self.server.pipeline.state
        if known is None:
            return match(ex, state, candidates)
        table = self.server.table
        reads = table.grpc_reads and (table.faults.needs_body or any(
            route.needs_body or route.action.needs_body for route in candidates))  # (a stub's templates)
        if not reads and not (known.client_streaming and (  # (a bidi stream a stub answers: its first too)
                known.server_streaming and any(isinstance(route.action, GrpcStub) for route in candidates))):
            return match(ex, state, candidates)
        protos = ex.grpc.protos
        assert protos is not None
        view = _viewer(protos, known)
        limit = self.server.settings.max_body_bytes
        if known.client_streaming and not known.server_streaming:
            read = await inbound.read_ahead(None, limit)
            return match_each(ex, state, candidates, [view(message) for message in read])
        first = await inbound.read_ahead(1, limit)
        ex.see_body_as(view(first[0]) if first else NOT_A_MESSAGE)
        return match(ex, state, candidates)

    async def _pass_or_stand_in(self, ex: Exchange, route: Route | None, candidates: list[Route],
                                inbound: Inbound, context: aio.ServicerContext, out: Outbound) -> None:
        """Passed through to the route's upstream or --grpc-upstream; else, with no upstream,
        NOT_FOUND when stubs answer the method but none matched, an answer made from the method's
        descriptor when --proto knows it, UNIMPLEMENTED naming the nearest methods otherwise."""
        server, outcome = self.server, ex.grpc
        upstream = self._upstream(route)
        if upstream is not None:
            ex.action = "proxy"
            await upstream.forward(ex, inbound, context, out)
            return
        stubs = [candidate for candidate in candidates if isinstance(candidate.action, GrpcStub)]
        if route is None and stubs:
            return not_matched(ex, stubs, server.pipeline.state, context)
        known = outcome.method
        if known is not None:
            ex.action = "stub"
            assert outcome.protos is not None
            await generated_answer(ex, known, outcome.protos, server.seed, inbound, context, out)
            return
        ex.action, ex.error = "none", "no gRPC upstream"
        outcome.end(context, grpc.StatusCode.UNIMPLEMENTED,
                    f"stuntman: no stub or upstream for {ex.path}{nearest_methods(server.table, ex.path)}")


async def _carry_out(ex: Exchange, plan: Plan) -> Ending | None:
    """A plan's waits (a concurrency limit's queue, then its delays) and its answer, if any: how
    the call ends (None: it goes on, upstream). The call's Downstream is made here, for the calls
    a fault touches: what a fault's answer needs of it."""
    ex.down = down = CallDown(asyncio.get_running_loop())
    if plan.queue is not None:
        admitted: asyncio.Future[None] = down.loop.create_future()

        def let_in(_: Any) -> None:
            if not admitted.done():
                admitted.set_result(None)
        ex.pending = plan.queue.wait(ex, let_in)
        await admitted
        ex.pending, plan.queue = None, None
    if plan.delay:
        await asyncio.sleep(plan.delay)
    if plan.answer is None:
        return None
    plan.answer.answer(ex, down)  # an error delivers at once; a hang waits (for_ms, or the deadline)
    return await down.ending


def _viewer(protos: ProtoSet, method: Method) -> Callable[[bytes], BodyView]:
    """A request message of method → what its routes' body matchers read (its JSON)."""
    from ..proto.messages import message_view

    return lambda data: message_view(protos, method.input, data)


class _Single:
    """The answer of a unary method: its one message (a second one is a mistake, and dropped)."""

    __slots__ = ("message",)

    def __init__(self) -> None:
        self.message: bytes | None = None

    async def write(self, message: bytes) -> None:
        if self.message is None:
            self.message = message


class _Handler(grpc.GenericRpcHandler):
    """Every method: a stream of bytes each way, or, for a method --proto says is unary, one
    message each way (grpc.aio's unary handler costs much less than its stream handler)."""

    def __init__(self, listener: GrpcListener):
        self.listener = listener
        # grpc.aio asks for every call: the handler of each method, made once per set of protos
        # (and of services learned from the upstream)
        self._made: dict[str, grpc.RpcMethodHandler] = {}
        self._seen: tuple[Any, int] = (None, 0)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method  # type: ignore[attr-defined]
        listener = self.listener
        seen = (listener.server.table.protos, listener.learned.generation if listener.learned is not None else 0)
        if seen != self._seen:  # (a reload, or a service learned: kinds may have changed)
            self._made.clear()
            self._seen = seen
        made = self._made.get(method)
        if made is None:
            if len(self._made) >= 4096:  # (unknown methods are any string a client sends)
                self._made.clear()
            made = self._made[method] = self._make(method)
        return made

    def _make(self, method: str) -> grpc.RpcMethodHandler:
        handle = self.listener.handle
        known = self.listener.known(method)[0]
        if known is not None and not known.client_streaming and not known.server_streaming:
            async def unary(request: bytes, context: aio.ServicerContext) -> bytes | None:
                single = _Single()
                await handle(method, request, context, single)
                return single.message  # (None with an error status: no message is sent)
            return grpc.unary_unary_rpc_method_handler(unary)

        async def call(requests: AsyncIterator[bytes], context: aio.ServicerContext) -> None:
            await handle(method, requests, context, context)
        return grpc.stream_stream_rpc_method_handler(call)
