"""The gRPC services stuntman serves itself, end to end with real clients: server reflection v1
and v1alpha, grpc.health.v1.Health, and /__admin/grpc.

Reflection v1alpha is read through grpcio-reflection's own client (ProtoReflectionDescriptorDatabase
behind a DescriptorPool); v1 through raw stream calls with message types compiled here from
tests/fixtures/grpc/reflection-v1 (the protocol as defined, not stuntman's renamed v1alpha).
Health through grpcio-health-checking's stub. The .proto files served are tests/fixtures/grpc/protos:
a nested package (shop.v1) with two services, one method of each kind, an import from another
directory's package (acme.common.v1), a well-known type (Timestamp), and proto2 extensions.
"""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_reflection.v1alpha.reflection_pb2_grpc import ServerReflectionStub

from stuntman.client import Stuntman, StuntmanError
from stuntman.proto.protoset import load_protos
from test_admin import api

FIXTURES = Path(__file__).parent / "fixtures" / "grpc"
PROTOS = FIXTURES / "protos"
OWN = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
SERVED = {"shop.v1.Orders", "shop.v1.Payments"}
V1_INFO = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


@pytest.fixture
def served(stuntman):
    """stuntman with a gRPC listener serving PROTOS, and a channel to it."""
    started = []

    def start(**overrides):
        st = stuntman({}, grpc_port=0, admin_port=0, **{"proto": (PROTOS,), **overrides})
        channel = grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}")
        started.append(channel)
        return st, channel
    yield start
    for channel in started:
        channel.close()


def v1_types():
    """grpc.reflection.v1's messages, compiled from the protocol's definition."""
    oracle = load_protos([FIXTURES / "reflection-v1"])
    return oracle, {name: oracle.message_class(oracle.pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}"))
                    for name in ("ServerReflectionRequest", "ServerReflectionResponse", "ExtensionRequest")}


def v1_exchange(channel, requests: list, types: dict) -> list:
    """One v1 stream: the requests sent, the responses read."""
    info = channel.stream_stream(V1_INFO, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=types["ServerReflectionResponse"].FromString)
    return list(info(iter(requests), timeout=10))


def files_of(response) -> list[descriptor_pb2.FileDescriptorProto]:
    return [descriptor_pb2.FileDescriptorProto.FromString(b)
            for b in response.file_descriptor_response.file_descriptor_proto]


def pool_of(files: list[descriptor_pb2.FileDescriptorProto]) -> descriptor_pool.DescriptorPool:
    """A pool of reflected files, each added after the files it imports."""
    by_name, pool, added = {f.name: f for f in files}, descriptor_pool.DescriptorPool(), set()

    def add(name: str) -> None:
        if name not in added:
            added.add(name)
            for dependency in by_name[name].dependency:
                add(dependency)
            pool.Add(by_name[name])
    for name in by_name:
        add(name)
    return pool


def check(channel, service: str):
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=10)


# -- reflection ----------------------------------------------------------------------------------

def test_reflection_v1alpha_lists_describes_and_resolves_through_grpcio_reflections_client(served):
    st, channel = served()
    db = ProtoReflectionDescriptorDatabase(channel)
    assert set(db.get_services()) == SERVED | OWN
    pool = descriptor_pool.DescriptorPool(db)  # (asks for each file, and the files it imports, as needed)
    orders = pool.FindServiceByName("shop.v1.Orders")
    kinds = {m.name: (m.client_streaming, m.server_streaming) for m in orders.methods}
    assert kinds == {"GetOrder": (False, False), "WatchOrders": (False, True), "UploadOrders": (True, False),
                     "Chat": (True, True)}
    assert orders.file.name == "shop/v1/orders.proto"
    assert [d.name for d in orders.file.dependencies] == ["common/v1/money.proto", "google/protobuf/timestamp.proto"]
    line = pool.FindMessageTypeByName("shop.v1.Order.Line")
    assert line.fields_by_name["price"].message_type.full_name == "acme.common.v1.Money"
    assert pool.FindMessageTypeByName("shop.v1.Order").fields_by_name["placed_at"].message_type.full_name \
        == "google.protobuf.Timestamp"
    assert pool.FindServiceByName("shop.v1.Payments").methods_by_name["Pay"].output_type.full_name \
        == "acme.common.v1.Money"
    # the reflected types make working messages
    Order = message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.v1.Order"))
    order = Order(id="o-1", lines=[{"sku": "tea", "quantity": 2, "price": {"currency": "EUR", "units": 3}}])
    order.placed_at.seconds = 1_700_000_000
    assert Order.FromString(order.SerializeToString()).lines[0].price.units == 3
    # extensions, and stuntman's own services
    assert sorted(db.FindAllExtensionNumbers("shop.v1.Tagged")) == [100, 101]
    # (the client's FindFileContainingExtension is not written yet: it returns None; asked directly)
    ask = v1alpha.ServerReflectionRequest(file_containing_extension=v1alpha.ExtensionRequest(
        containing_type="shop.v1.Tagged", extension_number=101))
    [found] = ServerReflectionStub(channel).ServerReflectionInfo(iter([ask]), timeout=10)
    assert [f.name for f in files_of(found)] == ["shop/v1/extras.proto"]
    assert pool.FindServiceByName("grpc.health.v1.Health").methods_by_name["Watch"].server_streaming
    assert pool.FindServiceByName("grpc.reflection.v1alpha.ServerReflection").methods[0].name == "ServerReflectionInfo"
    with pytest.raises(KeyError):
        pool.FindMessageTypeByName("shop.v1.Nothing")


def test_reflection_v1_answers_each_request_of_a_stream_with_files_and_their_imports(served):
    st, channel = served()
    oracle, types = v1_types()
    Request = types["ServerReflectionRequest"]
    requests = [
        Request(host="h", list_services=""),
        Request(file_containing_symbol="shop.v1.Payments"),
        Request(file_containing_symbol="shop.v1.Orders.Chat"),  # a method
        Request(file_by_filename="common/v1/money.proto"),
        Request(file_containing_extension=types["ExtensionRequest"](containing_type="shop.v1.Tagged",
                                                                    extension_number=100)),
        Request(all_extension_numbers_of_type="shop.v1.Tagged"),
        Request(file_containing_symbol="shop.v1.Missing"),
        Request(file_by_filename="nowhere.proto"),
        Request(),  # asks for nothing
        Request(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
    ]
    responses = v1_exchange(channel, requests, types)
    assert len(responses) == len(requests)
    assert [r.original_request for r in responses] == requests
    assert responses[0].valid_host == "h"
    assert {s.name for s in responses[0].list_services_response.service} == SERVED | OWN

    payments = files_of(responses[1])
    assert [f.name for f in payments] == ["shop/v1/orders.proto", "common/v1/money.proto",
                                          "google/protobuf/timestamp.proto"]
    comments = [loc.leading_comments for loc in payments[0].source_code_info.location]
    assert " Payments: one unary method whose answer is a type of another package.\n" in comments  # as compiled
    pool = pool_of(payments)
    assert pool.FindMessageTypeByName("shop.v1.PayRequest").fields_by_name["amount"].message_type.full_name \
        == "acme.common.v1.Money"
    assert [f.name for f in files_of(responses[2])][0] == "shop/v1/orders.proto"
    assert [f.name for f in files_of(responses[3])] == ["common/v1/money.proto"]
    assert [f.name for f in files_of(responses[4])] == ["shop/v1/extras.proto"]
    numbers = responses[5].all_extension_numbers_response
    assert numbers.base_type_name == "shop.v1.Tagged" and list(numbers.extension_number) == [100, 101]
    for missing in responses[6:8]:
        assert missing.WhichOneof("message_response") == "error_response"
        assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert "shop.v1.Missing" in responses[6].error_response.error_message
    assert responses[8].error_response.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]

    # v1 describes itself as the protocol defines it
    [reflected] = files_of(responses[9])
    expected = descriptor_pb2.FileDescriptorProto()
    oracle.pool.FindFileByName("grpc/reflection/v1/reflection.proto").CopyToProto(expected)
    assert (reflected.name, reflected.package) == (expected.name, expected.package)

    def shape(file):
        return ({m.name: [(f.name, f.number, f.type, f.label, f.type_name, f.HasField("oneof_index"))
                          for f in m.field] for m in file.message_type},
                [(s.name, [(m.name, m.input_type, m.output_type, m.client_streaming, m.server_streaming)
                           for m in s.method]) for s in file.service])
    assert shape(reflected) == shape(expected)


def test_reflection_answers_from_the_protos_loaded_now(served, tmp_path):
    protos = tmp_path / "protos"
    shutil.copytree(PROTOS, protos)
    st, channel = served(proto=(protos,))
    db = ProtoReflectionDescriptorDatabase(channel)
    assert set(db.get_services()) == SERVED | OWN
    (protos / "extra").mkdir()
    (protos / "extra" / "more.proto").write_text(
        'syntax = "proto3";\npackage extra.v1;\nimport "common/v1/money.proto";\n'
        "service More { rpc Add(acme.common.v1.Money) returns (acme.common.v1.Money); }\n")
    (protos / "shop" / "v1" / "orders.proto").unlink()
    st.reload()
    assert set(ProtoReflectionDescriptorDatabase(channel).get_services()) == {"extra.v1.More"} | OWN
    oracle, types = v1_types()
    [gone, added] = v1_exchange(channel, [types["ServerReflectionRequest"](file_containing_symbol="shop.v1.Orders"),
                                          types["ServerReflectionRequest"](file_containing_symbol="extra.v1.More")],
                                types)
    assert gone.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert [f.name for f in files_of(added)] == ["extra/more.proto", "common/v1/money.proto"]
    assert check(channel, "extra.v1.More").status == SERVING
    with pytest.raises(grpc.RpcError) as unknown:
        check(channel, "shop.v1.Orders")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


# -- health --------------------------------------------------------------------------------------

def test_health_check_knows_the_loaded_services_and_not_others(served):
    st, channel = served()
    for service in ("", "shop.v1.Orders", "shop.v1.Payments", *OWN):
        assert check(channel, service).status == SERVING, service
    with pytest.raises(grpc.RpcError) as unknown:
        check(channel, "shop.v1.Nothing")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND  # as the standard says
    listed = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=10)
    assert {name: s.status for name, s in listed.statuses.items()} == dict.fromkeys({"", *SERVED, *OWN}, SERVING)


def test_a_status_set_through_the_admin_api_is_what_check_and_watch_answer(served):
    st, channel = served(admin_token="s3cret")
    admin = Stuntman(st.admin_url, token="s3cret")
    health = health_pb2_grpc.HealthStub(channel)
    watched = health.Watch(health_pb2.HealthCheckRequest(service="shop.v1.Orders"), timeout=30)
    unknown = health.Watch(health_pb2.HealthCheckRequest(service="legacy.Inventory"), timeout=30)
    try:
        assert next(watched).status == SERVING
        assert next(unknown).status == SERVICE_UNKNOWN
        assert admin.set_grpc_health("shop.v1.Orders", "NOT_SERVING") == {"service": "shop.v1.Orders",
                                                                          "status": "NOT_SERVING"}
        assert check(channel, "shop.v1.Orders").status == NOT_SERVING
        assert next(watched).status == NOT_SERVING  # the stream sees the change
        assert check(channel, "shop.v1.Payments").status == SERVING  # the others as they were
        # a service no .proto describes (one passed through): known once a status is set for it
        admin.set_grpc_health("legacy.Inventory", "SERVING")
        assert next(unknown).status == SERVING and check(channel, "legacy.Inventory").status == SERVING
        admin.set_grpc_health("shop.v1.Orders", "SERVING")
        assert next(watched).status == SERVING
    finally:
        watched.cancel()
        unknown.cancel()
    # the overall status
    assert admin.set_grpc_health("", "NOT_SERVING") == {"service": "", "status": "NOT_SERVING"}
    assert check(channel, "").status == NOT_SERVING
    # it outlives a reload
    st.reload()
    assert check(channel, "").status == NOT_SERVING and check(channel, "legacy.Inventory").status == SERVING
    # a status there is not: 400 naming the field; the token is asked for as everywhere
    with pytest.raises(StuntmanError) as bad:
        admin.set_grpc_health("shop.v1.Orders", "HEALTHY")
    assert bad.value.status == 400 and bad.value.answer["errors"][0]["field"] == "status"
    assert "NOT_SERVING" in bad.value.answer["error"]
    status, answer = api(st, "PUT", "/__admin/grpc/health/shop.v1.Orders", ["NOT_SERVING"], token="s3cret")
    assert status == 400 and answer["errors"][0]["field"] == ""
    assert api(st, "PUT", "/__admin/grpc/health/shop.v1.Orders", {"status": "NOT_SERVING"})[0] == 401
    assert check(channel, "shop.v1.Orders").status == SERVING


def test_a_watch_stream_ends_with_the_call_and_sees_changes_from_another_thread(served):
    st, channel = served()
    health = health_pb2_grpc.HealthStub(channel)
    seen: list[int] = []
    watched = health.Watch(health_pb2.HealthCheckRequest(service="shop.v1.Payments"), timeout=30)
    first = threading.Event()

    def read() -> None:
        try:
            for response in watched:
                seen.append(response.status)
                first.set()
        except grpc.RpcError:
            pass  # (cancelled below)
    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(10)
    for status in ("NOT_SERVING", "UNKNOWN", "SERVING"):
        Stuntman(st.admin_url).set_grpc_health("shop.v1.Payments", status)
        expected = health_pb2.HealthCheckResponse.ServingStatus.Value(status)
        for _ in range(100):
            if seen[-1] == expected:
                break
            threading.Event().wait(0.05)
    watched.cancel()
    reader.join(10)
    assert seen == [SERVING, NOT_SERVING, health_pb2.HealthCheckResponse.UNKNOWN, SERVING]


# -- the admin API -------------------------------------------------------------------------------

def test_admin_lists_the_services_with_their_methods_kinds_and_health(served):
    st, channel = served()
    admin = Stuntman(st.admin_url)
    admin.set_grpc_health("shop.v1.Payments", "NOT_SERVING")
    admin.set_grpc_health("legacy.Inventory", "SERVICE_UNKNOWN")
    listing = admin.grpc_services()
    assert [s["name"] for s in listing["services"]] == ["shop.v1.Orders", "shop.v1.Payments"]
    orders, payments = listing["services"]
    assert orders["file"] == "shop/v1/orders.proto" and orders["health"] == "SERVING"
    assert orders["methods"] == [
        {"name": "GetOrder", "path": "/shop.v1.Orders/GetOrder", "kind": "unary",
         "input": "shop.v1.GetOrderRequest", "output": "shop.v1.Order"},
        {"name": "WatchOrders", "path": "/shop.v1.Orders/WatchOrders", "kind": "server-streaming",
         "input": "shop.v1.WatchOrdersRequest", "output": "shop.v1.Order"},
        {"name": "UploadOrders", "path": "/shop.v1.Orders/UploadOrders", "kind": "client-streaming",
         "input": "shop.v1.Order", "output": "shop.v1.UploadSummary"},
        {"name": "Chat", "path": "/shop.v1.Orders/Chat", "kind": "bidi-streaming",
         "input": "shop.v1.ChatMessage", "output": "shop.v1.ChatMessage"}]
    assert payments["health"] == "NOT_SERVING"
    assert payments["methods"] == [{"name": "Pay", "path": "/shop.v1.Payments/Pay", "kind": "unary",
                                    "input": "shop.v1.PayRequest", "output": "acme.common.v1.Money"}]
    assert {s["name"]: s["health"] for s in listing["builtin"]} == dict.fromkeys(OWN, "SERVING")
    assert listing["overall"] == "SERVING"
    assert listing["otherHealth"] == {"legacy.Inventory": "SERVICE_UNKNOWN"}
    assert listing["meta"] == {"total": 2, "protos": True}


def test_admin_without_protos_lists_none_and_without_a_grpc_listener_answers_404(stuntman):
    st = stuntman({}, grpc_port=0, admin_port=0)
    listing = Stuntman(st.admin_url).grpc_services()
    assert listing["services"] == [] and listing["meta"] == {"total": 0, "protos": False}
    channel = grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}")
    try:
        assert set(ProtoReflectionDescriptorDatabase(channel).get_services()) == OWN
        assert check(channel, "").status == SERVING
    finally:
        channel.close()
    plain = stuntman({}, admin_port=0)
    for call in (lambda admin: admin.grpc_services(), lambda admin: admin.set_grpc_health("", "SERVING")):
        with pytest.raises(StuntmanError) as missing:
            call(Stuntman(plain.admin_url))
        assert missing.value.status == 404 and "--grpc-port" in missing.value.answer["error"]


# -- everything else is still routed ---------------------------------------------------------------

def test_calls_to_other_methods_still_reach_routing(served):
    st, channel = served()
    assert check(channel, "").status == SERVING
    # methods no .proto describes, one of them in the health service: no stub, no --grpc-upstream
    for method in ("/legacy.Inventory/Get", "/grpc.health.v1.Health/Nope"):
        with pytest.raises(grpc.RpcError) as routed:
            channel.unary_unary(method)(b"", timeout=10)
        assert routed.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert routed.value.details().startswith(f"stuntman: no stub or upstream for {method}")
    try:  # a loaded service's method: routing answers it as it answers such calls (whatever that is)
        channel.unary_unary("/shop.v1.Orders/GetOrder")(b"", timeout=10)
    except grpc.RpcError:
        pass
    # the routed calls are journaled; stuntman's own services are not (as the admin API is not)
    journaled = [r["request"]["url"] for r in Stuntman(st.admin_url).requests()]
    assert journaled == ["/shop.v1.Orders/GetOrder", "/grpc.health.v1.Health/Nope", "/legacy.Inventory/Get"]
