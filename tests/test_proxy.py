"""Pass-through proxy, end to end: a real aiohttp upstream, stuntman, a real client."""
from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import (
    RawUpstream,
    Upstream,
    _pattern,
    free_port,
    parse_responses,
    raw_exchange,
    read_request,
)


def get(port: int, path: str, method: str = "GET", body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r, data


def test_unmatched_requests_pass_through_with_method_path_query_and_body(stuntman, upstream):
    st = stuntman({"a.yaml": "- {request: {path: /stubbed}, response: {body: stub}}"}, upstream=upstream.url)
    r, data = get(st.port, "/api/things/7?b=2&a=1", "PUT", body=b'{"x": 1}',
                  headers={"Content-Type": "application/json"})
    echo = json.loads(data)
    assert r.status == 200
    assert echo["method"] == "PUT" and echo["path"] == "/api/things/7?b=2&a=1"
    assert echo["body"] == '{"x": 1}' and echo["headers"]["Content-Type"] == "application/json"
    r, data = get(st.port, "/stubbed")
    assert data == b"stub"


def test_forwarding_headers_hop_by_hop_removed_and_trace_headers_untouched(stuntman, upstream):
    st = stuntman({}, upstream=upstream.url)
    _, data = get(st.port, "/h", headers={
        "Connection": "keep-alive, X-Private", "X-Private": "secret", "Keep-Alive": "timeout=5",
        "TE": "trailers", "Proxy-Connection": "keep-alive", "Upgrade": "h2c",
        "X-Forwarded-For": "10.0.0.1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1", "Host": "shop.example:8080"})
    headers = {k.lower(): v for k, v in json.loads(data)["headers"].items()}
    for hop in ("x-private", "keep-alive", "te", "proxy-connection", "upgrade"):
        assert hop not in headers, hop
    assert headers["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "shop.example:8080"
    assert headers["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert headers["b3"] == "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
    assert headers["host"] == f"127.0.0.1:{upstream.port}"  # rewritten by default


def test_host_preserved_globally_or_per_route(stuntman, upstream):
    st = stuntman({"p.yaml": f"""
        - request: {{pathPrefix: /keep}}
          proxy: {{upstream: "{upstream.url}", preserveHost: true}}
    """}, upstream=upstream.url)
    _, data = get(st.port, "/keep/1", headers={"Host": "orig.example"})
    assert json.loads(data)["headers"]["Host"] == "orig.example"
    _, data = get(st.port, "/other", headers={"Host": "orig.example"})
    assert json.loads(data)["headers"]["Host"] == f"127.0.0.1:{upstream.port}"
    st2 = stuntman({}, upstream=upstream.url, preserve_host=True)
    _, data = get(st2.port, "/other", headers={"Host": "orig.example"})
    assert json.loads(data)["headers"]["Host"] == "orig.example"


def test_per_route_upstream_with_base_path_and_strip_prefix(stuntman, upstream):
    st = stuntman({"p.yaml": f"""
        - name: orders
          request: {{pathPrefix: /api/orders}}
          proxy: {{upstream: "{upstream.url}/v2", stripPrefix: /api}}
        - name: stub
          request: {{path: /api/products}}
          response: {{body: products}}
    """})
    _, data = get(st.port, "/api/orders/5?x=1")
    assert json.loads(data)["path"] == "/v2/orders/5?x=1"
    assert get(st.port, "/api/products")[1] == b"products"
    r, _ = get(st.port, "/api/elsewhere")  # no --upstream: unmatched is a 404
    assert r.status == 404 and r.getheader("X-Stuntman-Match") == "none"


def test_upstream_connections_are_pooled_and_kept_alive(stuntman, upstream):
    st = stuntman({}, upstream=upstream.url)
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    ports = {json.loads(get(st.port, f"/n/{i}", conn=conn)[1])["peer_port"] for i in range(20)}
    assert len(ports) == 1
    # a second client connection reuses the idle upstream connection too
    ports |= {json.loads(get(st.port, "/n/x")[1])["peer_port"]}
    assert len(ports) == 1


def test_upstream_closing_idle_pooled_connections_is_invisible_to_clients(stuntman):
    """Each upstream connection answers one request with keep-alive, then closes while idle."""
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url)
    for _ in range(5):
        r, data = get(st.port, "/x")
        assert (r.status, data) == (200, b"ok")
        time.sleep(0.15)  # let the upstream close the idle connection
    assert raw.connections == 5
    raw.close()


@pytest.mark.parametrize("head", [
    b"X-Pad: " + b"p" * 1_000_000 + b"\r\nContent-Length: 4\r\n\r\nhuge",  # one huge field
    b"X-Pad: pppppppppp\r\n" * 50_000 + b"Content-Length: 4\r\n\r\nhuge",   # many small ones
    b"X-Pad: " + b"p" * 1_000_000,  # a field line that never ends: held by llhttp, counted per read
], ids=["one-field", "many-fields", "endless-line"])
def test_a_huge_upstream_response_head_is_502_and_never_poisons_the_pool(stuntman, head):
    """A 1 MB response head is over --max-upstream-header-bytes: the client gets 502 naming the
    cause at once, the connection is closed, and the next request (on a fresh one) is answered."""
    def handler(conn):
        while read_request(conn):
            if raw.connections == 1:
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + head)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url, upstream_timeout=5)
    started = time.monotonic()
    answer = raw_exchange(st.port, b"GET /huge HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", timeout=10)
    assert time.monotonic() - started < 3  # not the upstream timeout (5 s)
    answered, _, body = answer.partition(b"\r\n\r\n")
    assert answered.startswith(b"HTTP/1.1 502 ") and b"x-stuntman-error: upstream-head-too-large" in answered.lower()
    assert b"65536" in body, answer[:300]
    started = time.monotonic()
    r, data = get(st.port, "/next")
    assert (r.status, data) == (200, b"ok") and time.monotonic() - started < 2
    assert raw.connections == 2  # the first connection was closed, not pooled
    raw.close()


def test_upstream_response_head_limit_is_a_setting(stuntman):
    def handler(conn):
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 3000 + b"\r\nContent-Length: 2\r\n\r\nok")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url, max_upstream_header_bytes=2000)
    r, _ = get(st.port, "/x")
    assert r.status == 502 and r.getheader("X-Stuntman-Error") == "upstream-head-too-large"
    st = stuntman({}, upstream=raw.url, max_upstream_header_bytes=4000)
    r, data = get(st.port, "/x")
    assert (r.status, data) == (200, b"ok")
    raw.close()


@pytest.mark.parametrize("length", ["1", ""])
def test_download_streams_chunked_and_content_length(stuntman, upstream, length):
    st = stuntman({}, upstream=upstream.url)
    r, data = get(st.port, f"/download?size=3000000&length={length}")
    assert r.status == 200
    assert data == _pattern(3_000_000)
    if length:
        assert r.getheader("Content-Length") == "3000000"
    else:
        assert r.getheader("Transfer-Encoding") == "chunked"


def _chunks(total: int, size: int = 65536):
    block = _pattern(size)
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield block[:n]
        sent += n


def test_upload_streams_with_content_length_and_chunked(stuntman, upstream):
    st = stuntman({}, upstream=upstream.url)
    total = 5_000_000
    digest = hashlib.sha256(b"".join(_chunks(total))).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=30)
    c.request("POST", "/upload", body=_chunks(total), headers={"Content-Length": str(total)})
    echo = json.loads(c.getresponse().read())
    assert echo == {"size": total, "sha256": digest, "chunked": None}
    c.request("POST", "/upload", body=_chunks(total), encode_chunked=True)
    echo = json.loads(c.getresponse().read())
    assert echo == {"size": total, "sha256": digest, "chunked": "chunked"}


def _rss_peak_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_100_mb_each_way_through_the_proxy_keeps_memory_flat(cli_server, upstream, tmp_path):
    """stuntman as users run it (subprocess): its peak RSS must not grow with the body size."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    proc, port = cli_server("--stubs", str(stubs), "--upstream", upstream.url)
    get(port, "/warm")
    before = _rss_peak_kb(proc.pid)
    total = 100 * 1024 * 1024

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", f"/download?size={total}")
    r = c.getresponse()
    received = 0
    digest = hashlib.sha256()
    while chunk := r.read(1 << 20):
        received += len(chunk)
        digest.update(chunk)
        time.sleep(0) if received % (10 << 20) else time.sleep(0.01)  # a slowish reader
    assert received == total
    assert digest.hexdigest() == hashlib.sha256(b"".join(_chunks(total))).hexdigest()

    c.request("PUT", "/upload", body=_chunks(total), encode_chunked=True)
    echo = json.loads(c.getresponse().read())
    assert echo["size"] == total
    grown_mb = (_rss_peak_kb(proc.pid) - before) / 1024
    assert grown_mb < 32, f"peak RSS grew by {grown_mb:.0f} MB while streaming 2 x 100 MB"


def test_upstream_refused_is_502_with_cause(stuntman):
    st = stuntman({}, upstream=f"http://127.0.0.1:{free_port()}")
    r, data = get(st.port, "/x")
    assert r.status == 502
    assert r.getheader("X-Stuntman-Error") == "upstream-refused"
    assert b"refused" in data


def test_upstream_slow_is_504_globally_and_per_route(stuntman, upstream):
    st = stuntman({"p.yaml": f"""
        - request: {{pathPrefix: /fast-timeout}}
          proxy: {{upstream: "{upstream.url}", timeoutMs: 200, stripPrefix: /fast-timeout}}
    """}, upstream=upstream.url, upstream_timeout=0.3)
    r, data = get(st.port, "/slow?s=3")
    assert r.status == 504 and r.getheader("X-Stuntman-Error") == "upstream-timeout"
    assert b"did not answer within 0.3 s" in data
    r, data = get(st.port, "/fast-timeout/slow?s=3")
    assert r.status == 504 and b"within 0.2 s" in data
    r, data = get(st.port, "/slow?s=0.05")  # and the connection pool still works afterwards
    assert (r.status, data) == (200, b"finally")


def test_upstream_reset_before_response_is_502(stuntman):
    def handler(conn):
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url)
    r, _ = get(st.port, "/x", method="POST", body=b"abc")
    assert r.status == 502 and r.getheader("X-Stuntman-Error") == "upstream-reset"
    raw.close()


def test_upstream_dying_mid_body_truncates_the_client_response(stuntman):
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url)
    data = raw_exchange(st.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", timeout=5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"content-length: 1000" in head.lower()
    assert body == b"x" * 100  # and then the connection was closed: never a silent short body
    raw.close()


def test_close_delimited_upstream_body_becomes_chunked_for_http11_clients(stuntman):
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url)
    data = raw_exchange(st.port, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    [(status, headers, body)] = parse_responses(data)
    assert status == 200 and headers["transfer-encoding"] == "chunked" and body == b"until the end"
    raw.close()


def test_a_close_delimited_upstream_body_ends_with_the_last_chunk_and_is_journaled_whole(stuntman):
    """The upstream's close is the end of its body (RFC 9112 §6.3): the client's chunked copy must
    end properly (a zero chunk), so a strict client reads it whole and the connection stays usable."""
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url, admin_port=0)
    data = raw_exchange(st.port, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"\r\n0\r\n\r\n"), data[-40:]
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=5)
    for _ in range(2):  # one client connection: the first response must be complete for the second
        conn.request("GET", "/x")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"until the end")
    conn.close()
    entries = json.loads(urllib.request.urlopen(f"{st.admin_url}/__admin/requests").read())
    assert {e["error"] for e in entries["requests"]} == {None}  # not "upstream-reset"
    raw.close()


def test_an_upstream_that_stalls_mid_body_is_cut_after_its_timeout_and_journaled(stuntman):
    """Head and part of the body, then nothing: the client is not held until the upstream closes.
    Nothing more of the body for the upstream timeout is `upstream-body-timeout`."""
    release = threading.Event()

    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
        release.wait(30)  # stalls, connection open

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url, upstream_timeout=0.5, admin_port=0)
    started = time.monotonic()
    data = raw_exchange(st.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", timeout=10)
    assert time.monotonic() - started < 5  # (a hang detector, not a performance bound)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head and body == b"x" * 100  # then the close: a truncated message
    entries = json.loads(urllib.request.urlopen(f"{st.admin_url}/__admin/requests").read())["requests"]
    assert entries[0]["error"] == "upstream-body-timeout"
    release.set()
    raw.close()


def test_an_upstream_fin_mid_body_is_upstream_closed_not_reset(stuntman):
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
        conn.shutdown(socket.SHUT_WR)  # a FIN, not an RST

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url, admin_port=0)
    raw_exchange(st.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", timeout=5)
    entries = json.loads(urllib.request.urlopen(f"{st.admin_url}/__admin/requests").read())["requests"]
    assert entries[0]["error"] == "upstream-closed"
    raw.close()


def test_upstream_hop_by_hop_response_headers_are_removed(stuntman):
    def handler(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\n"
                     b"Keep-Alive: timeout=5\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok")

    raw = RawUpstream(handler)
    st = stuntman({}, upstream=raw.url)
    r, data = get(st.port, "/x")
    assert data == b"ok" and r.getheader("X-Kept") == "yes"
    assert r.getheader("X-Internal") is None and r.getheader("Keep-Alive") is None
    raw.close()


def test_routes_matching_on_body_buffer_it_with_a_limit_while_others_stream(stuntman, upstream):
    st = stuntman({"p.yaml": """
        - name: big-orders
          request: {method: POST, path: /upload, body: {jsonPath: "$.big"}}
          response: {body: matched-on-body}
    """}, upstream=upstream.url, max_body_bytes=1000)
    r, data = get(st.port, "/upload", "POST", body=b'{"big": true}')
    assert data == b"matched-on-body"
    r, data = get(st.port, "/upload", "POST", body=b"y" * 5000)
    assert r.status == 413
    r, data = get(st.port, "/other-upload", "POST", body=b"y" * 5000)  # no body matcher: streams
    assert r.status == 200 and json.loads(data)["body_size"] == 5000


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory):
    """An https:// aiohttp upstream with a self-signed certificate for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    up = Upstream(ssl_context=ctx)
    yield up, cert
    up.stop()


def test_https_upstream_verified_with_a_ca_bundle(stuntman, tls_upstream):
    up, cert = tls_upstream
    st = stuntman({}, upstream=up.url, upstream_ca=cert)
    r, data = get(st.port, "/secure?x=1")
    assert r.status == 200 and json.loads(data)["path"] == "/secure?x=1"


def test_https_upstream_with_an_untrusted_certificate_is_502_unless_insecure(stuntman, tls_upstream):
    up, _ = tls_upstream
    st = stuntman({}, upstream=up.url)
    r, data = get(st.port, "/secure")
    assert r.status == 502 and r.getheader("X-Stuntman-Error") == "upstream-tls"
    assert b"certificate verify failed" in data
    st = stuntman({}, upstream=up.url, insecure_upstream=True)
    r, data = get(st.port, "/secure")
    assert r.status == 200
