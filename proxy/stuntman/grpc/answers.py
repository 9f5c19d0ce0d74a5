"""How a call is answered without an upstream: by its stub (metadata, messages each after its
delay, trailers and status); in a bidirectional stream, message by message, each client message
matched on its own and answered by the stub it matches; by a message made from the method's
output type (a .proto alone is a stand-in); or, when stubs exist for the method and none
matches, NOT_FOUND naming the nearest and what differed (the near-miss 404's equivalent).
"""
from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError
from grpc import aio

from ..match.routes import match
from ..proto.generate import generate
from ..respond.grpc import GrpcStub
from .answer import STATUS_BY_NUMBER, Aborted, Ending

if TYPE_CHECKING:
    from ..body import BodyView
    from ..exchange import Exchange
    from ..match.routes import Route
    from ..proto.protoset import Method, ProtoSet
    from .call import Inbound, Outbound


async def stub_answer(ex: Exchange, stub: GrpcStub, inbound: Inbound, context: aio.ServicerContext,
                      out: Outbound) -> None:
    """Once the client's messages are in (read to its half-close: a unary or server-streaming call
    sends one), the stub's answer."""
    await inbound.drain()
    await _send_metadata(ex, stub, context)
    await _send_messages(ex, stub, out)
    _end_as(ex, stub, context)


async def converse(ex: Exchange, first: GrpcStub, candidates: list[Route], state: Any,
                   view: Callable[[bytes], BodyView], inbound: Inbound, context: aio.ServicerContext,
                   out: Outbound) -> None:
    """A bidirectional stream answered message by message. The first message (read ahead, routed
    with the call) is `first`'s to answer; each after it is matched on its own (its fields, the
    metadata, a scenario's state) and answered by the stub it matches, as it comes. A message no
    stub matches ends the call NOT_FOUND; a stub with an error status ends it after its messages;
    the client's half-close ends it OK, with the last stub's trailers. The first stub's metadata
    is the call's initial metadata."""
    stub = first
    await _send_metadata(ex, stub, context)
    number = 0
    async for message in inbound:
        number += 1
        if number > 1:
            ex.see_body_as(view(message))
            route = match(ex, state, candidates)
            if route is None or not isinstance(route.action, GrpcStub):
                return not_matched(ex, candidates, state, context, f"message #{number} of ")
            stub = route.action
        await _send_messages(ex, stub, out)
        if stub.code:
            break
    _end_as(ex, stub, context)


async def generated_answer(ex: Exchange, method: Method, protos: ProtoSet, seed: int, inbound: Inbound,
                           context: aio.ServicerContext, out: Outbound) -> None:
    """A method no stub answers, answered from its output type (proto/generate.py): one message,
    or three for a stream, each seeded by the request it answers (the last, for a client stream)."""
    outcome = ex.grpc
    last = b""
    async for message in inbound:
        last = message
    request = protos.message_class(method.input)()
    try:
        request.ParseFromString(last)
    except DecodeError:
        return outcome.end(context, grpc.StatusCode.INVALID_ARGUMENT,
                           f"stuntman: the request is not a {method.input.full_name}")
    output = protos.message_class(method.output)
    for i in range(3 if method.server_streaming else 1):
        await out.write(generate(output, method.path, last + bytes([i]) if i else last, seed,
                                 request).SerializeToString())


def not_matched(ex: Exchange, candidates: list[Route], state: Any, context: aio.ServicerContext,
                what: str = "") -> None:
    """NOT_FOUND: stubs answer this method, but none matches (what: which message, in a stream);
    the details name the nearest stubs and what differed."""
    scored = sorted((len(diffs), route.rank, route.label, diffs)
                    for route in candidates for diffs in (route.mismatches(ex, state),))
    nearest = "; ".join(f"{label}: {', '.join(diffs)}" for _, _, label, diffs in scored[:3])
    ex.action, ex.error = "none", "no gRPC stub matched"
    ex.grpc.end(context, grpc.StatusCode.NOT_FOUND,
                f"stuntman: no stub matches {what}{ex.path}" + (f"; nearest: {nearest}" if nearest else ""))


def nearest_methods(table: Any, method: str) -> str:
    """`; nearest: ...`: the known methods (--proto and the gRPC stubs) most like method."""
    known = set(table.protos.methods) if table.protos is not None else set()
    known.update(route.path_text for route in table.routes if route.grpc and route.path_kind == "exact")
    close = difflib.get_close_matches(method, sorted(known), n=3, cutoff=0.5)
    return f"; nearest: {', '.join(close)}" if close else ""


async def _send_metadata(ex: Exchange, stub: GrpcStub, context: aio.ServicerContext) -> None:
    if stub.metadata:
        ex.grpc.initial_metadata = tuple(stub.metadata)
        await context.send_initial_metadata(ex.grpc.initial_metadata)


async def _send_messages(ex: Exchange, stub: GrpcStub, out: Outbound) -> None:
    for message in stub.messages:
        if stub.delay:
            await asyncio.sleep(stub.delay)
        if not isinstance(message, bytes):  # a templated one, made for this call
            try:
                message = message.render(ex)
            except ValueError as exc:
                raise Aborted(Ending(grpc.StatusCode.INTERNAL, f"stuntman: {exc}", [])) from None
        await out.write(message)


def _end_as(ex: Exchange, stub: GrpcStub, context: aio.ServicerContext) -> None:
    ex.grpc.end(context, STATUS_BY_NUMBER[stub.code], stub.details, stub.trailers or None)
