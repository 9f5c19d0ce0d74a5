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
import difflib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from google.protobuf.message import DecodeError
from grpc import aio

from ..match.routes import match
from ..proto.generate import generate
from ..respond.grpc import GrpcStub
from .answer import STATUS_BY_NUMBER, CallDown, Ending
from .call import call_exchange, received
from .proxy import GrpcUpstream
from .services import builtin_handlers

if TYPE_CHECKING:
    from ..exchange import Exchange
    from ..faults.plan import Plan
    from ..proto.protoset import Method, ProtoSet
    from ..server import Server

log = logging.getLogger("stuntman.grpc")


class GrpcListener:
    def __init__(self, server: Server):
        self.server = server
        self.upstreams: dict[str, GrpcUpstream] = {}  # by target: --grpc-upstream and the routes'
        self.port = 0
        self._server: aio.Server | None = None

    async def start(self) -> None:
        settings = self.server.settings
        limit = settings.max_body_bytes  # (a message, like a request body, is held whole)
        self._server = aio.server(options=[("grpc.max_receive_message_length", limit),
                                           ("grpc.max_send_message_length", limit),
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

    async def handle(self, method: str, requests: AsyncIterator[bytes], context: aio.ServicerContext,
                     replies: Replies) -> None:
        """One call: matched against the gRPC routes, its faults decided and carried out, then
        passed through (or ended by a fault's answer); finished by the pipeline however it ends."""
        server = self.server
        pipeline = server.pipeline
        ex = call_exchange(method, context.invocation_metadata() or (), context.peer())
        ex.status = 200  # (HTTP's: a gRPC call's own status is ex.grpc.code)
        outcome = ex.grpc
        try:
            ex.route = route = match(ex, pipeline.state, server.table.grpc_candidates(ex.path))
            plan = pipeline.decide_faults(ex, route)
            ending = await _carry_out(ex, plan) if plan is not None else None
            if ending is not None:
                ex.action = "fault"
                outcome.code, outcome.details = ending.code, ending.details
                context.set_trailing_metadata(tuple(ending.trailers))
                context.set_code(ending.code)
                context.set_details(ending.details)
                return
            answer = route.action if route is not None else None
            if isinstance(answer, GrpcStub):
                ex.action = "stub"
                await _stub_answer(ex, answer, requests, context, replies, server.settings.journal_body_bytes)
                return
            upstream = self._upstream(route)
            if upstream is None:
                protos = server.table.protos
                known = protos.methods.get(method) if protos is not None else None
                if known is not None:  # a .proto alone is a stand-in: an answer made from its descriptor
                    ex.action = "stub"
                    await _generated_answer(ex, known, protos, server.seed, requests, context, replies,
                                            server.settings.journal_body_bytes)
                    return
                ex.action, ex.error = "none", "no gRPC upstream"
                outcome.code = grpc.StatusCode.UNIMPLEMENTED
                outcome.details = f"stuntman: no stub or upstream for {method}{_nearest(server.table, method)}"
                context.set_code(outcome.code)
                context.set_details(outcome.details)
                return
            ex.action = "proxy"
            await upstream.forward(ex, requests, context, replies, server.settings.journal_body_bytes)
        except asyncio.CancelledError:  # the client cancelled, or its deadline passed
            remaining = context.time_remaining()
            outcome.code = grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 \
                else grpc.StatusCode.CANCELLED
            raise
        except Exception:
            log.exception("gRPC call %s failed", method)
            ex.action, ex.error = "error", "stuntman error"
            outcome.code, outcome.details = grpc.StatusCode.INTERNAL, "stuntman: internal error"
            context.set_code(outcome.code)
            context.set_details(outcome.details)
        finally:
            if ex.pending is not None:  # a queue's place, a hang's timer
                ex.pending.cancel()
                ex.pending = None
            if ex.action == "proxy" and outcome.code is grpc.StatusCode.UNAVAILABLE and not outcome.responses:
                ex.action, ex.error = "error", "grpc upstream unavailable"
            ex.complete = True
            pipeline.finish(ex)


async def _stub_answer(ex: Exchange, stub: GrpcStub, requests: AsyncIterator[bytes],
                       context: aio.ServicerContext, replies: Replies, keep_bytes: int) -> None:
    """A stub's answer: once the client's messages are in (read to the end: a unary or
    server-streaming call sends one), its metadata, its messages (each after its delay), then its
    trailers and status."""
    outcome = ex.grpc
    async for message in requests:
        keep_bytes = received(ex, message, keep_bytes)
    if stub.metadata:
        await context.send_initial_metadata(tuple(stub.metadata))
    for message in stub.messages:
        if stub.delay:
            await asyncio.sleep(stub.delay)
        await replies.write(message)
        outcome.responses += 1
        outcome.response_bytes += len(message)
    if stub.trailers:
        context.set_trailing_metadata(tuple(stub.trailers))
    outcome.code, outcome.details = STATUS_BY_NUMBER[stub.code], stub.details
    if stub.code:
        context.set_code(outcome.code)
        context.set_details(stub.details)


async def _generated_answer(ex: Exchange, method: Method, protos: ProtoSet, seed: int, requests: AsyncIterator[bytes],
                            context: aio.ServicerContext, replies: Replies, keep_bytes: int) -> None:
    """A method no stub answers, answered from its output type (proto/generate.py): one message,
    or three for a stream, each seeded by the request it answers (the last, for a client stream)."""
    outcome = ex.grpc
    last = b""
    async for message in requests:
        keep_bytes = received(ex, message, keep_bytes)
        last = message
    request = protos.message_class(method.input)()
    try:
        request.ParseFromString(last)
    except DecodeError:
        outcome.code = grpc.StatusCode.INVALID_ARGUMENT
        outcome.details = f"stuntman: the request is not a {method.input.full_name}"
        context.set_code(outcome.code)
        context.set_details(outcome.details)
        return
    output = protos.message_class(method.output)
    for i in range(3 if method.server_streaming else 1):
        answer = generate(output, method.path, last + bytes([i]) if i else last, seed, request).SerializeToString()
        await replies.write(answer)
        outcome.responses += 1
        outcome.response_bytes += len(answer)


def _nearest(table: Any, method: str) -> str:
    """`; nearest: ...`: the known methods (--proto and the gRPC stubs) most like method."""
    known = set(table.protos.methods) if table.protos is not None else set()
    known.update(route.path_text for route in table.routes if route.grpc and route.path_kind == "exact")
    close = difflib.get_close_matches(method, sorted(known), n=3, cutoff=0.5)
    return f"; nearest: {', '.join(close)}" if close else ""


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


class Replies(Protocol):
    """Where a call's answers go: the call itself (a stream), or one message to return (unary)."""

    async def write(self, message: bytes) -> None: ...


class _Single:
    """The answer of a unary method: its one message (a second one is a mistake, and dropped)."""

    __slots__ = ("message",)

    def __init__(self) -> None:
        self.message: bytes | None = None

    async def write(self, message: bytes) -> None:
        if self.message is None:
            self.message = message


async def _one(request: bytes) -> AsyncIterator[bytes]:
    yield request


class _Handler(grpc.GenericRpcHandler):
    """Every method: a stream of bytes each way, or, for a method --proto says is unary, one
    message each way (grpc.aio's unary handler costs much less than its stream handler)."""

    def __init__(self, listener: GrpcListener):
        self.listener = listener
        # grpc.aio asks for every call: the handler of each method, made once per set of protos
        self._made: dict[str, grpc.RpcMethodHandler] = {}
        self._protos: Any = None

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method  # type: ignore[attr-defined]
        protos = self.listener.server.table.protos
        if protos is not self._protos:  # (a reload: kinds may have changed)
            self._made.clear()
            self._protos = protos
        made = self._made.get(method)
        if made is None:
            if len(self._made) >= 4096:  # (unknown methods are any string a client sends)
                self._made.clear()
            made = self._made[method] = self._make(method, protos)
        return made

    def _make(self, method: str, protos: Any) -> grpc.RpcMethodHandler:
        handle = self.listener.handle
        known = protos.methods.get(method) if protos is not None else None
        if known is not None and not known.client_streaming and not known.server_streaming:
            async def unary(request: bytes, context: aio.ServicerContext) -> bytes | None:
                single = _Single()
                await handle(method, _one(request), context, single)
                return single.message  # (None with an error status: no message is sent)
            return grpc.unary_unary_rpc_method_handler(unary)

        async def call(requests: AsyncIterator[bytes], context: aio.ServicerContext) -> None:
            await handle(method, requests, context, context)
        return grpc.stream_stream_rpc_method_handler(call)
