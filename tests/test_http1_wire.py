"""HTTP/1.1 conformance of the listener and the pass-through proxy, over raw sockets.

Every test speaks bytes to the data-plane port and asserts on what comes back on the wire:
status codes, framing headers, body bytes, and whether the server closed the connection.
No timing assertions: timeouts only keep a broken server from hanging the suite.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time

import pytest

from conftest import _pattern, free_port, parse_responses, raw_exchange

STUBS = {"wire.yaml": """
    - name: hello
      request: {method: GET, path: /hello}
      response: {status: 200, body: "hi"}
    - name: bye
      request: {method: GET, path: /bye}
      response: {status: 200, body: "bye"}
    - name: submit
      request: {method: POST, path: /submit}
      response: {status: 201, body: "got it"}
    - name: numbered
      request: {method: GET, path: "/n/{i}"}
      response: {body: "n={{path.i}}"}
"""}


# -- helpers ----------------------------------------------------------------------------------

class Response:
    def __init__(self, status: int, head: bytes, headers: list[tuple[str, str]], body: bytes):
        self.status, self.head, self.header_list, self.body = status, head, headers, body
        self.headers = {k: v for k, v in headers}  # lower-cased names, last one wins

    def count(self, name: str) -> int:
        return sum(1 for k, _ in self.header_list if k == name)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers} {self.body[:80]!r}>"


class Client:
    """One raw TCP connection with a read buffer; parses responses as HTTP/1.1 frames them."""

    def __init__(self, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"server closed the connection; unparsed: {self.buf[:200]!r}")
        self.buf += chunk

    def read_until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        out, self.buf = self.buf.split(sep, 1)
        return out + sep

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_close(self) -> bytes:
        while True:
            try:
                self._fill()
            except EOFError:
                out, self.buf = self.buf, b""
                return out

    def response(self, head: bool = False) -> Response:
        """One response; 1xx interim responses are returned too (the caller skips them)."""
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].split(b"\r\n")
        version, code = lines[0].split(b" ")[:2]
        assert version.startswith(b"HTTP/1."), lines[0]
        status = int(code)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        hd = {k: v for k, v in headers}
        if head or status in (204, 304) or status < 200:
            body = b""
        elif "chunked" in hd.get("transfer-encoding", ""):
            parts = []
            while True:
                size = int(self.read_until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")  # no trailers from this server
                    break
                parts.append(self.read_exact(size))
                assert self.read_exact(2) == b"\r\n"
            body = b"".join(parts)
        elif "content-length" in hd:
            body = self.read_exact(int(hd["content-length"]))
        else:
            body = self.read_to_close()
        return Response(status, raw, headers, body)

    def get(self, path: str, extra: bytes = b"", head: bool = False) -> Response:
        method = b"HEAD" if head else b"GET"
        self.send(method + b" " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")
        return self.response(head=head)

    def closed(self, timeout: float = 3.0) -> bool:
        """True when the server closed (EOF or reset) with nothing more sent; False on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return self.buf == b""
        if data:
            raise AssertionError(f"expected close, got more bytes: {data[:200]!r}")
        return self.buf == b""

    def still_open(self) -> bool:
        """Nothing to read right now (neither data nor EOF): the server holds the connection."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable


def drain(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send data; read until the server closes. Returns (bytes, closed): closed is False on timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            return b"".join(chunks), False
        except ConnectionResetError:
            pass
        return b"".join(chunks), True


def req(path: str, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def statuses(data: bytes) -> list[int]:
    return [s for s, _, _ in parse_responses(data)]


# -- 1. keep-alive ----------------------------------------------------------------------------

def test_keep_alive_two_requests_one_connection(stuntman):
    """HTTP/1.1 is persistent: two requests on one connection, both answered, connection kept."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        r1 = c.get("/hello")
        assert (r1.status, r1.body) == (200, b"hi")
        assert "close" not in r1.headers.get("connection", "")
        r2 = c.get("/bye")
        assert (r2.status, r2.body) == (200, b"bye")
        assert c.still_open()


def test_connection_close_request_closes(stuntman):
    """`Connection: close` → the response says so and the server closes after it."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        r = c.get("/hello", b"Connection: close\r\n")
        assert (r.status, r.body) == (200, b"hi")
        assert r.headers.get("connection") == "close"
        assert c.closed()


# -- 2. HTTP/1.0 ------------------------------------------------------------------------------

def test_http10_closes_without_keep_alive(stuntman):
    """An HTTP/1.0 request without keep-alive: answer, then close."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        c.send(b"GET /hello HTTP/1.0\r\n\r\n")
        r = c.response()
        assert (r.status, r.body) == (200, b"hi")
        assert r.headers.get("connection", "close") == "close"
        assert c.closed()


def test_http10_keep_alive(stuntman):
    """HTTP/1.0 + `Connection: keep-alive`: the server says keep-alive and keeps the connection."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        c.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.response()
        assert (r.status, r.body) == (200, b"hi")
        assert r.headers.get("connection", "").lower() == "keep-alive"
        assert not c.closed(0.3)
        c.send(b"GET /bye HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r2 = c.response()
        assert (r2.status, r2.body) == (200, b"bye")


def test_http10_client_chunked_upstream_gets_close_delimited_body(stuntman, upstream):
    """A chunked upstream response reaches an HTTP/1.0 client unchunked, ended by the close."""
    st = stuntman(upstream=upstream.url)
    with Client(st.port, timeout=10) as c:
        c.send(b"GET /download?size=100000 HTTP/1.0\r\n\r\n")
        r = c.response()
        assert r.status == 200
        assert "transfer-encoding" not in r.headers
        assert "content-length" not in r.headers
        assert r.headers.get("connection") == "close"
        assert len(r.body) == 100000 and r.body == _pattern(100000)


# -- 3. pipelining ----------------------------------------------------------------------------

def test_pipelining_mixed_stub_and_proxy_in_order(stuntman, upstream):
    """Pipelined requests (a slow proxied one first) are answered in request order."""
    st = stuntman(STUBS, upstream=upstream.url)
    data = (req("/slow?s=0.3") + req("/hello") + req("/echo-anything?n=3") + req("/bye")
            + req("/n/5", extra="Connection: close\r\n"))
    out, closed = drain(st.port, data, timeout=10)
    got = parse_responses(out)
    assert closed
    assert [s for s, _, _ in got] == [200] * 5
    assert got[0][2] == b"finally"
    assert got[1][2] == b"hi"
    assert json.loads(got[2][2])["path"] == "/echo-anything?n=3"
    assert got[3][2] == b"bye"
    assert got[4][2] == b"n=5"


def test_pipelining_200_tiny_requests(stuntman):
    """200 requests in one send: 200 answers, in order."""
    st = stuntman(STUBS)
    n = 200
    data = b"".join(req(f"/n/{i}") for i in range(n - 1)) + req(f"/n/{n - 1}", extra="Connection: close\r\n")
    out, closed = drain(st.port, data, timeout=10)
    got = parse_responses(out)
    assert closed
    assert len(got) == n
    assert [b for _, _, b in got] == [f"n={i}".encode() for i in range(n)]


# -- 4. request smuggling ---------------------------------------------------------------------

SMUGGLED = b"GET /bye HTTP/1.1\r\nHost: t\r\n\r\n"


def test_smuggling_cl_and_te_rejected(stuntman):
    """Content-Length with Transfer-Encoding → 400, close; the request hidden in it is not answered."""
    st = stuntman(STUBS)
    body = b"0\r\n\r\n" + SMUGGLED
    data = (b"POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % len(body)) + body
    out, closed = drain(st.port, data)
    got = parse_responses(out)
    assert [s for s, _, _ in got] == [400], out[:300]
    assert got[0][1].get("connection") == "close" and closed
    assert b"bye" not in out


def test_smuggling_bad_chunk_size_rejected(stuntman):
    """An invalid chunk size → 400 and close, nothing after it answered."""
    st = stuntman(STUBS)
    data = (b"POST /submit HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
    out, closed = drain(st.port, data)
    assert statuses(out) == [400], out[:300]
    assert b"connection: close" in out.lower() and closed
    assert b"bye" not in out


def test_smuggling_duplicate_content_length_rejected(stuntman):
    """Two different Content-Length values → 400; the bytes either could hide are not answered."""
    st = stuntman(STUBS)
    data = (b"POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n"
            % len(SMUGGLED)) + SMUGGLED
    out, closed = drain(st.port, data)
    assert statuses(out) == [400], out[:300]
    assert closed
    assert b"bye" not in out


def test_valid_chunked_request_with_pipelined_follower_is_served(stuntman):
    """Negative control for the smuggling tests: well-framed chunked body + next request → 2 answers."""
    st = stuntman(STUBS)
    data = (b"POST /submit HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n" + req("/bye", extra="Connection: close\r\n"))
    got = parse_responses(drain(st.port, data)[0])
    assert [(s, b) for s, _, b in got] == [(201, b"got it"), (200, b"bye")]


# -- 5. limits --------------------------------------------------------------------------------

def test_url_too_long_414(stuntman):
    """A request-target over max_url_bytes → 414; one just under it is served."""
    st = stuntman(STUBS, max_url_bytes=1024)
    with Client(st.port) as c:
        ok = c.get("/hello?" + "a" * 900)
        assert (ok.status, ok.body) == (200, b"hi")
    out, closed = drain(st.port, req("/hello?" + "a" * 2000))
    assert statuses(out) == [414], out[:300]
    assert closed


def test_too_many_headers_431(stuntman):
    """More than max_headers header fields → 431 and close; exactly max_headers is fine."""
    st = stuntman(STUBS, max_headers=20)
    fine = "".join(f"X-H{i}: v\r\n" for i in range(19))  # + Host = 20
    with Client(st.port) as c:
        assert c.get("/hello", fine.encode()).status == 200
    many = "".join(f"X-H{i}: v\r\n" for i in range(30))
    out, closed = drain(st.port, req("/hello", extra=many))
    got = parse_responses(out)
    assert [s for s, _, _ in got] == [431], out[:300]
    assert got[0][1].get("connection") == "close" and closed


def test_header_block_too_large_431(stuntman):
    """A head over max_header_bytes (many ordinary fields, one send) → 431."""
    st = stuntman(STUBS, max_header_bytes=4096)
    small = "".join(f"X-H{i}: {'v' * 40}\r\n" for i in range(20))  # ~1 KiB
    with Client(st.port) as c:
        assert c.get("/hello", small.encode()).status == 200
    big = "".join(f"X-H{i}: {'v' * 90}\r\n" for i in range(60))   # ~6 KiB, 60 fields
    out, closed = drain(st.port, req("/hello", extra=big))
    assert statuses(out) == [431], out[:300]
    assert closed


def test_enormous_header_value_in_pieces_431(stuntman):
    """One header value that keeps growing, sent in small pieces, is capped → 431 and close."""
    st = stuntman(STUBS, max_header_bytes=4096)
    with Client(st.port) as c:
        c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ")
        answered = False
        for _ in range(400):  # up to 400 KiB, far over the limit
            if not c.still_open():
                answered = True
                break
            try:
                c.send(b"a" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            time.sleep(0.002)
        assert answered, "server kept reading a head that never ends"
        r = c.response()
        assert r.status == 431
        assert r.headers.get("connection") == "close"
        assert c.closed()


# -- 6. timeouts ------------------------------------------------------------------------------

def test_idle_keep_alive_connection_closed(stuntman):
    """A keep-alive connection with no further request is closed after idle_timeout."""
    st = stuntman(STUBS, idle_timeout=0.5)
    with Client(st.port) as c:
        r = c.get("/hello")
        assert (r.status, r.body) == (200, b"hi")
        assert c.closed(timeout=3.0)
    with Client(st.port) as c:  # a connection that never sends anything, too
        assert c.closed(timeout=3.0)


def test_idle_timeout_not_applied_to_default(stuntman):
    """Negative control: with the default idle timeout the connection stays open for a while."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        assert c.get("/hello").status == 200
        assert not c.closed(timeout=1.0)


def _dribble(c: Client, data: bytes, seconds: float, interval: float = 0.1) -> bool:
    """Send data one byte per interval for at most `seconds`; True once the server answers/closes."""
    deadline = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > deadline:
            return False
        readable, _, _ = select.select([c.sock], [], [], interval)
        if readable:
            return True
        try:
            c.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_slowloris_gets_408(stuntman):
    """A head sent byte by byte, never completed within header_timeout → 408 and close."""
    st = stuntman(STUBS, header_timeout=0.5)
    with Client(st.port) as c:
        answered = _dribble(c, b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200, seconds=5)
        assert answered, "server waited for a head that never completed"
        r = c.response()
        assert r.status == 408
        assert r.headers.get("connection") == "close"
        assert c.closed()


def test_slowloris_after_pipelined_request_gets_408(stuntman, upstream):
    """A head left incomplete behind a request being answered still times out → 408 and close."""
    st = stuntman(STUBS, upstream=upstream.url, header_timeout=0.5)
    with Client(st.port) as c:
        c.send(req("/slow?s=0.2") + b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        r = c.response()
        assert (r.status, r.body) == (200, b"finally")
        answered = _dribble(c, b"a" * 200, seconds=5)
        assert answered, "the second, incomplete head was never timed out"
        r2 = c.response()
        assert r2.status == 408
        assert c.closed()


def test_slowloris_connections_do_not_block_others(stuntman):
    """While several slowloris connections are held open, a normal client is served."""
    st = stuntman(STUBS, header_timeout=20)
    slow = [Client(st.port) for _ in range(20)]
    try:
        for c in slow:
            c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: a")
        with Client(st.port, timeout=3) as normal:
            r = normal.get("/hello")
            assert (r.status, r.body) == (200, b"hi")
        assert all(c.still_open() for c in slow)  # they were really being held meanwhile
    finally:
        for c in slow:
            c.sock.close()


# -- 7. Expect: 100-continue ------------------------------------------------------------------

def test_expect_continue_stub(stuntman):
    """Expect: 100-continue on a stub route → 100 Continue first, then the final answer."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        c.send(b"POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_until(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"hello")
        r = c.response()
        assert (r.status, r.body) == (201, b"got it")
        # without Expect, no interim response
        c.send(b"POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        r2 = c.response()
        assert r2.status == 201 and r2.head.startswith(b"HTTP/1.1 201")


def test_expect_continue_proxied_upload(stuntman, upstream):
    """Expect: 100-continue through the proxy: 100 Continue, body goes up, upstream got it all."""
    st = stuntman(upstream=upstream.url)
    body = _pattern(100000)
    with Client(st.port, timeout=10) as c:
        c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               b"Expect: 100-continue\r\n\r\n" % len(body))
        interim = c.read_until(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(body)
        r = c.response()
        assert r.status == 200
        assert json.loads(r.body)["size"] == len(body)
        assert r.count("transfer-encoding") + r.count("content-length") == 1


# -- 8. HEAD ----------------------------------------------------------------------------------

def test_head_stub(stuntman):
    """HEAD on a stub: content-length of the GET body, no body bytes, connection reusable."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        c.send(req("/hello", "HEAD") + req("/hello"))
        h = c.response(head=True)
        assert h.status == 200 and h.headers.get("content-length") == "2"
        g = c.response()  # would read "hi" as a status line if HEAD had sent a body
        assert (g.status, g.body) == (200, b"hi")
        assert c.buf == b""


def test_head_proxied(stuntman, upstream):
    """HEAD through the proxy: upstream's content-length, no body, next GET on the same connection works."""
    st = stuntman(upstream=upstream.url)
    with Client(st.port, timeout=10) as c:
        h = c.get("/download?size=1000&length=1", head=True)
        assert h.status == 200 and h.headers.get("content-length") == "1000"
        assert "transfer-encoding" not in h.headers
        g = c.get("/download?size=1000&length=1")
        assert g.status == 200 and g.body == _pattern(1000)
        assert c.buf == b""
        g2 = c.get("/echo-anything")
        assert g2.status == 200 and json.loads(g2.body)["method"] == "GET"


# -- 9. malformed requests --------------------------------------------------------------------

def test_garbage_request_line_400(stuntman):
    """Garbage instead of a request line → 400 and close; a valid request line is served."""
    st = stuntman(STUBS)
    out, closed = drain(st.port, b"\x16\x03\x01\x00\xa5 garbage\r\n\r\n")
    got = parse_responses(out)
    assert [s for s, _, _ in got] == [400], out[:300]
    assert got[0][1].get("connection") == "close" and closed
    out, _ = drain(st.port, req("/hello", extra="Connection: close\r\n"))
    assert statuses(out) == [200]


def test_connect_501(stuntman):
    """CONNECT (forward proxying) → 501, and the connection is closed."""
    st = stuntman(STUBS)
    out, closed = drain(st.port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert statuses(out) == [501], out[:300]
    assert closed


# -- 10. no match -----------------------------------------------------------------------------

def test_unmatched_404_names_nearest_stub(stuntman):
    """No stub matches, no upstream → 404, x-stuntman-match: none, body names the nearest stub."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        r = c.get("/hellp")
        assert r.status == 404
        assert r.headers.get("x-stuntman-match") == "none"
        assert r.headers.get("content-type", "").startswith("text/plain")
        assert b"nearest: hello" in r.body
        ok = c.get("/hello")  # matched: no such header, and the connection survived the 404
        assert ok.status == 200 and "x-stuntman-match" not in ok.headers


def test_unmatched_404_json(stuntman):
    """With Accept: application/json the near-miss report is JSON naming the nearest stub."""
    st = stuntman(STUBS)
    with Client(st.port) as c:
        r = c.get("/hellp", b"Accept: application/json\r\n")
        assert r.status == 404
        assert r.headers.get("x-stuntman-match") == "none"
        assert r.headers.get("content-type", "").startswith("application/json")
        report = json.loads(r.body)
        assert report["nearest"][0]["name"] == "hello"
        assert report["request"]["url"] == "/hellp"


# -- 11. upstream errors ----------------------------------------------------------------------

def test_upstream_refused_502(stuntman):
    """Nothing listening upstream → 502 with x-stuntman-error; the client connection stays usable."""
    st = stuntman(STUBS, upstream=f"http://127.0.0.1:{free_port()}")
    with Client(st.port) as c:
        r = c.get("/nothing-here")
        assert r.status == 502
        assert r.headers.get("x-stuntman-error", "").startswith("upstream-")
        ok = c.get("/hello")
        assert (ok.status, ok.body) == (200, b"hi")


def test_upstream_timeout_504(stuntman, upstream):
    """Upstream slower than upstream_timeout → 504 x-stuntman-error: upstream-timeout; a fast one is fine."""
    st = stuntman(upstream=upstream.url, upstream_timeout=0.3)
    with Client(st.port, timeout=10) as c:
        r = c.get("/slow?s=3")
        assert r.status == 504
        assert r.headers.get("x-stuntman-error") == "upstream-timeout"
        ok = c.get("/slow?s=0")
        assert (ok.status, ok.body) == (200, b"finally")
        assert "x-stuntman-error" not in ok.headers


def test_stalled_request_body_gets_408_on_stub_and_proxy_routes(stuntman, upstream):
    """A body that stops arriving cannot hold a connection: 408 after body_timeout, then close."""
    st = stuntman({"s.yaml": "- {request: {method: POST, path: /submit}, response: {status: 201}}"},
                  upstream=upstream.url, body_timeout=0.5)
    for path in ("/submit", "/upload"):  # a stub, and a route streamed to the upstream
        data = raw_exchange(st.port, b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
                            b"Content-Length: 100\r\n\r\n" + b"x" * 10, timeout=10)
        [(status, headers, body)] = parse_responses(data)
        assert status == 408 and headers["connection"] == "close", path
        assert b"request body stalled" in body


def test_a_slow_but_steady_body_is_not_cut(stuntman):
    st = stuntman({"s.yaml": "- {request: {method: POST, path: /submit}, response: {status: 201}}"},
                  body_timeout=0.5)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):  # 8 x 0.2 s = 1.6 s in all, never 0.5 s without a byte
            time.sleep(0.2)
            sock.sendall(b"x")
        assert sock.recv(65536).startswith(b"HTTP/1.1 201")


def test_a_request_needs_one_host_and_a_version_spoken_here(stuntman):
    """RFC 9112 §3.2: an HTTP/1.1 request with no Host, or with two, is a 400 (and the connection
    closes); HTTP/1.0 may leave it out. A version other than 1.1 and 1.0 (HTTP/2.0 sent as text,
    HTTP/0.9 with headers) is a 505 or 400, not served as HTTP/1.1."""
    st = stuntman(STUBS)
    for request, status in ((b"GET /hello HTTP/1.1\r\n\r\n", 400),
                            (b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                            (b"GET /hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                            (b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505),
                            (b"GET /hello HTTP/0.9\r\nHost: a\r\n\r\n", 400),
                            (b"GET /hello HTTP/1.0\r\n\r\n", 200),
                            (b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200)):
        [(got, headers, body)] = parse_responses(raw_exchange(st.port, request))
        assert got == status, (request, got, body)
        if status != 200:
            assert headers["connection"] == "close" and b"stuntman:" in body
    # an earlier request on the connection is answered first, then the bad one, then the close
    data = raw_exchange(st.port, req("/hello") + b"GET /hello HTTP/1.1\r\n\r\n" + req("/hello"))
    assert statuses(data) == [200, 400]


def test_an_http_0_9_request_line_is_refused_when_the_line_ends(stuntman):
    """`GET /hello` with no version is HTTP/0.9: llhttp would wait for header lines such a client
    never sends, and the client used to get a 408 once the head timeout ran out. It gets a 400
    at once (the head timeout here is a minute; the socket gives up after 20 s), split or not."""
    st = stuntman(STUBS, header_timeout=60.0)
    for request in (b"GET /hello\r\n", b"GET /hello\n"):
        [(status, headers, body)] = parse_responses(raw_exchange(st.port, request, timeout=20))
        assert status == 400 and headers["connection"] == "close" and b"HTTP version" in body
    with socket.create_connection(("127.0.0.1", st.port), 20) as sock:
        sock.sendall(b"GET /hel")
        sock.sendall(b"lo")
        time.sleep(0.2)  # separate reads: the version is still unknown after these
        sock.sendall(b"\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """nginx on a free port answering 200 to everything: the reference for how an HTTP/1 server
    treats a malformed head. make test installs it (nginx-light) when it is missing."""
    assert os.access(NGINX, os.X_OK), "nginx is needed as the reference: apt-get install nginx-light"
    root, port = tmp_path_factory.mktemp("nginx"), free_port()
    (root / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; client_body_temp_path {root}; proxy_temp_path {root};\n"
        f"  fastcgi_temp_path {root}; uwsgi_temp_path {root}; scgi_temp_path {root};\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"hello\\n\"; }} }} }}\n")
    proc = subprocess.Popen([NGINX, "-p", str(root), "-c", str(root / "nginx.conf")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr and proc.stderr.read()
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


HEADS = {  # a request head → the status nginx answers, and stuntman's where it differs
    "no Host in 1.1": (b"GET /hello HTTP/1.1\r\n\r\n", 400, None),
    "two Hosts in 1.1": (b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, None),
    "two Hosts in 1.0": (b"GET /hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, None),
    "no Host in 1.0": (b"GET /hello HTTP/1.0\r\n\r\n", 200, None),
    "HTTP/2.0 as text": (b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505, None),
    "HTTP/0.9 spelt out": (b"GET /hello HTTP/0.9\r\nHost: a\r\n\r\n", 400, None),
    # the deviations (README, "HTTP/1.1 on the listener"): llhttp refuses a version it does not
    # know, where nginx serves a later 1.x minor as 1.1 (RFC 9110 §2.5) and answers 505 to 3.0;
    # nginx answers a request line with no version as HTTP/0.9 (a body with no head)
    "HTTP/1.2": (b"GET /hello HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n", 200, 400),
    "HTTP/3.0 as text": (b"GET /hello HTTP/3.0\r\nHost: a\r\n\r\n", 505, 400),
    "no version": (b"GET /hello\r\n", 0, 400),
}


@pytest.mark.parametrize("case", HEADS)
def test_a_malformed_head_gets_the_answer_nginx_gives(case, stuntman, nginx):
    """nginx is the oracle: the same bytes to both, the same status back, or the deviation the
    table names."""
    request, theirs, ours = HEADS[case]
    st = stuntman(STUBS)
    answer = raw_exchange(nginx, request)
    if theirs:
        assert answer.startswith(b"HTTP/1.1 %d " % theirs), answer[:60]
    else:
        assert answer == b"hello\n", answer  # HTTP/0.9: the body alone
    assert parse_responses(raw_exchange(st.port, request))[0][0] == (ours or theirs)
