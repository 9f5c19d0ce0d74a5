"""Methods learned from the upstream's server reflection (--grpc-upstream-reflection), end to end:
a typed grpc.aio upstream offering reflection v1alpha (grpcio-reflection), stuntman with no
--proto. The first call to a service asks the upstream about it; from then on its methods are
known: messages as JSON in the journal and in recordings, a unary method on the unary path.
"""
from __future__ import annotations

import logging

import grpc
import pytest

from conftest import until
from stuntman.record.recorder import read_exchanges
from test_grpc_proxy import journal
from test_grpc_record import ShopUpstream


@pytest.fixture(params=[True, False], ids=["reflection", "none"])
def shop(request, generated):
    pb, pb_grpc = generated
    up = ShopUpstream(pb, pb_grpc, reflection=request.param)
    up.reflection = request.param
    yield up
    up.stop()


@pytest.fixture
def reflecting_shop(generated):
    pb, pb_grpc = generated
    up = ShopUpstream(pb, pb_grpc, reflection=True)
    yield up
    up.stop()


def calls(st, pb, pb_grpc) -> list[str]:
    """One call of each kind through stuntman: what came back."""
    with grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}") as channel:
        orders = pb_grpc.OrdersStub(channel)
        return [orders.GetOrder(pb.GetOrderRequest(id="o-1"), timeout=10).id,
                *(e.kind for e in orders.WatchOrder(pb.GetOrderRequest(id="o-1"), timeout=10)),
                str(orders.ImportOrders(iter([pb.Order(id="a"), pb.Order(id="b")]), timeout=10).imported),
                *(e.kind for e in orders.Chat(iter([pb.OrderEvent(kind="hi")]), timeout=10))]


def test_a_service_is_learned_once_and_its_calls_then_show_as_json(stuntman, generated, shop, caplog):
    pb, pb_grpc = generated
    caplog.set_level(logging.INFO, "stuntman.grpc")
    st = stuntman({}, grpc_port=0, admin_port=0, grpc_upstream=shop.target, grpc_upstream_reflection=True)
    expected = ["o-1", "placed", "packed", "shipped", "2", "hello", "re:hi"]
    assert calls(st, pb, pb_grpc) == expected  # (the first pass: raw bytes while the upstream is asked)
    if not shop.reflection:
        until(lambda: "no descriptors of shop.v1.Orders through its reflection" in caplog.text, "the log line")
        assert calls(st, pb, pb_grpc) == expected  # calls pass as before
        assert all("base64" in m for e in journal(st) for m in e["grpc"]["messages"])
        return
    learned = st.server.grpc.learned
    until(lambda: learned.generation == 1, "shop.v1.Orders learned")
    assert sorted(learned.methods) == ["/shop.v1.Orders/Chat", "/shop.v1.Orders/GetOrder",
                                       "/shop.v1.Orders/ImportOrders", "/shop.v1.Orders/WatchOrder"]
    assert [st.server.grpc.known(f"/shop.v1.Orders/{m}")[0].kind for m in ("GetOrder", "Chat")] == \
        ["unary", "bidi-streaming"]  # (what the handler of each method is made from)
    assert calls(st, pb, pb_grpc) == expected  # the same answers, the kinds known now
    newest = {e["request"]["url"]: e for e in reversed(journal(st))}  # (the latest of each)
    assert newest["/shop.v1.Orders/GetOrder"]["grpc"]["messages"][0]["json"] == {"id": "o-1"}
    chat = newest["/shop.v1.Orders/Chat"]["grpc"]["messages"]  # (the upstream says hello unasked)
    assert sorted((m["direction"], m["json"]["kind"]) for m in chat) == \
        [("request", "hi"), ("response", "hello"), ("response", "re:hi")]
    assert "learned shop.v1.Orders (4 methods) through its reflection" in caplog.text
    asked = [r for r in caplog.records if "shop.v1.Orders" in r.getMessage() and "reflection" in r.getMessage()]
    assert len(asked) == 1  # asked once, however many calls


def test_a_learned_method_is_recorded_as_json(stuntman, generated, reflecting_shop, tmp_path):
    pb, pb_grpc = generated
    shop = reflecting_shop
    st = stuntman({}, grpc_port=0, grpc_upstream=shop.target, grpc_upstream_reflection=True,
                  recordings=tmp_path, record_to="shop")
    calls(st, pb, pb_grpc)
    until(lambda: st.server.grpc.learned.generation == 1, "shop.v1.Orders learned")
    calls(st, pb, pb_grpc)
    until(lambda: len(list(read_exchanges(tmp_path / "shop", grpc=True))) == 8, "8 calls recorded")
    recorded = [record for _, record in read_exchanges(tmp_path / "shop", grpc=True)]
    assert "json" not in recorded[0]["messages"][0] and recorded[0]["messages"][0]["base64"]
    assert recorded[4]["request"]["method"] == "/shop.v1.Orders/GetOrder"
    assert recorded[4]["messages"][0]["json"] == {"id": "o-1"} and recorded[4]["request"]["kind"] == "unary"
