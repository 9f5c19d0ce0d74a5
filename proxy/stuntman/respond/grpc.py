"""A gRPC stub's answer: messages and a status of its own (GrpcStub), or the call passed through to
its upstream, else --grpc-upstream (GrpcPassThrough).

The gRPC listener carries both out (stuntman.grpc.listener): only gRPC calls reach gRPC routes,
which sit apart in the route table, so the HTTP pipeline never asks these sources for a response.
A stub's messages are written as JSON in the stub file and turned into bytes here, once, with the
method's output type from --proto: a message that does not fit its type is refused at load,
naming the stub's field and protobuf's reason (the field it does not know, the value it cannot
read). `rawMessages` are bytes (base64) sent as they are, with no type: what a recording replays
of messages --proto could not read.
"""
from __future__ import annotations

import base64
from typing import Any, ClassVar, Literal

from ..config.errors import ConfigValueError
from .responder import BuildContext, Responder, source


class _GrpcSource:
    streams: ClassVar[bool] = True
    delegates: ClassVar[bool] = False
    needs_body = False

    def resolve(self, ex: Any, state: Any) -> Responder | None:
        return self  # type: ignore[return-value]

    def respond(self, ex: Any, state: Any) -> Any:
        raise TypeError("a gRPC route answers gRPC calls only")

    start = respond


class GrpcPassThrough(_GrpcSource):
    action: ClassVar[Literal["stub", "proxy"]] = "proxy"

    def __init__(self, upstream: str | None):
        self.upstream = upstream  # None: --grpc-upstream


class GrpcStub(_GrpcSource):
    """Messages (serialized once), a delay before each, metadata, and the status the call ends with."""

    action: ClassVar[Literal["stub", "proxy"]] = "stub"
    upstream = None

    def __init__(self, messages: list[bytes], delay: float, code: int, details: str,
                 metadata: list[tuple[str, str | bytes]], trailers: list[tuple[str, str | bytes]]):
        self.messages, self.delay = messages, delay
        self.code, self.details = code, details
        self.metadata, self.trailers = metadata, trailers


@source("grpc")
def _build(ctx: BuildContext) -> Responder:
    spec = ctx.spec.grpc
    assert spec is not None
    from ..proto.protoset import UNREADABLE  # (protobuf: imported by the gRPC stubs only)

    if ctx.spec.request.body is not None and ctx.protos is not UNREADABLE:
        _input_type(ctx, "body")  # (messages are read as JSON by their type: it must be known)
    if not spec.answers:
        return GrpcPassThrough(spec.upstream)  # type: ignore[return-value]
    if spec.raw_messages is not None:  # bytes as they are: no type to read them with
        raw = [base64.b64decode(text) for text in spec.raw_messages]
        return GrpcStub(raw, spec.delay_ms / 1000, spec.status, spec.details,  # type: ignore[return-value]
                        _metadata(spec.metadata), _metadata(spec.trailers))
    written = [spec.message] if spec.message is not None else spec.messages or []
    field = "message" if spec.message is not None else "messages"
    messages = []
    if written and ctx.protos is not UNREADABLE:  # (else the --proto error is the one to report)
        from google.protobuf import json_format

        output = _output_type(ctx, field)
        for i, value in enumerate(written):
            loc = ("grpc", field) if field == "message" else ("grpc", field, i)
            try:
                messages.append(json_format.ParseDict(value, output()).SerializeToString())
            except json_format.ParseError as exc:
                raise ConfigValueError(loc, f"does not fit {output.DESCRIPTOR.full_name}: {exc}") from None
    return GrpcStub(messages, spec.delay_ms / 1000, spec.status, spec.details,  # type: ignore[return-value]
                    _metadata(spec.metadata), _metadata(spec.trailers))


def _metadata(written: dict[str, str]) -> list[tuple[str, str | bytes]]:
    """Metadata as grpc sends it: text, or bytes under a -bin key (written in base64)."""
    return [(key.lower(), base64.b64decode(value) if key.endswith("-bin") else value)
            for key, value in written.items()]


def _output_type(ctx: BuildContext, field: str) -> Any:
    """The message class of the stub's method's output."""
    method, protos = _method(ctx, field, "messages are of that method's output type")
    return protos.message_class(method.output)


def _input_type(ctx: BuildContext, field: str) -> Any:
    """The method's input type (a stub matching on request fields reads them with it)."""
    return _method(ctx, field, "request messages are read as JSON by its input type")[0].input


def _method(ctx: BuildContext, field: str, why: str) -> tuple[Any, Any]:
    """The stub's method, named exactly, in --proto (and the protos)."""
    call = ctx.spec.request.grpc
    assert call is not None
    if call.service is None or call.method is None:
        raise ConfigValueError(("request", "grpc"), f"a stub with a {field} names its service and method "
                               f"exactly ({why})")
    path = f"/{call.service}/{call.method}"
    protos = ctx.protos
    method = protos.methods.get(path) if protos is not None else None
    if method is None:
        known = ", ".join(sorted(protos.methods)[:5]) if protos is not None and protos.methods else "none"
        raise ConfigValueError(("request", "grpc"), f"{path} is not a method of the --proto services "
                               f"(known: {known}); its messages cannot be read without it")
    return method, protos
