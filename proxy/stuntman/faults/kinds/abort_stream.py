"""abort_stream: end a gRPC stream with an error status after `after_messages` response messages
(default 1), as a stream broken midway is seen: the messages before it arrive, then the status
(`grpcStatus`, default UNAVAILABLE; `details`, `headers` as trailers). A call whose answer has no
more messages than that ends with the status in place of its own. gRPC calls only: an HTTP
response is one message, with nothing after it to abort (a stub or fault for HTTP requests that
names it is refused at load)."""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field, field_validator

from ...config.base import FaultBase, wire_safe_headers
from ..plan import Plan
from .base import Fault, register
from .error import GrpcStatus


class AbortStreamFault(FaultBase):
    """End a gRPC stream with an error status after some response messages."""

    type: Literal["abort_stream"]
    after_messages: int = Field(1, ge=0, description="response messages that reach the client first")
    grpc_status: GrpcStatus = Field(14, alias="grpcStatus", description="the status the stream ends with "
                                    "(a code 1-16 or its name; default UNAVAILABLE)")
    details: str | None = Field(None, description="default: a line naming the fault")
    headers: dict[str, str] = Field(default_factory=dict, description="sent as the call's trailers")

    _wire_safe = field_validator("headers")(wire_safe_headers)

    @field_validator("grpc_status")
    @classmethod
    def _an_error(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a stream aborted with OK is a stream that ended: give an error status")
        return value


class AbortStream(Fault):
    type = "abort_stream"
    grpc_only = True
    uses_rng = False
    __slots__ = ("after", "grpc_status", "details", "trailers")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.after, self.grpc_status = spec.after_messages, spec.grpc_status
        self.details = spec.details if spec.details is not None else \
            f"stuntman: stream aborted after {spec.after_messages} messages ({spec.name or 'abort_stream'})"
        self.trailers = [(k.lower(), v) for k, v in spec.headers.items()]

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        if plan.abort is None or self.after < plan.abort.after:  # (several: the earliest)
            plan.abort = self


register(AbortStreamFault, AbortStream)
