"""gRPC pass-through end to end: a real grpc.aio upstream, stuntman's gRPC listener in front of
it, real grpc clients (the sync API, and grpc.aio where a call is cancelled mid-way).

The upstream has no generated code either: its generic handler serves /test.Echo/* as raw bytes
with each call kind as a typed server would (unary_unary, unary_stream, ...), so the proxy, which
takes every call as a stream both ways, is seen to speak to each kind as its peers do.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from grpc import aio

from conftest import ROOT, free_port, stop_process
from stuntman.testing import LoopThread

DETAILS_BIN = b"\x08\x09\x12\x04nope"  # a google.rpc.Status (code 9, message "nope"), as bytes


@dataclass
class Seen:
    """What the upstream saw: metadata and deadlines by method, calls cancelled under it."""
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    remaining: dict[str, float | None] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)


class EchoHandler(grpc.GenericRpcHandler):
    def __init__(self, seen: Seen):
        self.seen = seen

    def _note(self, method: str, context: aio.ServicerContext) -> None:
        self.seen.metadata[method] = dict(context.invocation_metadata() or ())
        self.seen.remaining[method] = context.time_remaining()

    def service(self, details: grpc.HandlerCallDetails):
        method = details.method  # type: ignore[attr-defined]
        name = method.rsplit("/", 1)[-1]
        seen = self.seen

        async def unary(request: bytes, context):
            self._note(method, context)
            await context.send_initial_metadata((("x-initial", "up"),))
            context.set_trailing_metadata((("x-trailer", "up"), ("x-trailer-bin", b"\x00\xff")))
            return b"echo:" + request

        async def server_stream(request: bytes, context):
            self._note(method, context)
            for i in range(3):
                yield request + b"#%d" % i

        async def client_stream(requests, context):
            self._note(method, context)
            return b"+".join([r async for r in requests])

        async def bidi(requests, context):
            self._note(method, context)
            async for r in requests:
                yield r.upper()

        async def fail(request: bytes, context):
            self._note(method, context)
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the order is closed",
                                trailing_metadata=(("grpc-status-details-bin", DETAILS_BIN), ("x-why", "closed")))

        async def slow(request: bytes, context):
            self._note(method, context)
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.cancelled.append(method)
                seen.ended.set()
                raise
            return b"late"

        async def pause(request: bytes, context):
            self._note(method, context)
            await asyncio.sleep(1)
            return b"done"

        async def stream_then_cancel(request: bytes, context):
            yield b"one"
            await context.abort(grpc.StatusCode.CANCELLED, "the upstream gave up")

        kinds = {"Unary": grpc.unary_unary_rpc_method_handler(unary),
                 "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
                 "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
                 "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
                 "Fail": grpc.unary_unary_rpc_method_handler(fail),
                 "Slow": grpc.unary_unary_rpc_method_handler(slow),
                 "Pause": grpc.unary_unary_rpc_method_handler(pause),
                 "GiveUp": grpc.unary_stream_rpc_method_handler(stream_then_cancel)}
        return kinds.get(name) if method.startswith("/test.Echo/") else None


class Upstream:
    """A grpc.aio server on its own loop."""

    def __init__(self, credentials: grpc.ServerCredentials | None = None):
        self.seen = Seen()
        self.thread = LoopThread()

        async def start() -> tuple[aio.Server, int]:
            server = aio.server()
            server.add_generic_rpc_handlers([EchoHandler(self.seen)])
            port = (server.add_secure_port("127.0.0.1:0", credentials) if credentials
                    else server.add_insecure_port("127.0.0.1:0"))
            await server.start()
            return server, port
        self.server, self.port = self.thread.call(start())
        self.target = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.thread.call(self.server.stop(None))
        self.thread.stop()


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.stop()


ECHO_PROTO = ROOT / "tests" / "fixtures" / "grpc-echo" / "echo.proto"


@pytest.fixture(params=["unknown", "known"])
def proxied(request, stuntman, upstream):
    """(stuntman with --grpc-port in front of the upstream, a channel to it): each test twice,
    with the methods unknown (every call a stream each way) and known from a .proto (a unary
    method then takes grpc.aio's unary handler)."""
    protos = (ECHO_PROTO,) if request.param == "known" else ()
    st = stuntman({}, grpc_port=0, grpc_upstream=upstream.target, admin_port=0, proto=protos)
    channel = grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}")
    yield st, channel
    channel.close()


def journal(st) -> list[dict]:
    with urllib.request.urlopen(st.admin_url + "/__admin/requests", timeout=10) as resp:
        return json.loads(resp.read())["requests"]


# -- the four kinds, metadata and trailers ------------------------------------------------------

def test_a_unary_call_passes_with_its_metadata_both_ways(proxied, upstream):
    st, channel = proxied
    call = channel.unary_unary("/test.Echo/Unary")
    answer, info = call.with_call(b"hello", metadata=(("x-tenant", "acme"), ("x-trace-bin", b"\x01\x02")), timeout=10)
    assert answer == b"echo:hello"
    assert ("x-initial", "up") in info.initial_metadata()
    assert {("x-trailer", "up"), ("x-trailer-bin", b"\x00\xff")} <= set(info.trailing_metadata())
    assert info.code() is grpc.StatusCode.OK
    got = upstream.seen.metadata["/test.Echo/Unary"]
    assert got["x-tenant"] == "acme" and got["x-trace-bin"] == b"\x01\x02"
    # the client's deadline went upstream as the call's: what was left of 10 s, less the hop
    # (grpc-timeout is sent rounded up, a hop at a time: the upstream may see a little over 10 s)
    assert 8 < upstream.seen.remaining["/test.Echo/Unary"] <= 10.5


def test_the_clients_user_agent_reaches_the_upstream_ahead_of_stuntmans(proxied, upstream):
    """grpc sets a call's user-agent from its channel: each client user-agent gets a channel of its
    own upstream, so the upstream sees who called (then grpc-python's, as a proxy adds its own)."""
    st, _ = proxied
    for agent in ("shop-web/2.1", "billing-cron/7"):
        with grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}",
                                   options=[("grpc.primary_user_agent", agent)]) as channel:
            assert channel.unary_unary("/test.Echo/Unary")(b"x", timeout=10) == b"echo:x"
        seen = upstream.seen.metadata["/test.Echo/Unary"]["user-agent"]
        assert seen.startswith(agent + " grpc-python/") and " grpc-python-asyncio/" in seen, seen  # (stuntman's)


def test_server_client_and_bidirectional_streams_pass_every_message(proxied):
    _, channel = proxied
    assert list(channel.unary_stream("/test.Echo/ServerStream")(b"m", timeout=10)) == [b"m#0", b"m#1", b"m#2"]
    assert channel.stream_unary("/test.Echo/ClientStream")(iter([b"a", b"b", b"c"]), timeout=10) == b"a+b+c"
    assert list(channel.stream_stream("/test.Echo/Bidi")(iter([b"x", b"y"]), timeout=10)) == [b"X", b"Y"]


def test_a_bidi_stream_answers_each_message_before_the_next_is_sent(proxied):
    """Messages are forwarded as they come, not collected: the client sends the next only after
    the answer to the previous one came back through the proxy."""
    _, channel = proxied
    outgoing: list[bytes] = []
    ready = threading.Semaphore(1)

    def requests():
        for word in (b"one", b"two", b"three"):
            ready.acquire()
            outgoing.append(word)
            yield word
    answers = []
    for answer in channel.stream_stream("/test.Echo/Bidi")(requests(), timeout=10):
        answers.append(answer)
        ready.release()
    assert answers == [b"ONE", b"TWO", b"THREE"] and outgoing == [b"one", b"two", b"three"]


def test_an_upstream_error_passes_with_its_details_and_trailers(proxied):
    _, channel = proxied
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Echo/Fail")(b"x", timeout=10)
    error = caught.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert error.details() == "the order is closed"  # type: ignore[attr-defined]
    trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    assert trailers["grpc-status-details-bin"] == DETAILS_BIN and trailers["x-why"] == "closed"


def test_an_unknown_service_passes_through_untouched_and_gets_the_upstreams_answer(proxied):
    """The upstream answers before reading the request: every time its own status, never the
    INTERNAL "Internal error from Core" grpc.aio's write reported in its place one time in seven."""
    _, channel = proxied
    answers = set()
    for _ in range(60):
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary("/other.Unknown/Call")(b"x", timeout=10)
        answers.add((caught.value.code(), caught.value.details()))  # type: ignore[attr-defined]
    assert answers == {(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")}  # (the upstream's own)


# -- deadlines and cancellation -----------------------------------------------------------------

def test_the_clients_deadline_ends_the_upstream_call_too(proxied, upstream):
    st, channel = proxied
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Echo/Slow")(b"x", timeout=0.5)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert time.monotonic() - start < 20  # (a deadline for a hang, not a timing: the call is 30 s)
    assert upstream.seen.ended.wait(20) and upstream.seen.cancelled == ["/test.Echo/Slow"]
    assert 0 < upstream.seen.remaining["/test.Echo/Slow"] <= 0.5


def test_a_client_that_cancels_cancels_the_upstream_call(proxied, upstream):
    st, _ = proxied

    async def cancel_midway() -> None:
        async with aio.insecure_channel(f"127.0.0.1:{st.server.grpc.port}") as channel:
            call = channel.unary_unary("/test.Echo/Slow")(b"x", timeout=60)
            for _ in range(400):  # until the upstream has it
                if "/test.Echo/Slow" in upstream.seen.metadata:
                    break
                await asyncio.sleep(0.05)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
    asyncio.run(cancel_midway())
    assert upstream.seen.ended.wait(20) and upstream.seen.cancelled == ["/test.Echo/Slow"]
    [entry] = [e for e in _until_journaled(st, 1) if e["request"]["url"] == "/test.Echo/Slow"]
    assert entry["grpc"]["status"] == "CANCELLED"


def test_an_upstream_that_cancels_is_passed_on_as_cancelled(proxied):
    _, channel = proxied
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for message in channel.unary_stream("/test.Echo/GiveUp")(b"x", timeout=10):
            received.append(message)
    assert received == [b"one"] and caught.value.code() is grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]


# -- the journal, metrics, no upstream, an upstream that is down --------------------------------

def failed(target: str, method: str, request: bytes) -> Any:
    """The grpc.RpcError a unary call to target ends with."""
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method)(request, timeout=10)
    return caught.value


def _until_journaled(st, count: int) -> list[dict]:
    for _ in range(400):
        entries = journal(st)
        if len(entries) >= count:
            return entries
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} journal entries: {journal(st)}")


def test_each_call_is_journaled_and_counted_with_its_status(proxied):
    st, channel = proxied
    channel.unary_unary("/test.Echo/Unary")(b"hello", metadata=(("x-tenant", "acme"),), timeout=10)
    with pytest.raises(grpc.RpcError):
        channel.unary_unary("/test.Echo/Fail")(b"x", timeout=10)
    list(channel.stream_stream("/test.Echo/Bidi")(iter([b"a", b"b", b"c"]), timeout=10))
    entries = {e["request"]["url"]: e for e in _until_journaled(st, 3)}
    unary, fail, bidi = (entries[f"/test.Echo/{name}"] for name in ("Unary", "Fail", "Bidi"))
    assert unary["action"] == "proxy" and unary["request"]["httpVersion"] == "2"
    assert ["x-tenant", "acme"] in unary["request"]["headers"]
    messages = unary["grpc"].pop("messages")
    assert unary["grpc"] == {"status": "OK", "code": 0, "details": "", "requestMessages": 1,
                             "responseMessages": 1, "requestBytes": 5, "responseBytes": 10,
                             "messagesTruncated": False}
    # each message as it went, timed; not a Bytes message (b"hello" does not parse as one): base64
    assert [(m["direction"], base64.b64decode(m["base64"])) for m in messages] == \
        [("request", b"hello"), ("response", b"echo:hello")]
    assert 0 <= messages[0]["atMs"] <= messages[1]["atMs"]
    assert fail["grpc"]["status"] == "FAILED_PRECONDITION" and fail["grpc"]["details"] == "the order is closed"
    assert bidi["grpc"]["requestMessages"] == 3 and bidi["grpc"]["responseMessages"] == 3  # every frame counted
    assert len(bidi["grpc"]["messages"]) == 6  # and every frame kept, both ways (not only the first)
    with urllib.request.urlopen(st.admin_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert 'stuntman_grpc_calls_total{code="OK",grpc_method="/test.Echo/Unary"} 1.0' in text
    assert 'stuntman_grpc_calls_total{code="FAILED_PRECONDITION",grpc_method="/test.Echo/Fail"} 1.0' in text


def test_without_an_upstream_a_call_is_unimplemented(stuntman):
    st = stuntman({}, grpc_port=0)
    error = failed(f"127.0.0.1:{st.server.grpc.port}", "/test.Echo/Unary", b"x")
    assert error.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
    assert error.details() == "stuntman: no stub or upstream for /test.Echo/Unary"  # type: ignore[attr-defined]


def test_an_upstream_that_is_down_is_unavailable_and_journaled_as_an_error(stuntman):
    st = stuntman({}, grpc_port=0, grpc_upstream=f"127.0.0.1:{free_port()}", admin_port=0)
    error = failed(f"127.0.0.1:{st.server.grpc.port}", "/test.Echo/Unary", b"x")
    assert error.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    [entry] = _until_journaled(st, 1)
    assert entry["action"] == "error" and entry["error"] == "grpc upstream unavailable"


# -- TLS to the upstream ------------------------------------------------------------------------

def _certificates() -> tuple[bytes, bytes, bytes]:
    """(CA cert, server cert, server key) PEM: a throwaway CA and a certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stuntman test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_a_grpcs_upstream_is_reached_over_tls_verified_against_the_given_ca(stuntman, tmp_path):
    ca, cert, key = _certificates()
    up = Upstream(grpc.ssl_server_credentials([(key, cert)]))
    try:
        (tmp_path / "ca.pem").write_bytes(ca)
        st = stuntman({}, grpc_port=0, grpc_upstream=f"grpcs://localhost:{up.port}",
                      grpc_upstream_ca=tmp_path / "ca.pem")
        with grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}") as channel:
            assert channel.unary_unary("/test.Echo/Unary")(b"tls", timeout=10) == b"echo:tls"
        # without the CA the upstream's certificate is not trusted: the call fails, the server stays
        untrusted = stuntman({}, grpc_port=0, grpc_upstream=f"grpcs://localhost:{up.port}")
        error = failed(f"127.0.0.1:{untrusted.server.grpc.port}", "/test.Echo/Unary", b"tls")
        assert error.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    finally:
        up.stop()


# -- the command line ---------------------------------------------------------------------------

def test_run_with_grpc_port_says_where_it_listens_and_passes_calls(cli_server, upstream, tmp_path):
    grpc_port = free_port()
    proc, _ = cli_server("--stubs", str(tmp_path), "--grpc-port", str(grpc_port), "--grpc-upstream", upstream.target)
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        assert channel.unary_unary("/test.Echo/Unary")(b"cli", timeout=10) == b"echo:cli"
    stop_process(proc)
    assert f"gRPC on 127.0.0.1:{grpc_port} → {upstream.target}" in proc.stdout.read()


def test_a_graceful_stop_lets_a_call_in_flight_finish(cli_server, upstream, tmp_path):
    grpc_port = free_port()
    proc, _ = cli_server("--stubs", str(tmp_path), "--grpc-port", str(grpc_port), "--grpc-upstream", upstream.target,
                         "--drain-timeout", "20")
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel, \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(channel.unary_unary("/test.Echo/Pause"), b"x", timeout=30)
        for _ in range(400):  # until the upstream has it
            if "/test.Echo/Pause" in upstream.seen.metadata:
                break
            time.sleep(0.02)
        proc.terminate()  # SIGTERM: drain
        assert in_flight.result(30) == b"done"  # (the upstream takes 1 s; the drain allows 20)
    assert proc.wait(30) == 0 and "drained" in proc.stderr.read() + proc.stdout.read()
