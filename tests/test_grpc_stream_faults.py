"""Faults with gRPC effects, as a real client sees them: a delay before each message of a stream,
a stream aborted after N messages, a call held past the client's deadline, and an error status
with google.rpc.Status details (read with grpcio-status, as users read them). Each is a fault of
the one model (`decide() → Plan`), set in stub files or through /__admin/faults.
"""
from __future__ import annotations

import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from conftest import call
from test_admin import api
from test_grpc_proxy import _until_journaled
from test_grpc_stubs import serve

WATCH = ("- name: watch\n  request:\n    grpc: {service: shop.v1.Orders, method: WatchOrder}\n"
         "  grpc:\n    messages: [{kind: placed}, {kind: paid}, {kind: packed}, {kind: shipped}]\n")
GET = ("- name: get\n  request:\n    grpc: {service: shop.v1.Orders, method: GetOrder}\n"
       "  grpc:\n    message: {id: o-1}\n")


def with_faults(stub: str, *faults: str) -> str:
    return stub + "  faults:\n" + "".join(f"    - {fault}\n" for fault in faults)


def test_a_message_latency_delays_each_message_of_a_stream(stuntman, generated):
    pb, pb_grpc = generated
    st, channel = serve(stuntman, {"s.yaml": with_faults(WATCH, "{type: latency, stage: message, fixed_ms: 150}")})
    with channel:
        started = time.monotonic()
        arrived = []
        for event in pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(), timeout=10):
            arrived.append((event.kind, time.monotonic() - started))
    assert [kind for kind, _ in arrived] == ["placed", "paid", "packed", "shipped"]
    gaps = [arrived[0][1]] + [b[1] - a[1] for a, b in zip(arrived, arrived[1:], strict=False)]
    assert all(gap >= 0.14 for gap in gaps), gaps  # before the first, and between each two
    entry = _until_journaled(st, 1)[0]
    assert entry["faults"][0]["type"] == "latency" and entry["faults"][0]["state"] == {"delayMs": 150}


def test_a_message_latency_on_an_http_stub_delays_its_one_response(stuntman):
    st = stuntman({"s.yaml": "- request: {path: /slow}\n  response: {body: ok}\n"
                             "  faults: [{type: latency, stage: message, fixed_ms: 200}]\n"})
    started = time.monotonic()
    status, _, body = call(st.port, "GET", "/slow")
    assert (status, body) == (200, b"ok") and time.monotonic() - started >= 0.19


def test_abort_stream_lets_n_messages_through_then_ends_with_its_status_and_trailers(stuntman, generated):
    pb, pb_grpc = generated
    fault = "{type: abort_stream, after_messages: 2, grpcStatus: INTERNAL, details: upstream crashed, " \
            "headers: {x-why: chaos}}"
    st, channel = serve(stuntman, {"s.yaml": with_faults(WATCH, fault)})
    got = []
    with channel:
        stream = pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(), timeout=10)
        with pytest.raises(grpc.RpcError) as caught:
            for event in stream:
                got.append(event.kind)
    assert got == ["placed", "paid"]
    assert caught.value.code() is grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
    assert caught.value.details() == "upstream crashed"  # type: ignore[attr-defined]
    assert dict(caught.value.trailing_metadata())["x-why"] == "chaos"  # type: ignore[attr-defined]
    entry = _until_journaled(st, 1)[0]
    assert entry["grpc"]["status"] == "INTERNAL" and entry["grpc"]["responseMessages"] == 2
    assert entry["action"] == "stub" and entry["faults"][0]["type"] == "abort_stream"


def test_abort_stream_past_the_last_message_ends_the_call_with_its_status_in_place_of_ok(stuntman, generated):
    pb, pb_grpc = generated
    st, channel = serve(stuntman, {"s.yaml": with_faults(WATCH, "{type: abort_stream, after_messages: 9}")})
    got = []
    with channel, pytest.raises(grpc.RpcError) as caught:
        for event in pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(), timeout=10):
            got.append(event.kind)
    assert len(got) == 4 and caught.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert caught.value.details() == "stuntman: stream aborted after 9 messages (abort_stream)"  # type: ignore[attr-defined]


def test_abort_stream_set_through_the_admin_api_applies_to_the_next_calls(stuntman, generated):
    pb, pb_grpc = generated
    st, channel = serve(stuntman, {"s.yaml": WATCH})
    created = api(st, "POST", "/__admin/faults", {"type": "abort_stream", "after_messages": 1, "request": {
        "grpc": {"service": "shop.v1.Orders", "method": "WatchOrder"}}})
    assert created[0] == 201, created
    with channel:
        stream = pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(), timeout=10)
        got = []
        with pytest.raises(grpc.RpcError):
            for event in stream:
                got.append(event.kind)
    assert got == ["placed"]


def test_a_deadline_fault_holds_the_call_until_the_clients_deadline(stuntman, generated):
    pb, pb_grpc = generated
    st, channel = serve(stuntman, {"s.yaml": with_faults(GET, "{type: deadline}")})
    started = time.monotonic()
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(), timeout=0.5)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert time.monotonic() - started >= 0.45
    entry = _until_journaled(st, 1)[0]
    assert entry["grpc"]["status"] == "DEADLINE_EXCEEDED" and entry["faults"][0]["type"] == "deadline"


def test_an_error_with_grpc_details_sends_a_google_rpc_status_clients_read(stuntman, generated):
    pb, pb_grpc = generated
    fault = ("{type: error, grpcStatus: RESOURCE_EXHAUSTED, body: quota spent, grpcDetails: ["
             "{'@type': type.googleapis.com/google.rpc.RetryInfo, retryDelay: 3s}, "
             "{'@type': type.googleapis.com/google.rpc.ErrorInfo, reason: QUOTA, domain: shop.example, "
             "metadata: {plan: free}}]}")
    st, channel = serve(stuntman, {"s.yaml": with_faults(GET, fault)})
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(), timeout=10)
    status = rpc_status.from_call(caught.value)  # checks code and message agree with the call's
    assert status is not None and status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert status.message == "quota spent"
    retry, info = error_details_pb2.RetryInfo(), error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 3
    assert status.details[1].Unpack(info) and (info.reason, dict(info.metadata)) == ("QUOTA", {"plan": "free"})


# -- the body faults, on messages ------------------------------------------------------------------

def test_corrupt_garbles_each_message_so_the_client_cannot_read_it(stuntman, generated):
    pb, pb_grpc = generated
    order = "- name: get\n  request:\n    grpc: {service: shop.v1.Orders, method: GetOrder}\n" \
            "  grpc:\n    message: {id: " + "o" * 200 + ", note: fragile, labels: {a: b}}\n"
    st, channel = serve(stuntman, {"s.yaml": with_faults(order, "{type: corrupt, seed: 7}")})
    with channel:
        raw = channel.unary_unary("/shop.v1.Orders/GetOrder")(b"", timeout=10)  # the bytes, unread
    good = pb.Order(id="o" * 200, note={"value": "fragile"}, labels={"a": "b"}).SerializeToString()
    assert len(raw) == len(good) and raw != good  # garbled in place, the same length
    again = serve(stuntman, {"s.yaml": with_faults(order, "{type: corrupt, seed: 7}")})[1]
    with again:
        assert again.unary_unary("/shop.v1.Orders/GetOrder")(b"", timeout=10) == raw  # seeded: the same bytes
    entry = _until_journaled(st, 1)[0]
    assert entry["faults"][0]["type"] == "corrupt" and entry["grpc"]["status"] == "OK"


def test_truncate_sends_the_answer_up_to_its_bytes_then_cuts_the_call(stuntman, generated):
    pb, pb_grpc = generated
    sizes = [len(pb.OrderEvent(kind=k).SerializeToString()) for k in ("placed", "paid")]
    after = sizes[0] + 3  # the first whole, 3 bytes of the second
    st, channel = serve(stuntman, {"s.yaml": with_faults(WATCH, f"{{type: truncate, after_bytes: {after}}}")})
    got = []
    with channel, pytest.raises(grpc.RpcError) as caught:
        for message in channel.unary_stream("/shop.v1.Orders/WatchOrder")(b"", timeout=10):
            got.append(message)
    assert [len(m) for m in got] == [sizes[0], 3]
    assert caught.value.code() is grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
    assert caught.value.details() == f"stuntman: answer truncated after {after} bytes (truncate)"  # type: ignore[attr-defined]


def test_bandwidth_paces_each_message_by_its_size_and_dribble_spreads_them(stuntman, generated):
    pb, pb_grpc = generated
    big = "- name: watch\n  request:\n    grpc: {service: shop.v1.Orders, method: WatchOrder}\n" \
          "  grpc:\n    messages: [{kind: " + "x" * 1000 + "}, {kind: " + "y" * 1000 + "}]\n"
    for fault, least in (("{type: bandwidth, bytes_per_s: 5000}", 0.38),  # 2 x ~1,003 bytes at 5 kB/s
                         ("{type: dribble, chunks: 2, duration_ms: 600}", 0.58)):
        st, channel = serve(stuntman, {"s.yaml": with_faults(big, fault)})
        started = time.monotonic()
        with channel:
            assert len(list(pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(), timeout=10))) == 2
        assert time.monotonic() - started >= least, fault


@pytest.mark.parametrize(("stub", "message"), [
    ("- request: {path: /x}\n  response: {body: x}\n  faults: [{type: abort_stream}]\n",
     "faults[0].type: abort_stream acts on gRPC calls alone, and this stub matches HTTP requests only"),
    ("faults:\n  - {type: abort_stream, request: {path: /x}}\n",
     "abort_stream acts on gRPC calls alone, and its `request:` matches HTTP requests only"),
    ("faults:\n  - {type: abort_stream, route: web}\n",
     "abort_stream acts on gRPC calls alone, and stub 'web' matches HTTP requests only"),
    ("- request: {grpc: {service: a.B}}\n  grpc: {}\n  faults: [{type: abort_stream, grpcStatus: OK}]\n",
     "a stream aborted with OK"),
    ("- request: {grpc: {service: a.B}}\n  grpc: {}\n  faults: [{type: error, grpcDetails: [{'@type': x}]}]\n",
     "grpcDetails go with an error grpcStatus"),
    ("- request: {grpc: {service: a.B}}\n  grpc: {}\n  faults: [{type: error, grpcStatus: 5, grpcDetails: "
     "[{'@type': type.googleapis.com/acme.Nope}]}]\n", "grpcDetails: "),
])
def test_a_grpc_fault_that_cannot_apply_is_refused_naming_its_field(stuntman, stub, message):
    with pytest.raises(Exception) as caught:
        stuntman({"bad.yaml": stub, "web.yaml": "- {name: web, request: {path: /y}, response: {body: y}}\n"},
                 grpc_port=0)
    assert message in str(caught.value) and "bad.yaml" in str(caught.value)
