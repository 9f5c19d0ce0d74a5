"""gRPC record and replay, end to end: real grpc.aio upstreams (a typed one from the fixture
.proto, and test_grpc_proxy's raw-bytes Echo for methods --proto does not know), stuntman
recording what it passes through, the upstream stopped, then a stuntman restarted to replay the
recording to the same real clients: the same messages, metadata, status, details and trailers.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from test_grpc_proxy import DETAILS_BIN


@dataclass
class Seen:
    """What a client saw of one call."""
    messages: list[Any]
    initial: list[tuple[str, Any]]
    trailers: list[tuple[str, Any]]
    code: grpc.StatusCode
    details: str | None


def _visible(metadata: Any) -> list[tuple[str, Any]]:
    return sorted((key, value) for key, value in metadata or () if not key.startswith("grpc-")
                  or key == "grpc-status-details-bin")


def seen(start) -> Seen:
    """Run a call (start() → (messages, the call)); what the client saw, an error status too."""
    try:
        messages, call = start()
    except grpc.RpcError as error:
        return Seen([], _visible(error.initial_metadata()), _visible(error.trailing_metadata()),  # type: ignore[attr-defined]
                    error.code(), error.details())  # type: ignore[attr-defined]
    return Seen([json_format.MessageToDict(m) if not isinstance(m, bytes) else m for m in messages],
                _visible(call.initial_metadata()), _visible(call.trailing_metadata()), call.code(), call.details())


def channel_to(st) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}")


# -- the stub form a replay answers with: raw messages, binary metadata ------------------------------

def test_a_stub_answers_raw_messages_and_binary_metadata_as_written(stuntman):
    details = base64.b64encode(DETAILS_BIN).decode()
    stubs = f"""
    - request: {{grpc: {{service: test.Echo, method: Unary}}}}
      grpc: {{rawMessages: [AP8=, AAE=], metadata: {{x-shard-bin: AAc=, x-upstream: stub}},
             trailers: {{x-cost-bin: /wE=}}}}
    - request: {{grpc: {{service: test.Echo, method: Fail}}}}
      grpc: {{status: FAILED_PRECONDITION, details: closed, trailers: {{grpc-status-details-bin: "{details}"}}}}
    """
    st = stuntman({"s.yaml": stubs}, grpc_port=0)
    with channel_to(st) as channel:
        def stream():
            call = channel.unary_stream("/test.Echo/Unary")(b"", timeout=10)
            return list(call), call

        def fail():
            answer, call = channel.unary_unary("/test.Echo/Fail").with_call(b"", timeout=10)
            return [answer], call
        got, failed = seen(stream), seen(fail)
    assert got.messages == [b"\x00\xff", b"\x00\x01"]  # (a raw message is sent as it is)
    assert got.initial == [("x-shard-bin", b"\x00\x07"), ("x-upstream", "stub")]
    assert got.trailers == [("x-cost-bin", b"\xff\x01")]
    assert (failed.code, failed.details) == (grpc.StatusCode.FAILED_PRECONDITION, "closed")
    assert failed.trailers == [("grpc-status-details-bin", DETAILS_BIN)]


@pytest.mark.parametrize(("answer", "words"), [
    ("{rawMessages: [nope!]}", ["grpc.rawMessages", "rawMessages[0] is not valid base64"]),
    ("{rawMessages: [AA==], message: {}}", ["use one of message, messages, rawMessages"]),
    ("{trailers: {x-cost-bin: 'not base64'}}", ["grpc.trailers", "x-cost-bin", "not valid base64"]),
    ("{metadata: {grpc-status-details-bin: AA==}}", ["grpc.metadata", "grpc-status-details-bin in trailers"]),
    ("{trailers: {grpc-message: hi}}", ["grpc.trailers", "not grpc-*"]),
])
def test_raw_messages_and_binary_metadata_are_checked_at_load(stuntman, answer, words):
    with pytest.raises(Exception) as caught:
        stuntman({"bad.yaml": f"request: {{grpc: {{service: test.Echo, method: Unary}}}}\ngrpc: {answer}\n"},
                 grpc_port=0)
    assert "bad.yaml" in str(caught.value) and all(word in str(caught.value) for word in words), str(caught.value)
