"""A gRPC call as the pipeline sees it: an Exchange (`POST /package.Service/Method`, HTTP/2, its
metadata as header fields) plus what only gRPC has, kept in `ex.grpc`: the status code, its
details, the messages each way. The journal shows them beside the request; metrics count calls by
method and code.

Metadata values are text, or bytes under a `-bin` key: as fields the bytes are base64 (what goes
on the wire in HTTP/2), so matching and the journal see one kind of field.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import grpc

from ..exchange import Exchange

CONTENT_TYPE = "application/grpc"


class GrpcOutcome:
    """What a call ended with, and how many messages (and bytes) went each way."""

    __slots__ = ("code", "details", "requests", "responses", "request_bytes", "response_bytes")

    def __init__(self) -> None:
        self.code: grpc.StatusCode = grpc.StatusCode.OK
        self.details = ""
        self.requests = self.responses = 0
        self.request_bytes = self.response_bytes = 0

    def as_json(self) -> dict[str, Any]:
        number, name = self.code.value
        return {"status": name.upper().replace(" ", "_"), "code": number, "details": self.details,
                "requestMessages": self.requests, "responseMessages": self.responses,
                "requestBytes": self.request_bytes, "responseBytes": self.response_bytes}


def call_exchange(method: str, metadata: Iterable[tuple[str, str | bytes]], peer: str) -> Exchange:
    """The Exchange of a call to `method` (/package.Service/Method)."""
    ex = Exchange()
    ex.method = "POST"
    ex.set_target(method.encode("latin-1", "replace"))
    ex.version = "2"
    ex.raw_headers = metadata_fields(metadata)
    ex.content_type = CONTENT_TYPE
    ex.client = _address(peer)
    ex.has_body = True
    ex.body = []
    ex.grpc = GrpcOutcome()
    return ex


def received(ex: Exchange, message: bytes, keep_bytes: int) -> int:
    """A request message counted, and kept for the journal while keep_bytes last (what is left)."""
    outcome = ex.grpc
    outcome.requests += 1
    outcome.request_bytes += len(message)
    ex.body_size += len(message)
    if keep_bytes > 0 and ex.body is not None:
        ex.body.append(message[:keep_bytes])
        keep_bytes -= len(message)
    return keep_bytes


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
