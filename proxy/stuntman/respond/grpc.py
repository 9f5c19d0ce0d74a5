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
from .stub import SeededFaker
from .template import Template, has_template, whole_expression


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

    def __init__(self, messages: list[bytes | TemplatedMessage], delay: float, code: int, details: str,
                 metadata: list[tuple[str, str | bytes]], trailers: list[tuple[str, str | bytes]]):
        self.messages, self.delay = messages, delay
        self.code, self.details = code, details
        self.metadata, self.trailers = metadata, trailers
        # its templates read the request message: the call is routed with it read
        self.needs_body = any(isinstance(m, TemplatedMessage) and m.uses_body for m in messages)


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
        raw: list[bytes | TemplatedMessage] = [base64.b64decode(text) for text in spec.raw_messages]
        return GrpcStub(raw, spec.delay_ms / 1000, spec.status, spec.details,  # type: ignore[return-value]
                        _metadata(spec.metadata), _metadata(spec.trailers))
    written = [spec.message] if spec.message is not None else spec.messages or []
    field = "message" if spec.message is not None else "messages"
    messages: list[bytes | TemplatedMessage] = []
    if written and ctx.protos is not UNREADABLE:  # (else the --proto error is the one to report)
        from google.protobuf import json_format

        output = _output_type(ctx, field)
        faker = SeededFaker(ctx.spec.seed, ctx.spec.name, ctx.source)
        for i, value in enumerate(written):
            loc = ("grpc", field) if field == "message" else ("grpc", field, i)
            made, any_template, uses_body = templated(value, faker, loc) if spec.template is not False else \
                (value, False, False)
            if any_template:  # (read against the type once made, for each call)
                where = f"stub {ctx.spec.name or ctx.source}'s {'.'.join(map(str, loc[1:]))}"
                messages.append(TemplatedMessage(made, output, where, uses_body))
                continue
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


class TemplatedMessage:
    """A stub's message with templates in its strings (`{{body.id}}`, `{{headers.x-tenant}}`,
    `{{faker.name}}`, `{{now}}`...: the HTTP stubs' expressions, `body` being the request message
    it answers as JSON), made for each call and read against the output type then. A string that
    is one expression and nothing else takes the value as it is (`qty: "{{body.qty}}"` a number,
    `lines: "{{body.lines}}"` a list); any other is text."""

    __slots__ = ("value", "output", "where", "uses_body")

    def __init__(self, value: Any, output: Any, where: str, uses_body: bool):
        self.value, self.output, self.where, self.uses_body = value, output, where, uses_body

    def render(self, ex: Any) -> bytes:
        from google.protobuf import json_format

        try:
            return json_format.ParseDict(_made(self.value, ex), self.output()).SerializeToString()
        except json_format.ParseError as exc:
            raise ValueError(f"{self.where} does not fit {self.output.DESCRIPTOR.full_name} once made: {exc}") \
                from None


def templated(value: Any, faker: Any, loc: tuple) -> tuple[Any, bool, bool]:
    """value with each string holding a template compiled: (it, any template, any reading the body);
    ConfigValueError naming the field of an unknown expression."""
    if isinstance(value, dict):
        parts = {key: templated(item, faker, (*loc, key)) for key, item in value.items()}
        return ({key: part[0] for key, part in parts.items()}, any(p[1] for p in parts.values()),
                any(p[2] for p in parts.values()))
    if isinstance(value, list):
        items = [templated(item, faker, (*loc, i)) for i, item in enumerate(value)]
        return [item[0] for item in items], any(i[1] for i in items), any(i[2] for i in items)
    if isinstance(value, str) and has_template(value):
        try:
            made = whole_expression(value, faker) or Template(value, faker).render
        except ValueError as exc:
            raise ConfigValueError(loc, str(exc)) from None
        return _Made(made), True, "body" in value
    return value, False, False


class _Made:
    """A value made for each call (a compiled template's)."""

    __slots__ = ("make",)

    def __init__(self, make: Any):
        self.make = make


def _made(value: Any, ex: Any) -> Any:
    if isinstance(value, _Made):
        return value.make(ex)
    if isinstance(value, dict):
        return {key: _made(item, ex) for key, item in value.items()}
    if isinstance(value, list):
        return [_made(item, ex) for item in value]
    return value
