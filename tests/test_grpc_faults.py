"""gRPC routes and faults end to end: stubs that match a call by service, method and metadata,
per-route upstreams, and the HTTP fault kinds as a gRPC client observes them (code, details,
trailers, waiting), selected and seeded as for HTTP, set in files and through /__admin/faults.

Timing is asserted only as lower bounds (a delay waited at least so long).
"""
from __future__ import annotations

import concurrent.futures
import time

import grpc
import pytest

from conftest import call
from test_admin import api
from test_grpc_proxy import Upstream, journal


def grpc_stub(name: str, service: str = "test.Echo", method: str | None = "Unary", faults: str = "",
              extra: str = "", upstream: str | None = None) -> str:
    call_spec = f"{{service: {service}" + (f", method: {method}}}" if method else "}")
    text = f"- name: {name}\n  request:\n    grpc: {call_spec}\n{extra}"
    text += f"  grpc: {{upstream: '{upstream}'}}\n" if upstream else "  grpc: {}\n"
    if faults:
        text += "  faults:\n" + "".join(f"    {line}\n" for line in faults.strip().splitlines())
    return text


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.stop()


def serve(stuntman, upstream, files: dict[str, str], **settings):
    st = stuntman(files, grpc_port=0, grpc_upstream=upstream.target, admin_port=0, **settings)
    return st, f"127.0.0.1:{st.server.grpc.port}"


def unary(target: str, method: str = "/test.Echo/Unary", request: bytes = b"hi", metadata=(), timeout=10):
    with grpc.insecure_channel(target) as channel:
        return channel.unary_unary(method)(request, metadata=metadata, timeout=timeout)


# -- matching and upstreams ---------------------------------------------------------------------

def test_a_route_sends_its_method_to_its_own_upstream(stuntman, upstream):
    other = Upstream()
    try:
        st, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("bidi-elsewhere", method="Bidi",
                                                                     upstream=other.target)})
        with grpc.insecure_channel(target) as channel:
            assert list(channel.stream_stream("/test.Echo/Bidi")(iter([b"a"]), timeout=10)) == [b"A"]
        assert unary(target) == b"echo:hi"
        assert list(other.seen.metadata) == ["/test.Echo/Bidi"]       # the route's upstream
        assert list(upstream.seen.metadata) == ["/test.Echo/Unary"]   # --grpc-upstream for the rest
        entries = {e["request"]["url"]: e for e in journal(st)}
        assert entries["/test.Echo/Bidi"]["matched"]["name"] == "bidi-elsewhere"
        assert entries["/test.Echo/Unary"]["matched"] is None
    finally:
        other.stop()


def test_metadata_and_a_method_regex_pick_the_calls_a_fault_applies_to(stuntman, upstream):
    stub = grpc_stub("acme-only", method=None, extra="    headers: {x-tenant: acme}\n",
                     faults="- {type: error, grpcStatus: RESOURCE_EXHAUSTED, body: quota spent}")
    stub = stub.replace("{service: test.Echo}", "{service: test.Echo, methodRegex: 'Un.*'}")
    _, target = serve(stuntman, upstream, {"g.yaml": stub})
    error = failed_with(target, metadata=(("x-tenant", "acme"),))
    assert (error.code(), error.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "quota spent")
    assert unary(target, metadata=(("x-tenant", "other"),)) == b"echo:hi"  # another tenant passes
    with grpc.insecure_channel(target) as channel:  # another method (not Un.*) passes
        assert channel.stream_unary("/test.Echo/ClientStream")(iter([b"a"]), metadata=(("x-tenant", "acme"),),
                                                               timeout=10) == b"a"


def failed_with(target: str, method: str = "/test.Echo/Unary", metadata=(), timeout: float = 10):
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method)(b"hi", metadata=metadata, timeout=timeout)
    return caught.value


def test_grpc_routes_and_http_routes_never_meet(stuntman, upstream):
    http_stub = "- {request: {path: /test.Echo/Unary}, response: {body: http}}\n"
    st, target = serve(stuntman, upstream, {"h.yaml": http_stub, "g.yaml": grpc_stub(
        "grpc-only", faults="- {type: error, grpcStatus: ABORTED}")})
    assert call(st.port, "POST", "/test.Echo/Unary")[2] == b"http"  # HTTP gets the HTTP stub
    assert failed_with(target).code() is grpc.StatusCode.ABORTED  # gRPC gets the gRPC route


# -- each fault kind, as the client sees it -----------------------------------------------------

def test_an_error_fault_ends_the_call_with_its_status_details_and_trailers(stuntman, upstream):
    _, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("down", faults=(
        "- {type: error, grpcStatus: 14, body: the payments service is down, headers: {retry-after: '3'}}"))})
    error = failed_with(target)
    assert error.code() is grpc.StatusCode.UNAVAILABLE and error.details() == "the payments service is down"
    trailers = dict(error.trailing_metadata())
    assert trailers["retry-after"] == "3" and trailers["x-stuntman-fault"] == "error"
    assert upstream.seen.metadata == {}  # it never went upstream


def test_an_http_status_is_mapped_as_grpc_maps_it(stuntman, upstream):
    _, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("teapot", faults="- {type: error, status: 403}")
                                           + grpc_stub("gone", method="Fail", faults="- {type: error, status: 418}")})
    assert failed_with(target).code() is grpc.StatusCode.PERMISSION_DENIED
    assert failed_with(target, "/test.Echo/Fail").code() is grpc.StatusCode.UNKNOWN


def test_latency_delays_the_call_before_it_goes_upstream(stuntman, upstream):
    st, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("slow", faults="- {type: latency, fixed_ms: 400}")})
    start = time.monotonic()
    with grpc.insecure_channel(target) as channel:
        answer, info = channel.unary_unary("/test.Echo/Unary").with_call(b"hi", timeout=10)
    assert time.monotonic() - start >= 0.38  # (a lower bound only)
    assert answer == b"echo:hi" and ("x-stuntman-fault", "latency") in info.initial_metadata()
    [entry] = journal(st)
    assert [f["type"] for f in entry["faults"]] == ["latency"] and entry["action"] == "proxy"


def test_a_hang_holds_the_call_until_the_clients_deadline(stuntman, upstream):
    st, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("stall", faults="- {type: hang}")})
    error = failed_with(target, timeout=0.5)
    assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED and upstream.seen.metadata == {}
    for _ in range(200):
        if journal(st):
            break
        time.sleep(0.05)
    [entry] = journal(st)
    assert entry["grpc"]["status"] == "DEADLINE_EXCEEDED" and entry["faults"][0]["type"] == "hang"


def test_a_reset_cuts_the_call(stuntman, upstream):
    _, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("cut", faults="- {type: reset, name: rst}")})
    error = failed_with(target)
    assert error.code() is grpc.StatusCode.CANCELLED and error.details() == "stuntman: stream cut (reset rst)"


def test_first_n_fails_exactly_the_first_calls(stuntman, upstream):
    _, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("warmup", faults=(
        "- {type: error, grpcStatus: UNAVAILABLE, first_n: 2}"))})
    assert [failed_with(target).code() for _ in range(2)] == [grpc.StatusCode.UNAVAILABLE] * 2
    assert [unary(target) for _ in range(3)] == [b"echo:hi"] * 3


def test_a_seeded_probability_fails_the_same_calls_every_run(stuntman, upstream):
    stub = grpc_stub("flaky", faults="- {type: error, grpcStatus: UNAVAILABLE, probability: 0.5}")

    def outcomes() -> list[bool]:
        _, target = serve(stuntman, upstream, {"g.yaml": stub}, seed=7)
        with grpc.insecure_channel(target) as channel:
            method = channel.unary_unary("/test.Echo/Unary")
            results = []
            for _ in range(30):
                try:
                    method(b"x", timeout=10)
                    results.append(True)
                except grpc.RpcError:
                    results.append(False)
            return results
    first = outcomes()
    assert first == outcomes() and 5 < first.count(False) < 25


def test_a_concurrency_limit_turns_away_a_second_call_while_one_is_in_flight(stuntman, upstream):
    _, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("one-at-a-time", method="Slow", faults=(
        "- {type: concurrency_limit, max: 1, queue: 0}"))})
    with grpc.insecure_channel(target) as channel, concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(lambda: channel.unary_unary("/test.Echo/Slow")(b"x", timeout=3))
        for _ in range(400):  # until the upstream has the first
            if "/test.Echo/Slow" in upstream.seen.metadata:
                break
            time.sleep(0.02)
        error = failed_with(target, "/test.Echo/Slow")
        assert error.code() is grpc.StatusCode.UNAVAILABLE and "concurrency limit" in error.details()
        with pytest.raises(grpc.RpcError):
            held.result(30)  # (its own deadline ends it)


# -- set at runtime, standalone -----------------------------------------------------------------

def test_a_fault_added_through_the_admin_api_applies_to_a_grpc_route(stuntman, upstream):
    st, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("payments")})
    assert unary(target) == b"echo:hi"
    status, _ = api(st, "POST", "/__admin/faults", {"route": "payments", "type": "error",
                                                     "grpcStatus": "FAILED_PRECONDITION", "body": "later"})
    assert status == 201
    error = failed_with(target)
    assert (error.code(), error.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "later")


def test_a_standalone_fault_matches_grpc_calls_by_service(stuntman, upstream):
    fault_file = ("faults:\n  - {type: error, grpcStatus: INTERNAL, request: {grpc: {service: test.Echo}}}\n")
    st, target = serve(stuntman, upstream, {"f.yaml": fault_file})
    assert failed_with(target).code() is grpc.StatusCode.INTERNAL
    assert call(st.port, "POST", "/test.Echo/Unary")[0] == 404  # an HTTP request to that path: not a gRPC call


# -- bad stubs ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stub", "message"), [
    ("- {request: {grpc: {service: a.B}, path: /x}, grpc: {}}\n", "not by path"),
    ("- {request: {grpc: {service: a.B}}, response: {body: x}}\n", "answers with grpc:"),
    ("- {request: {path: /x}, grpc: {}}\n", "answers with grpc:"),
    ("- {request: {grpc: {service: a.B}}, grpc: {upstream: 'http://x:1'}}\n", "HOST:PORT"),
    ("- {request: {grpc: {service: a/B}}, grpc: {}}\n", "without '/'"),
    ("- {request: {grpc: {methodRegex: '(unclosed'}}, grpc: {}}\n", "methodRegex"),
])
def test_a_bad_grpc_stub_is_refused_naming_the_field(stuntman, stub, message, tmp_path):
    with pytest.raises(Exception) as caught:
        stuntman({"bad.yaml": stub}, grpc_port=0)
    assert message in str(caught.value) and "bad.yaml" in str(caught.value)


# -- stream faults on calls passed through ---------------------------------------------------------

def test_stream_faults_apply_to_what_an_upstream_streams(stuntman, upstream):
    """abort_stream and a message latency act on the upstream's own messages as they pass."""
    faults = "- {type: abort_stream, after_messages: 2, grpcStatus: DATA_LOSS}\n" \
             "- {type: latency, stage: message, fixed_ms: 120}"
    st, target = serve(stuntman, upstream, {"g.yaml": grpc_stub("cut", method="ServerStream", faults=faults)})
    got, times = [], []
    started = time.monotonic()
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
        for message in channel.unary_stream("/test.Echo/ServerStream")(b"m", timeout=10):
            got.append(message)
            times.append(time.monotonic() - started)
    assert got == [b"m#0", b"m#1"] and caught.value.code() is grpc.StatusCode.DATA_LOSS  # type: ignore[attr-defined]
    assert times[0] >= 0.11 and times[1] - times[0] >= 0.11
    entry = journal(st)[-1]
    assert entry["action"] == "proxy" and entry["grpc"]["status"] == "DATA_LOSS"
    assert sorted(f["type"] for f in entry["faults"]) == ["abort_stream", "latency"]
