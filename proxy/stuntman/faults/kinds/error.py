"""error: answer with an error instead of the real response (a proxied request never goes
upstream). It replaces the response: the first answering fault (error, reset, close, hang) to fire
on a request decides.

Parameters, after Envoy's abort (http_status / grpc_status): `status` (default 503), `headers`
and `body` (default: a line naming the fault) make the HTTP answer. A mapping or a list body is
written as JSON (as a stub's `json:` is); it, and a string holding a JSON object or array, go out as
`application/json`, any other string as `text/plain`, unless `headers` names a Content-Type (then
that one, once). `grpcStatus`, a gRPC status code (0-16, or its canonical name such as
UNAVAILABLE), is the code a gRPC call gets instead (the body its details, `headers` its trailers;
without it, `status` is mapped as gRPC maps HTTP statuses: stuntman.grpc.answer). `grpcDetails`
adds rich error details (google.rpc.Status, as `grpc-status-details-bin`: what
grpc_status.rpc_status and the other languages' StatusProto read). HTTP requests are answered
with `status` either way.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ...config.base import FaultBase, wire_safe_headers
from ...response import Response
from .base import Answer, Flow, register

# gRPC's canonical status codes (grpc/doc/statuscodes.md), by number
GRPC_STATUS_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)
GRPC_STATUS_CODES = {name: code for code, name in enumerate(GRPC_STATUS_NAMES)}


def _grpc_code(value: Any) -> Any:
    """A canonical name (any case) → its code; numbers (also as text) go on to the 0-16 check."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        code = GRPC_STATUS_CODES.get(value.strip().upper())
        if code is None:
            raise ValueError(f"unknown gRPC status {value!r}: a code 0-16 or one of {', '.join(GRPC_STATUS_NAMES)}")
        return code
    return value


GrpcStatus = Annotated[
    int,
    Field(ge=0, le=16),
    BeforeValidator(_grpc_code, json_schema_input_type=(
        Annotated[int, Field(ge=0, le=16)] | Literal[GRPC_STATUS_NAMES])),  # type: ignore[valid-type]
]


class ErrorFault(FaultBase):
    """Answer with this instead of the real response (a proxied request never goes upstream)."""

    type: Literal["error"]
    status: int = Field(503, ge=200, le=599)
    grpc_status: GrpcStatus | None = Field(
        None, alias="grpcStatus",
        description="the gRPC status gRPC calls are answered with: a code 0-16 or its canonical name, "
                    "e.g. 14 or UNAVAILABLE (kept as the code); `body` is its details, `headers` its trailers. "
                    "Without it a gRPC call gets `status` mapped (503 → UNAVAILABLE). HTTP requests are "
                    "answered with `status`, `headers` and `body` whether or not this is set")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = Field(
        None, description="default: a line naming the fault. A mapping or a list is sent as JSON; it and a string "
                          "holding a JSON object or array get `Content-Type: application/json`, any other text "
                          "`text/plain; charset=utf-8`, unless `headers` sets a Content-Type")

    grpc_details: list[dict[str, Any]] | None = Field(
        None, alias="grpcDetails", min_length=1,
        description="google.rpc.Status details sent with grpcStatus as grpc-status-details-bin: each a "
                    "protobuf Any in JSON, e.g. {'@type': 'type.googleapis.com/google.rpc.RetryInfo', "
                    "retryDelay: 3s}; the google.rpc error detail types (ErrorInfo, RetryInfo, BadRequest, "
                    "QuotaFailure, ...) and the well-known types")

    _wire_safe = field_validator("headers")(wire_safe_headers)

    @model_validator(mode="after")
    def _details_fit(self) -> ErrorFault:
        if self.grpc_details is not None:
            if not self.grpc_status:
                raise ValueError("grpcDetails go with an error grpcStatus (google.rpc.Status carries the code)")
            status_details(self.grpc_status, "", self.grpc_details)  # (raises ValueError naming the detail)
        return self


def status_details(code: int, message: str, details: list[dict[str, Any]]) -> bytes:
    """A google.rpc.Status, serialized: the value of grpc-status-details-bin."""
    from google.protobuf import json_format
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401  (registers the detail types)

    try:
        status = json_format.ParseDict({"code": code, "message": message, "details": details}, status_pb2.Status())
    except json_format.ParseError as exc:
        raise ValueError(f"grpcDetails: {exc}") from None
    return status.SerializeToString()


def is_json_document(text: str) -> bool:
    """A string that parses as a JSON object or array (a bare number or word stays text)."""
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class Error(Answer):
    type = "error"
    __slots__ = ("status", "grpc_status", "headers", "body", "content_type", "details_bin")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.status = spec.status
        self.grpc_status = spec.grpc_status  # for gRPC requests; None: not given
        label = spec.name or "error"
        body = spec.body
        if body is None:
            body = f"stuntman: injected fault {label}\n"
        elif not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)  # as a stub's `json:` is written
        self.body = body
        # the fault's own Content-Type wins (sent once, as given); else the body's kind decides
        self.headers = [(k, v) for k, v in spec.headers.items() if k.lower() != "content-type"]
        given = [v for k, v in spec.headers.items() if k.lower() == "content-type"]
        self.content_type = given[-1] if given else (
            "application/json" if is_json_document(body) else "text/plain; charset=utf-8")
        # google.rpc.Status for a gRPC call: its message is the details a gRPC call gets (the body)
        self.details_bin = status_details(spec.grpc_status, body.strip(), spec.grpc_details) \
            if spec.grpc_details is not None else None

    def answer(self, ex: Any, flow: Flow) -> None:
        """Answered instead of the route: status, headers and body (gRPC will read grpc_status)."""
        flow.deliver(ex, Response.text(self.status, self.body, headers=self.headers,
                                       content_type=self.content_type))


register(ErrorFault, Error)
