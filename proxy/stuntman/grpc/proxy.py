"""Calls passed through to a gRPC upstream as they are: messages as raw bytes both ways (no
deserializer, so any service passes, known or not), request metadata, the upstream's initial
metadata, trailers, status code and details (`grpc-status-details-bin` is a trailer like any
other). The client's deadline goes upstream as the call's timeout; a client that cancels cancels
the upstream call, and an upstream that cancels is passed on as CANCELLED.

Every call is a stream both ways, whatever its kind: the four kinds are one wire format (HTTP/2,
length-prefixed messages, trailers), so one handler forwards them all without knowing which it is.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from grpc import aio
from grpc._cython import cygrpc  # type: ignore[attr-defined]  # (InternalError: see _write)

from ..exchange import Exchange

AGENTS = 8  # client user-agents given a channel of their own (the rest share the first)


class GrpcUpstream:
    """One upstream (HOST:PORT in h2c, or grpcs://HOST:PORT over TLS): a channel, kept, per client
    user-agent. grpc sets a call's user-agent from its channel, so a client's reaches the upstream
    only as its channel's primary user-agent (followed by grpc-python's, as proxies add theirs)."""

    def __init__(self, target: str, ca: Path | None, max_message_bytes: int):
        self.target = target
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes)]
        self._roots = ca.read_bytes() if ca is not None and target.startswith("grpcs://") else None
        self.channel = self._open(None)
        self._channels: dict[str, aio.Channel] = {}  # by client user-agent
        self._callables: dict[tuple[aio.Channel, str, bool], Any] = {}  # (channel, method, unary) → callable

    def _open(self, agent: str | None) -> aio.Channel:
        options = [*self._options, *([("grpc.primary_user_agent", agent)] if agent else [])]
        if self.target.startswith("grpcs://"):
            credentials = grpc.ssl_channel_credentials(self._roots)
            return aio.secure_channel(self.target[len("grpcs://"):], credentials, options)
        return aio.insecure_channel(self.target.removeprefix("grpc://"), options)

    async def close(self) -> None:
        for channel in (self.channel, *self._channels.values()):
            await channel.close()

    def _callable(self, agent: str | None, method: str, unary: bool) -> Any:
        """The method's multicallable (unary, or a stream each way) on the channel of the client's
        user-agent, made once."""
        channel = self.channel
        if agent:
            found = self._channels.get(agent)
            if found is None:
                found = self._channels[agent] = self._open(agent) if len(self._channels) < AGENTS else self.channel
            channel = found
        made = self._callables.get((channel, method, unary))
        if made is None:
            made = self._callables[(channel, method, unary)] = channel.unary_unary(method) if unary else \
                channel.stream_stream(method)
        return made

    async def forward(self, ex: Exchange, requests: AsyncIterator[bytes], context: aio.ServicerContext,
                      replies: Any) -> None:
        """Pass the call on (requests and replies count its messages); its outcome into ex.grpc."""
        outcome = ex.grpc
        method = ex.path
        metadata, agent = [], None
        for key, value in context.invocation_metadata() or ():
            if key == "user-agent":  # (the channel sends it: see GrpcUpstream)
                agent = value if isinstance(value, str) else None
            else:
                metadata.append((key, value))
        timeout = context.time_remaining()
        known = outcome.method
        sending: asyncio.Future[None] | None = None
        if known is not None and not known.client_streaming and not known.server_streaming:
            # a unary method (--proto says): one message each way, grpc.aio's cheaper unary call
            call = self._callable(agent, method, True)(await anext(requests), metadata=metadata, timeout=timeout)
        else:
            call = self._callable(agent, method, False)(metadata=metadata, timeout=timeout)
            sending = asyncio.ensure_future(_send(requests, call))
        try:
            try:
                initial = tuple(await call.initial_metadata() or ())
                if ex.plan is not None and ex.plan.headers:  # X-Stuntman-Fault of a delay that fired
                    initial += tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in ex.plan.headers)
                await context.send_initial_metadata(initial)
                outcome.initial_metadata = initial
                if sending is None:
                    answer = await call  # (None when it ended without one: its status says why)
                    if answer is not None:
                        await replies.write(answer)
                else:
                    async for message in call:
                        await replies.write(message)
            except aio.AioRpcError:
                pass  # the call's status, details and trailers: passed on below, as they are
            code, details = await call.code(), await call.details() or ""
            if sending is None and not outcome.responses and code is grpc.StatusCode.OK:
                # (a unary answer of no message: grpc.aio would send an empty one; grpc-java's
                # clients call this INTERNAL too)
                code, details = grpc.StatusCode.INTERNAL, "stuntman: the upstream ended a unary call OK with no message"
            outcome.end(context, code, details, await call.trailing_metadata() or ())
        finally:
            if sending is not None:
                sending.cancel()
            call.cancel()  # (a no-op once it ended; the client cancelled or left: the upstream stops too)


async def _send(requests: AsyncIterator[bytes], call: Any) -> None:
    """The client's messages to the upstream as they come, then the half-close."""
    try:
        async for message in requests:
            if not await _write(call, message):
                return
        await call.done_writing()
    except (aio.AioRpcError, asyncio.InvalidStateError, aio.UsageError):
        pass  # the upstream ended the call first: its status says why


async def _write(call: Any, message: bytes) -> bool:
    """Send one message; False once the upstream has ended the call.

    grpc.aio's own write, when the upstream has already answered (an UNIMPLEMENTED, or an
    interceptor's UNAUTHENTICATED, sent before reading the request), sets the call's status to
    INTERNAL "Internal error from Core" in place of the upstream's, about one time in seven here.
    So the message goes through the call's core object, as write() does, and a failed send just
    stops the writing: the upstream's status stands. (Private attributes: if a grpcio release
    drops them, write() is used, with its race.)"""
    raw, sent = getattr(call, "_cython_call", None), getattr(call, "_metadata_sent", None)
    if raw is None or sent is None:
        await call.write(message)
        return True
    if call.done():
        return False
    await sent.wait()
    if call.done():
        return False
    try:
        await raw.send_serialized_message(message)
    except cygrpc.InternalError:
        return False
    return True
