"""A fault's answer as a gRPC call ends: the one Downstream (and fault Flow) of a gRPC call.

The fault kinds answer in the pipeline's terms: a Response (an `error`, a limit turning a call
away) or a cut (`reset`, `close`, a `hang` with for_ms), and a `hang` waits on ex.down.loop. Here
those become a status: the error fault's `grpcStatus` when it names one, else the HTTP status
mapped as gRPC maps it (doc/http-grpc-status-mapping.md: 429 and 502-504 UNAVAILABLE, 401
UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 400 INTERNAL, others UNKNOWN), the body
as the details and its fields as trailers. A cut is CANCELLED: grpcio's server cannot send an
RST_STREAM frame of its own.
"""
from __future__ import annotations

import asyncio
from typing import Any

import grpc

from ..response import Response

STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
HTTP_TO_GRPC = {400: grpc.StatusCode.INTERNAL, 401: grpc.StatusCode.UNAUTHENTICATED,
                403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.UNIMPLEMENTED,
                429: grpc.StatusCode.UNAVAILABLE, 502: grpc.StatusCode.UNAVAILABLE,
                503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.UNAVAILABLE}
_NOT_TRAILERS = frozenset((b"content-type", b"content-length", b"server", b"date", b"connection"))


class Ending:
    """How an answered call ends: its code, details and trailers."""

    __slots__ = ("code", "details", "trailers")

    def __init__(self, code: grpc.StatusCode, details: str, trailers: list[tuple[str, str | bytes]]):
        self.code, self.details, self.trailers = code, details, trailers


class Aborted(Exception):
    """The call ends midway, with `ending`: a fault's doing, raised where its messages stop
    (Outbound) or, for an abort_stream, once the answer is over when fewer came than it lets
    through; or a stub's templated message that cannot be made (INTERNAL)."""

    def __init__(self, ending: Ending):
        super().__init__(ending.details)
        self.ending = ending

    @classmethod
    def by(cls, fault: Any) -> Aborted:
        """The ending of an abort_stream fault."""
        return cls(Ending(STATUS_BY_NUMBER[fault.grpc_status], fault.details, list(fault.trailers)))


class CallDown:
    """ex.down of a gRPC call: what a fault answers with ends the call (`ending`, awaited)."""

    closed = False

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.ending: asyncio.Future[Ending] = loop.create_future()

    # Flow (what a fault's answer needs of the pipeline) -------------------------------------
    def deliver(self, ex: Any, response: Response) -> None:
        self.send(ex, response)

    def cut(self, ex: Any, reset: bool = False) -> None:
        self.abort(ex, reset)

    # Downstream -------------------------------------------------------------------------------
    def send(self, ex: Any, response: Response) -> None:
        if self.ending.done():
            return
        fault = ex.plan.answer if ex.plan is not None else None
        grpc_status = getattr(fault, "grpc_status", None)
        code = STATUS_BY_NUMBER[grpc_status] if grpc_status is not None else \
            HTTP_TO_GRPC.get(response.status, grpc.StatusCode.UNKNOWN)
        details = (response.body or b"").decode("utf-8", "replace").strip()
        shown = ex.plan.headers if ex.plan is not None else []  # X-Stuntman-Fault, RateLimit-*
        trailers: list[tuple[str, str | bytes]] = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in (*shown, *response.headers) if name.lower() not in _NOT_TRAILERS]
        details_bin = getattr(fault, "details_bin", None)  # the error fault's google.rpc.Status
        if details_bin is not None:
            trailers.append(("grpc-status-details-bin", details_bin))
        self.ending.set_result(Ending(code, details, trailers))

    def abort(self, ex: Any, reset: bool = False) -> None:
        if not self.ending.done():
            fault = ex.plan.answer if ex.plan is not None else None
            label = f"{fault.type} {fault.name or fault.id}" if fault is not None else "a fault"
            self.ending.set_result(Ending(grpc.StatusCode.CANCELLED, f"stuntman: stream cut ({label})", []))

    def send_head(self, ex: Any, response: Response) -> None:
        raise TypeError("a gRPC call's faults answer whole")

    def send_body(self, data: bytes) -> None:
        raise TypeError("a gRPC call's faults answer whole")

    def send_trailers(self, trailers: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def end(self, ex: Any) -> None:
        pass

    def pause_reading(self, reason: str) -> None:
        pass

    def resume_reading(self, reason: str) -> None:
        pass
