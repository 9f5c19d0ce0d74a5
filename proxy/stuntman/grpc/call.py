"""A gRPC call as the pipeline sees it: an Exchange (`POST /package.Service/Method`, HTTP/2, its
metadata as header fields) plus what only gRPC has, kept in `ex.grpc`: the status code, its
details, the messages each way. The journal shows them beside the request; metrics count calls by
method and code.

Metadata values are text, or bytes under a `-bin` key: as fields the bytes are base64 (what goes
on the wire in HTTP/2), so matching and the journal see one kind of field.
"""
from __future__ import annotations

import asyncio
import base64
from collections import deque
from collections.abc import AsyncIterator, Iterable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from ..body import BodyView
from ..exchange import Exchange
from ..faults.enact import garble
from .answer import Aborted, Ending

if TYPE_CHECKING:
    from ..faults.plan import Plan
    from ..proto.protoset import Method, ProtoSet

CONTENT_TYPE = "application/grpc"
_CLIENTS: dict[str, str] = {}  # peer (ipv4:127.0.0.1:5000) → address (127.0.0.1)


class GrpcOutcome:
    """What a call ended with; its messages each way, timed, kept (for the journal and
    recordings) while `keep` bytes last each way; the method's descriptors when --proto has them,
    to show the messages as JSON."""

    __slots__ = ("code", "details", "requests", "responses", "request_bytes", "response_bytes", "messages",
                 "keep_in", "keep_out", "truncated", "method", "protos", "initial_metadata", "trailers")

    def __init__(self, keep: int) -> None:
        self.code: grpc.StatusCode = grpc.StatusCode.OK
        self.details = ""
        self.requests = self.responses = 0
        self.request_bytes = self.response_bytes = 0
        self.messages: list[tuple[bool, float, bytes]] = []  # (a response?, seconds in, bytes)
        self.keep_in = self.keep_out = keep
        self.truncated = False
        self.method: Method | None = None
        self.protos: ProtoSet | None = None
        self.initial_metadata: tuple[tuple[str, str | bytes], ...] = ()  # what the client got
        self.trailers: tuple[tuple[str, str | bytes], ...] = ()

    def as_json(self) -> dict[str, Any]:
        number, name = self.code.value
        return {"status": name.upper().replace(" ", "_"), "code": number, "details": self.details,
                "requestMessages": self.requests, "responseMessages": self.responses,
                "requestBytes": self.request_bytes, "responseBytes": self.response_bytes,
                "messages": [self.message_json(response, at, data) for response, at, data in self.messages],
                "messagesTruncated": self.truncated}

    def end(self, context: Any, code: grpc.StatusCode, details: str,
            trailers: Iterable[tuple[str, str | bytes]] | None = None) -> None:
        """The call ends with code, details and (when given) trailers: kept here, and said to the
        client (an OK status is grpc's default: only another is set)."""
        self.code, self.details = code, details
        if trailers is not None:
            self.trailers = tuple(trailers)
            context.set_trailing_metadata(self.trailers)
        if code is not grpc.StatusCode.OK:
            context.set_code(code)
            context.set_details(details)

    def first_view(self) -> BodyView:
        """What body matchers read of the call once it is over (the journal's find and count):
        its first request message."""
        first = next((data for response, _, data in self.messages if not response), b"")
        if self.method is None or self.protos is None:
            return BodyView(first)
        from ..proto.messages import message_view

        return message_view(self.protos, self.method.input, first)

    def message_json(self, response: bool, at: float, data: bytes) -> dict[str, Any]:
        """A message as JSON when the method's type reads it (whole), else base64."""
        shown: dict[str, Any] = {"direction": "response" if response else "request", "atMs": round(at * 1000, 3)}
        method = self.method
        value = None
        if method is not None and self.protos is not None:
            from ..proto.messages import message_json

            value = message_json(self.protos, method.output if response else method.input, data)
        if value is not None:
            shown["json"] = value
        else:
            shown["base64"] = base64.b64encode(data).decode()
        return shown


def call_exchange(method: str, metadata: Iterable[tuple[str, str | bytes]], peer: str, keep: int) -> Exchange:
    """The Exchange of a call to `method` (/package.Service/Method); keep: bytes of its messages
    kept each way."""
    ex = Exchange()
    ex.method = "POST"
    ex.target = method.encode("latin-1", "replace")
    ex.path = method  # (a method path has no query: set_target's parsing is not needed)
    ex.version = "2"
    ex.raw_headers = metadata_fields(metadata)
    ex.content_type = CONTENT_TYPE
    client = _CLIENTS.get(peer)
    if client is None:  # (a client's calls share a few peers: parsed once each)
        if len(_CLIENTS) >= 1024:
            _CLIENTS.clear()
        client = _CLIENTS[peer] = _address(peer)
    ex.client = client
    ex.has_body = True
    ex.body = None  # (the messages are in ex.grpc)
    ex.grpc = GrpcOutcome(keep)
    return ex


class TooMuch(Exception):
    """More request bytes than may be held to route a call."""


class Inbound:
    """The client's messages, each counted and kept once as it comes; those read early, to route
    the call by their fields, are given again to whatever answers it."""

    __slots__ = ("ex", "source", "ahead")

    def __init__(self, ex: Exchange, source: AsyncIterator[bytes] | bytes):
        self.ex = ex
        self.ahead: deque[bytes] = deque()
        if isinstance(source, bytes):  # a unary method's one message, in already
            self.source: AsyncIterator[bytes] | None = None
            self.ahead.append(self._count(source))
        else:
            self.source = source

    def __aiter__(self) -> Inbound:
        return self

    async def __anext__(self) -> bytes:
        return self.ahead.popleft() if self.ahead else await self._take()

    async def drain(self) -> None:
        """Read the client's messages to its half-close (a unary call's one is in already)."""
        self.ahead.clear()
        if self.source is not None:
            async for message in self.source:
                self._count(message)

    async def read_ahead(self, limit: int | None, max_bytes: int) -> list[bytes]:
        """Up to limit messages (None: all, to the client's half-close), read now (those read
        already, first) and given again; TooMuch past max_bytes in all."""
        read = list(self.ahead)
        self.ahead.clear()
        size = sum(map(len, read))
        while limit is None or len(read) < limit:
            try:
                message = await self._take()
            except StopAsyncIteration:
                break
            size += len(message)
            if size > max_bytes:
                raise TooMuch(f"stuntman: the messages a call is routed by are held, {max_bytes} bytes at most")
            read.append(message)
        self.ahead.extend(read)
        return read

    async def _take(self) -> bytes:
        if self.source is None:
            raise StopAsyncIteration
        return self._count(await self.source.__anext__())

    def _count(self, message: bytes) -> bytes:
        outcome = self.ex.grpc
        outcome.requests += 1
        outcome.request_bytes += len(message)
        self.ex.body_size += len(message)
        if outcome.keep_in >= len(message):
            outcome.keep_in -= len(message)
            outcome.messages.append((False, monotonic() - self.ex.started, message))
        else:
            outcome.keep_in, outcome.truncated = 0, True
        return message


class Outbound:
    """Where the call's answers go: the call (a stream) or the one message of a unary method;
    each counted and kept as it goes, and reshaped, paced or stopped by the faults that fired."""

    __slots__ = ("ex", "replies")

    def __init__(self, ex: Exchange, replies: Replies):
        self.ex, self.replies = ex, replies

    async def write(self, message: bytes) -> None:
        outcome = self.ex.grpc
        plan = self.ex.plan
        if plan is not None:
            message = await shaped(plan, outcome.responses, outcome.response_bytes, message)
        outcome.responses += 1
        outcome.response_bytes += len(message)
        if outcome.keep_out >= len(message):
            outcome.keep_out -= len(message)
            outcome.messages.append((True, monotonic() - self.ex.started, message))
        else:
            outcome.keep_out, outcome.truncated = 0, True
        await self.replies.write(message)
        if plan is not None and plan.truncate is not None and outcome.response_bytes >= plan.truncate:
            raise Aborted(Ending(grpc.StatusCode.CANCELLED, f"stuntman: answer truncated after {plan.truncate} "
                                 "bytes (truncate)", []))


async def shaped(plan: Plan, sent: int, sent_bytes: int, message: bytes) -> bytes:
    """A response message as the plan's faults have it go, after the waits they ask for:
    abort_stream (past its messages: Aborted), a message latency (before each after the first),
    bandwidth (its bytes at the rate), dribble (its seconds spread over its chunks, a message a
    chunk), truncate (the message it ends in cut short), corrupt (its bytes garbled: in every mode,
    gRPC frames its messages itself)."""
    if plan.abort is not None and sent >= plan.abort.after:
        raise Aborted.by(plan.abort)
    wait = plan.message_delay() / 1000 if plan.message_delay is not None and sent else 0.0
    if plan.rate is not None:
        wait += len(message) / plan.rate
    if plan.dribble is not None:
        chunks, seconds = plan.dribble
        wait += seconds / max(1, chunks) if sent < chunks else 0.0
    if wait:
        await asyncio.sleep(wait)
    if plan.truncate is not None and sent_bytes + len(message) > plan.truncate:
        message = message[:max(0, plan.truncate - sent_bytes)]
    if plan.corrupt is not None:
        message = garble(message, plan.corrupt[1])
    return message


class Replies(Protocol):
    """Where a call's answers go: the call itself (a stream), or one message to return (unary)."""

    async def write(self, message: bytes) -> None: ...


def metadata_fields(metadata: Iterable[tuple[str, str | bytes]]) -> list[tuple[bytes, bytes]]:
    return [(key.encode("latin-1", "replace"),
             base64.b64encode(value) if isinstance(value, bytes) else value.encode("utf-8", "replace"))
            for key, value in metadata]


def _address(peer: str) -> str:
    """ipv4:127.0.0.1:5000 → 127.0.0.1; ipv6:[::1]:5000 → ::1 (as the HTTP listener shows it)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return peer
