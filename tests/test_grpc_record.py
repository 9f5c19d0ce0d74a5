"""gRPC record and replay, end to end: real grpc.aio upstreams (a typed one from the fixture
.proto, and test_grpc_proxy's raw-bytes Echo for methods --proto does not know), stuntman
recording what it passes through, the upstream stopped, then a stuntman restarted to replay the
recording to the same real clients: the same messages, metadata, status, details and trailers.
"""
from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc import aio

from conftest import GRPC_COMMON as COMMON
from conftest import GRPC_PROTOS as PROTOS
from conftest import until
from stuntman.record.format import RecordedExchange, RecordedGrpcExchange
from stuntman.record.grpcstubs import grpc_stub_specs
from stuntman.record.recorder import read_exchanges, read_index, side_files
from stuntman.testing import LoopThread
from test_grpc_proxy import DETAILS_BIN
from test_grpc_proxy import Upstream as EchoUpstream

SECRET = "hunter2-very-secret"
UNKNOWN_FIELD = b"\xf8\x06\x01"  # field 111, varint 1
PROTO = {"proto": (PROTOS,), "proto_include": (COMMON,)}


class ShopUpstream:
    """shop.v1.Orders as its team would write it: the generated servicer, on a grpc.aio server.
    GetOrder counts its calls (identical requests get different answers) and fails for `gone`
    with rich status details; every call says who served it in metadata and trailers."""

    def __init__(self, pb: Any, pb_grpc: Any, reflection: bool = False):
        self.thread = LoopThread()
        calls = {"n": 0}

        class Orders(pb_grpc.OrdersServicer):
            async def GetOrder(self, request, context):
                await context.send_initial_metadata((("x-upstream", "shop"), ("x-shard-bin", b"\x00\x07")))
                context.set_trailing_metadata((("x-served-by", "orders-1"), ("x-cost-bin", b"\xff\x01")))
                if request.id == "newer":  # a field this .proto does not know (a newer upstream's)
                    return pb.Order.FromString(pb.Order(id="newer").SerializeToString() + UNKNOWN_FIELD)
                if request.id == "gone":
                    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "order gone is closed",
                                        trailing_metadata=(("grpc-status-details-bin", DETAILS_BIN),
                                                           ("x-why", "closed")))
                calls["n"] += 1
                return pb.Order(id=request.id, state=pb.Order.SHIPPED, labels={"call": str(calls["n"])},
                                lines=[pb.Order.Line(sku="ABC-1", qty=2)], note={"value": "fragile"},
                                card_token=f"tok-{request.id}")

            async def WatchOrder(self, request, context):
                for i, kind in enumerate(("placed", "packed", "shipped")):
                    if request.id == "slow":  # 300 ms to the first message, 100 ms between the others
                        await asyncio.sleep(0.1 if i else 0.3)
                    yield pb.OrderEvent(order_id=request.id, kind=kind)

            async def ImportOrders(self, request_iterator, context):
                count = 0
                async for _ in request_iterator:
                    count += 1
                return pb.ImportSummary(imported=count)

            async def Chat(self, request_iterator, context):
                yield pb.OrderEvent(kind="hello")  # (before the client says anything)
                async for event in request_iterator:
                    yield pb.OrderEvent(order_id=event.order_id, kind=f"re:{event.kind}")
                    if event.kind == "twice":
                        yield pb.OrderEvent(order_id=event.order_id, kind="again")

        async def start() -> tuple[aio.Server, int]:
            server = aio.server()
            pb_grpc.add_OrdersServicer_to_server(Orders(), server)
            if reflection:  # (grpcio-reflection's servicer: v1alpha, as most servers offer it)
                from grpc_reflection.v1alpha import reflection as served

                served.enable_server_reflection(("shop.v1.Orders", served.SERVICE_NAME), server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            return server, port
        self.server, port = self.thread.call(start())
        self.target = f"127.0.0.1:{port}"
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.thread.call(self.server.stop(None))
            self.thread.stop()


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


def shop_calls(channel: grpc.Channel, pb: Any, pb_grpc: Any) -> list[Seen]:
    """Each kind of call, an error, and one request twice (its answers differ)."""
    orders = pb_grpc.OrdersStub(channel)
    meta = (("authorization", f"Bearer {SECRET}"), ("x-tenant", "acme"))

    def unary(id_: str):
        def start():
            answer, call = orders.GetOrder.with_call(pb.GetOrderRequest(id=id_), metadata=meta, timeout=10)
            return [answer], call
        return start

    def watch():
        call = orders.WatchOrder(pb.GetOrderRequest(id="o-7"), metadata=meta, timeout=10)
        return list(call), call

    def import_orders():
        answer, call = orders.ImportOrders.with_call(iter([pb.Order(id="i-1"), pb.Order(id="i-2")]), timeout=10)
        return [answer], call

    def chat():
        said = [pb.OrderEvent(order_id="c-1", kind="hi"), pb.OrderEvent(order_id="c-1", kind="twice")]
        call = orders.Chat(iter(said), timeout=10)
        return list(call), call
    return [seen(unary("o-1")), seen(unary("o-1")), seen(unary("o-2")), seen(unary("gone")), seen(watch),
            seen(import_orders), seen(chat), seen(unary("o-1"))]


def recorded(directory: Path) -> list[dict]:
    """The recording's exchanges (HTTP and gRPC), each checked against the documented format."""
    exchanges = [record for _, record in read_exchanges(directory, grpc=True)]
    for exchange in exchanges:
        model = RecordedGrpcExchange if exchange["protocol"] == "grpc" else RecordedExchange
        model.model_validate(exchange)
    return exchanges


def written(directory: Path, count: int) -> None:
    """Wait for the recording to hold `count` exchanges (the files of the calls that failed
    before an answer, an HTTP exchange's: a call's is there by the time its client has it)."""
    until(lambda: len(read_index(directory)) >= count, f"{count} exchanges in {directory}")


def channel_to(st) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}")


def get(channel: grpc.Channel, pb: Any, pb_grpc: Any, id_: str) -> str:
    """GetOrder(id): which call of the upstream's answered (its count), or the error's code."""
    try:
        return pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id=id_), timeout=10).labels["call"]
    except grpc.RpcError as error:
        return error.code().name  # type: ignore[attr-defined]


@pytest.fixture
def shop(generated):
    pb, pb_grpc = generated
    up = ShopUpstream(pb, pb_grpc)
    yield up
    up.stop()


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


# -- record → stop the upstream → replay --------------------------------------------------------

def test_the_four_kinds_are_recorded_then_replayed_with_the_upstream_stopped(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="shop", **PROTO)
    with channel_to(rec) as channel:
        originals = shop_calls(channel, pb, pb_grpc)
    assert [o.messages[0]["labels"]["call"] for o in originals if o.messages and "labels" in o.messages[0]] == \
        ["1", "2", "3", "4"]  # (the upstream counts: the same request got different answers)
    assert originals[3].code is grpc.StatusCode.FAILED_PRECONDITION
    written(tmp_path / "shop", len(originals))
    shop.stop()
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",), **PROTO)
    with channel_to(replay) as channel:
        again = shop_calls(channel, pb, pb_grpc)
        # the same request: its answers in recorded order (1, 2, then 4), then the last again
        last = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="o-1"), timeout=10)
    for original, replayed in zip(originals, again, strict=True):
        assert replayed == original  # messages, initial metadata, trailers (-bin ones too), code, details
    assert last.labels["call"] == "4"


def test_a_call_is_on_disk_before_its_client_has_the_status(stuntman, generated, shop, tmp_path):
    """As for HTTP: a client that has its answer has it recorded (a kill -9 then loses nothing)."""
    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="shop", **PROTO)
    with channel_to(rec) as channel:
        for n in range(1, 6):
            get(channel, pb, pb_grpc, f"o-{n}")  # unary: the status comes after the message
            assert len(read_index(tmp_path / "shop")) == 2 * n - 1  # at once: no wait
            list(pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(id="o"), timeout=10))  # a stream
            assert len(read_index(tmp_path / "shop")) == 2 * n


def test_the_recording_is_readable_json_in_the_documented_format(stuntman, generated, shop, tmp_path):
    import jsonschema

    from conftest import ROOT

    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="shop", **PROTO)
    with channel_to(rec) as channel:
        shop_calls(channel, pb, pb_grpc)
    written(tmp_path / "shop", 8)
    schema = json.loads((ROOT / "recordings.schema.json").read_text())
    files = sorted((tmp_path / "shop" / "exchanges").iterdir())
    for file in files:
        jsonschema.validate(json.loads(file.read_text()), schema)
    exchanges = recorded(tmp_path / "shop")
    assert [f.name for f in files][:2] == ["000001-GRPC-shop-v1-Orders-GetOrder.json",
                                          "000002-GRPC-shop-v1-Orders-GetOrder.json"]
    unary, error, watch, chat = exchanges[0], exchanges[3], exchanges[4], exchanges[6]
    assert unary["protocol"] == "grpc" and unary["upstream"] == shop.target
    assert unary["request"] | {"metadata": []} == {"method": "/shop.v1.Orders/GetOrder", "kind": "unary",
                                                   "type": "shop.v1.GetOrderRequest", "metadata": []}
    assert "x-tenant: acme" in unary["request"]["metadata"]
    assert [m["direction"] for m in unary["messages"]] == ["request", "response"]
    assert unary["messages"][0]["json"] == {"id": "o-1"} and "base64" not in unary["messages"][0]
    assert unary["messages"][1]["json"]["labels"] == {"call": "1"} and unary["messages"][1]["atMs"] > 0
    assert unary["response"]["metadata"] == ["x-upstream: shop", "x-shard-bin: AAc="]
    assert unary["response"]["trailers"] == ["x-served-by: orders-1", "x-cost-bin: /wE="]
    assert error["response"] | {"metadata": []} == {
        "type": "shop.v1.Order", "metadata": [], "status": "FAILED_PRECONDITION", "code": 9,
        "details": "order gone is closed",
        "trailers": [f"grpc-status-details-bin: {base64.b64encode(DETAILS_BIN).decode()}", "x-why: closed"]}
    assert [m["json"]["kind"] for m in watch["messages"][1:]] == ["placed", "packed", "shipped"]
    assert [m["direction"] for m in chat["messages"]].count("request") == 2 and chat["request"]["kind"] == \
        "bidi-streaming"
    assert all(0 <= e["timing"]["ttfbMs"] <= e["timing"]["totalMs"] for e in exchanges)
    lines = read_index(tmp_path / "shop")
    assert lines[3] | {"file": ""} == {"seq": 4, "file": "", "protocol": "grpc", "method": "POST",
                                       "url": "/shop.v1.Orders/GetOrder", "status": 200,
                                       "grpcStatus": "FAILED_PRECONDITION"}
    assert list(read_exchanges(tmp_path / "shop")) == []  # (HTTP readers: HAR export, drift)


def test_a_bidi_recording_is_replayed_as_a_conversation_message_by_message(stuntman, generated, shop, tmp_path):
    """Each client message is answered by what followed it in the recording, as it comes: a client
    that sends its next message only once the answer to the last one came is answered in turn
    (were the answers held until the client's half-close, it would wait forever)."""
    pb, pb_grpc = generated

    def lockstep(channel) -> list[str]:
        """What was sent and what came, in the order it happened."""
        ready = threading.Semaphore(1)
        log = []

        def events():
            for word in ("hi", "bye"):
                ready.acquire()
                log.append(f"sent {word}")  # (before it goes: an answer to it cannot come before)
                yield pb.OrderEvent(order_id="c-9", kind=word)
        for event in pb_grpc.OrdersStub(channel).Chat(events(), timeout=10):
            log.append(event.kind)
            if event.kind.startswith("re:"):
                ready.release()
        return log
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="chat", **PROTO)
    with channel_to(rec) as channel:
        original = lockstep(channel)
    assert original == ["sent hi", "hello", "re:hi", "sent bye", "re:bye"]
    written(tmp_path / "chat", 1)
    shop.stop()
    # what followed each client message in the recording answers it (hello, sent first, with the first)
    specs = [spec for spec, _ in grpc_stub_specs(list(read_exchanges(tmp_path / "chat", grpc=True)), "chat",
                                                 side_files(tmp_path / "chat"))]
    assert [(s["request"]["body"]["json"]["kind"], [m["kind"] for m in s["grpc"]["messages"]]) for s in specs] == \
        [("hi", ["hello", "re:hi"]), ("bye", ["re:bye"])]
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("chat",), **PROTO)
    with channel_to(replay) as channel:
        assert lockstep(channel) == original
        with pytest.raises(grpc.RpcError) as caught:  # a message never recorded: the nearest named
            list(pb_grpc.OrdersStub(channel).Chat(iter([pb.OrderEvent(order_id="c-9", kind="what")]), timeout=10))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert "nearest: chat#1.1" in caught.value.details()  # type: ignore[attr-defined]


def test_what_a_bidi_upstream_says_before_the_client_goes_with_the_answer_to_its_first_message():
    """(The upstream of the test above answers once the first message is in: a unit test here.)"""
    record = {"seq": 1, "request": {"method": "/shop.v1.Orders/Chat", "kind": "bidi-streaming"}, "messages": [
        {"direction": "response", "atMs": 1.0, "json": {"kind": "hello"}},
        {"direction": "request", "atMs": 2.0, "json": {"kind": "hi"}},
        {"direction": "response", "atMs": 3.0, "json": {"kind": "re:hi"}}],
        "response": {"metadata": [], "status": "OK", "code": 0, "details": "", "trailers": []}}
    [(spec, file)] = grpc_stub_specs([({"file": "exchanges/x.json"}, record)], "chat", lambda name: b"")
    assert spec["request"]["body"] == {"json": {"kind": "hi"}} and file == "exchanges/x.json"
    assert spec["grpc"]["messages"] == [{"kind": "hello"}, {"kind": "re:hi"}]


def test_a_client_stream_is_answered_by_the_recorded_call_its_messages_belong_to(stuntman, generated, shop,
                                                                                   tmp_path):
    pb, pb_grpc = generated

    def imported(channel, ids: list[str]) -> int | str:
        try:
            return pb_grpc.OrdersStub(channel).ImportOrders(iter([pb.Order(id=i) for i in ids]), timeout=10).imported
        except grpc.RpcError as error:
            return error.code().name  # type: ignore[attr-defined]
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="imports", **PROTO)
    with channel_to(rec) as channel:
        assert [imported(channel, ids) for ids in (["a", "b", "a"], ["a"], [])] == [3, 1, 0]
    written(tmp_path / "imports", 3)
    shop.stop()
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("imports",), **PROTO)
    with channel_to(replay) as channel:  # the recorded call with the fewest messages that has them all
        assert [imported(channel, ids) for ids in (["a"], ["b", "a"], ["a", "b", "a"], [], ["c"], ["a", "c"])] == \
            [1, 3, 3, 0, "NOT_FOUND", "NOT_FOUND"]


def test_a_message_its_json_would_change_is_kept_and_replayed_as_its_bytes(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="newer", **PROTO)
    with channel_to(rec) as channel:
        original = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="newer"), timeout=10)
    assert original.SerializeToString().endswith(UNKNOWN_FIELD)
    written(tmp_path / "newer", 1)
    shop.stop()
    [exchange] = recorded(tmp_path / "newer")
    request, response = exchange["messages"]
    assert "base64" not in request  # (its JSON gives its bytes back)
    assert response["json"] == {"id": "newer"} and base64.b64decode(response["base64"]).endswith(UNKNOWN_FIELD)
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("newer",), **PROTO)
    with channel_to(replay) as channel:
        again = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="newer"), timeout=10)
    assert again.SerializeToString() == original.SerializeToString()


# -- methods --proto does not know: bytes ---------------------------------------------------------

def echo_calls(channel: grpc.Channel) -> list[Seen]:
    meta = (("x-trace-bin", b"\x01\x02"), ("x-tenant", "acme"))

    def unary():
        answer, call = channel.unary_unary("/test.Echo/Unary").with_call(b"\x00raw\xff", metadata=meta, timeout=10)
        return [answer], call

    def server_stream():
        call = channel.unary_stream("/test.Echo/ServerStream")(b"m\x00", timeout=10)
        return list(call), call

    def client_stream():
        answer, call = channel.stream_unary("/test.Echo/ClientStream").with_call(iter([b"a", b"\xfe"]), timeout=10)
        return [answer], call

    def bidi():
        call = channel.stream_stream("/test.Echo/Bidi")(iter([b"x", b"y"]), timeout=10)
        return list(call), call

    def fail():
        answer, call = channel.unary_unary("/test.Echo/Fail").with_call(b"f", timeout=10)
        return [answer], call
    return [seen(unary), seen(server_stream), seen(client_stream), seen(bidi), seen(fail)]


def test_methods_proto_does_not_know_are_recorded_as_base64_and_replayed_byte_for_byte(stuntman, tmp_path):
    echo = EchoUpstream()
    try:
        rec = stuntman({}, grpc_port=0, grpc_upstream=echo.target, recordings=tmp_path, record_to="echo")
        with channel_to(rec) as channel:
            originals = echo_calls(channel)
        written(tmp_path / "echo", len(originals))
    finally:
        echo.stop()
    assert originals[0].messages == [b"echo:\x00raw\xff"] and originals[4].code is grpc.StatusCode.FAILED_PRECONDITION
    assert ("grpc-status-details-bin", DETAILS_BIN) in originals[4].trailers
    exchanges = recorded(tmp_path / "echo")
    unary = exchanges[0]
    assert unary["request"]["kind"] is None and unary["request"]["type"] is None
    assert [base64.b64decode(m["base64"]) for m in unary["messages"]] == [b"\x00raw\xff", b"echo:\x00raw\xff"]
    assert not any("json" in m for e in exchanges for m in e["messages"])
    assert "x-trace-bin: AQI=" in unary["request"]["metadata"]
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("echo",))
    with channel_to(replay) as channel:
        again = echo_calls(channel)
    for original, replayed in zip(originals, again, strict=True):
        assert replayed == original


# -- secrets ------------------------------------------------------------------------------------

def test_secrets_in_metadata_and_messages_never_reach_the_disk(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    echo = EchoUpstream()
    try:
        rec = stuntman({}, grpc_port=0, grpc_upstream=echo.target, recordings=tmp_path, record_to="r",
                       redact=("cardToken",))
        with channel_to(rec) as channel:
            echoed = channel.unary_unary("/test.Echo/Unary")(f"token={SECRET}".encode(), timeout=10,
                                                             metadata=(("authorization", f"Bearer {SECRET}"),))
        written(tmp_path / "r", 1)
    finally:
        echo.stop()
    assert echoed == f"echo:token={SECRET}".encode()
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="s",
                   redact=("cardToken",), **PROTO)
    with channel_to(rec) as channel:
        order = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id=SECRET), timeout=10,
                                                     metadata=(("authorization", f"Bearer {SECRET}"),))
    assert order.card_token == f"tok-{SECRET}"
    written(tmp_path / "s", 1)
    for file in tmp_path.rglob("*"):  # nothing on disk holds it, in text, nor in the messages' bytes
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
    [raw] = recorded(tmp_path / "r")
    assert "authorization: [REDACTED]" in raw["request"]["metadata"]
    stars = b"*" * len(SECRET)  # (as long as the secret: the message keeps its framing)
    assert [base64.b64decode(m["base64"]) for m in raw["messages"]] == [b"token=" + stars, b"echo:token=" + stars]
    assert all(m["redacted"] for m in raw["messages"])
    [typed] = recorded(tmp_path / "s")
    request, response = typed["messages"]
    assert response["json"]["cardToken"] == "[REDACTED]" and response["redacted"]
    assert request["json"] == {"id": "*" * len(SECRET)} and request["redacted"]  # (echoed in the field named)
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("r", "s"), **PROTO)
    with channel_to(replay) as channel:  # a redacted request is not matched on: the call answers
        assert channel.unary_unary("/test.Echo/Unary")(b"anything", timeout=10) == b"echo:token=" + stars
        assert pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="x"), timeout=10).card_token == "[REDACTED]"


def test_recorded_text_that_looks_like_a_template_replays_as_it_was_sent(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="shop", **PROTO)
    with channel_to(rec) as channel:
        sent = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="{{request.path}}"), timeout=10)
    assert sent.id == "{{request.path}}"
    shop.stop()
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",), **PROTO)
    with channel_to(replay) as channel:
        again = pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="{{request.path}}"), timeout=10)
    assert again == sent  # not made from the request: the braces are what the upstream said
