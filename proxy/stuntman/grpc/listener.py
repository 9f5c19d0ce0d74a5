"""The gRPC listener: a grpc.aio server (h2c) on --grpc-port whose one generic handler takes
every call, whatever its service, method or kind, as raw bytes.

Each call becomes an Exchange (call.py) that the pipeline finishes like any other: journaled,
counted, its limits' places given back, however the call ends (answered, failed, cancelled, past
its deadline). Calls go to --grpc-upstream; without one they are UNIMPLEMENTED.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from grpc import aio

from .call import call_exchange
from .proxy import GrpcUpstream

if TYPE_CHECKING:
    from ..server import Server

log = logging.getLogger("stuntman.grpc")


class GrpcListener:
    def __init__(self, server: Server):
        self.server = server
        settings = server.settings
        self.upstream = (GrpcUpstream(settings.grpc_upstream, settings.grpc_upstream_ca, settings.max_body_bytes)
                         if settings.grpc_upstream else None)
        self.port = 0
        self._server: aio.Server | None = None

    async def start(self) -> None:
        settings = self.server.settings
        limit = settings.max_body_bytes  # (a message, like a request body, is held whole)
        self._server = aio.server(options=[("grpc.max_receive_message_length", limit),
                                           ("grpc.max_send_message_length", limit),
                                           ("grpc.so_reuseport", 0)])
        self._server.add_generic_rpc_handlers([_Handler(self)])
        host = settings.grpc_host or settings.host
        address = f"[{host}]:{settings.grpc_port}" if ":" in host else f"{host}:{settings.grpc_port}"
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:  # (grpcio: "Failed to bind to address ...")
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
        await self._server.start()

    async def close(self, grace: float | None = None) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        if self.upstream is not None:
            await self.upstream.close()

    async def handle(self, method: str, requests: AsyncIterator[bytes], context: aio.ServicerContext) -> None:
        ex = call_exchange(method, context.invocation_metadata() or (), context.peer())
        ex.status = 200  # (HTTP's: a gRPC call's own status is ex.grpc.code)
        outcome = ex.grpc
        try:
            if self.upstream is None:
                ex.action, ex.error = "none", "no gRPC upstream"
                outcome.code = grpc.StatusCode.UNIMPLEMENTED
                outcome.details = f"stuntman: no stub or upstream for {method}"
                context.set_code(outcome.code)
                context.set_details(outcome.details)
                return
            ex.action = "proxy"
            await self.upstream.forward(ex, requests, context, self.server.settings.journal_body_bytes)
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
            if outcome.code is grpc.StatusCode.UNAVAILABLE and not outcome.responses:
                ex.action, ex.error = "error", "grpc upstream unavailable"
            ex.complete = True
            self.server.pipeline.finish(ex)


class _Handler(grpc.GenericRpcHandler):
    """Every method, as a stream of bytes each way."""

    def __init__(self, listener: GrpcListener):
        self.listener = listener

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method  # type: ignore[attr-defined]
        handle = self.listener.handle

        async def call(requests: AsyncIterator[bytes], context: aio.ServicerContext) -> None:
            await handle(method, requests, context)
        return grpc.stream_stream_rpc_method_handler(call)
