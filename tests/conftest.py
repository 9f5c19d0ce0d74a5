"""Shared fixtures: stuntman and a real aiohttp upstream on loopback, each in its own thread.

Tests stay synchronous (http.client, raw sockets, subprocesses) while the servers run on their
own event loops, as they would in production.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import importlib
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from stuntman.settings import Settings
from stuntman.testing import InProcess, LoopThread

ROOT = Path(__file__).resolve().parents[1]
STUNTMAN = [sys.executable, "-m", "stuntman"]


pytest_plugins = ["pytester"]  # the pytest plugin's own tests run pytest on generated test files


def write_stubs(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))
    return directory


@pytest.fixture
def stuntman(tmp_path):
    """start(files={name: yaml}, **settings) → InProcess; everything started is stopped after."""
    started: list[InProcess] = []

    def start(files: dict[str, str] | None = None, **overrides) -> InProcess:
        stubs = write_stubs(tmp_path / f"stubs{len(started)}", files or {})
        overrides = {"admin_port": None, "watch": False, **overrides}  # tests opt in to both
        running = InProcess(replace(Settings(), stubs=stubs, port=0, **overrides))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


# -- the upstream: a real aiohttp server ------------------------------------------------------

def _pattern(size: int) -> bytes:
    block = bytes(range(256)) * 256  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response({
        "method": request.method,
        "path": request.path_qs,
        "headers": {k: v for k, v in request.headers.items()},
        "header_list": list(request.raw_headers and [(k.decode(), v.decode()) for k, v in request.raw_headers]),
        "body_size": len(body),
        "peer_port": request.transport.get_extra_info("peername")[1],
        "body": body.decode("utf-8", "replace") if len(body) < 4096 else None,
    })


async def _download(request: web.Request) -> web.StreamResponse:
    """GET /download?size=N: N bytes in 64 KiB writes; chunked unless ?length=1."""
    size = int(request.query["size"])
    resp = web.StreamResponse()
    if request.query.get("length"):
        resp.content_length = size
    await resp.prepare(request)
    block = _pattern(65536)
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        await resp.write(block[:n])
        sent += n
    await resp.write_eof()
    return resp


async def _upload(request: web.Request) -> web.Response:
    """Reads the body as a stream; answers its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest(),
                              "chunked": request.headers.get("Transfer-Encoding")})


async def _drip(request: web.Request) -> web.StreamResponse:
    """GET /drip?chunks=N&gap=S&size=B: N chunks of B bytes, S seconds apart (chunked)."""
    chunks, gap = int(request.query.get("chunks", "5")), float(request.query.get("gap", "0.1"))
    size = int(request.query.get("size", "1024"))
    resp = web.StreamResponse()
    await resp.prepare(request)
    for i in range(chunks):
        if i:
            await asyncio.sleep(gap)
        await resp.write(bytes([65 + i % 26]) * size)
    await resp.write_eof()
    return resp


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="finally")


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="status")


class Upstream:
    def __init__(self, ssl_context=None):
        self.thread = LoopThread()
        self.requests = 0
        app = web.Application(client_max_size=2**40)

        @web.middleware
        async def count(request, handler):
            self.requests += 1
            return await handler(request)

        app.middlewares.append(count)
        app.router.add_get("/download", _download)
        app.router.add_post("/upload", _upload)
        app.router.add_put("/upload", _upload)
        app.router.add_get("/slow", _slow)
        app.router.add_get("/drip", _drip)
        app.router.add_route("*", "/status/{code}", _status)
        app.router.add_route("*", "/{tail:.*}", _echo)
        self.runner = web.AppRunner(app, access_log=None)
        self.thread.call(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        self.thread.call(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"

    def stop(self):
        self.thread.call(self.runner.cleanup())
        self.thread.stop()


@contextlib.contextmanager
def serving(*routes: tuple[str, str, object]):
    """A small aiohttp upstream of (method, path, handler) routes: its URL while the block runs."""
    thread = LoopThread()
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    thread.call(runner.setup())
    port = free_port()
    thread.call(web.TCPSite(runner, "127.0.0.1", port).start())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        thread.call(runner.cleanup())
        thread.stop()


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.stop()


# -- helpers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check, what: str, timeout: float = 20.0):
    """check()'s first truthy value, polled every 10 ms; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last: {value!r}")
        time.sleep(0.01)


def send(port: int, path: str, headers: dict | None = None) -> socket.socket:
    """A GET sent on a connection of its own; its answer read later, or never (`leave`)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    fields = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n".encode())
    return sock


def leave(sock: socket.socket) -> None:
    """The client gives up: an abortive close (RST), as a client that times out often does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def wait_port(port: int, timeout: float = 10, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"stuntman exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port} after {timeout}s")


def run_cli(*args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*STUNTMAN, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


@pytest.fixture
def cli_server():
    """start(*args, env=...) → (Popen, port): `stuntman run` as a user starts it."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, env: dict | None = None, port: int | None = None):
        port = port or free_port()
        proc = subprocess.Popen(
            [*STUNTMAN, "run", "--port", str(port), "--admin-port", str(free_port()), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **(env or {})})
        procs.append(proc)
        wait_port(port, proc=proc)
        return proc, port

    yield start
    for proc in procs:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM (a graceful stop), and SIGKILL if it has not ended after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def call(port, method="GET", path="/", body=None, headers=None):
    """One request on a fresh connection → (status, {lower-case header: value}, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes, *, timeout: float = 5.0, half_close: bool = False) -> bytes:
    """Send raw bytes, return everything received until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def parse_responses(data: bytes, head_requests: int = 0) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes into (status, headers, body) responses with llhttp's response parser."""
    import httptools

    out: list = []

    class Collector:
        def on_message_begin(self):
            out.append([0, {}, []])

        def on_header(self, name, value):
            out[-1][1][name.decode().lower()] = value.decode()

        def on_headers_complete(self):
            out[-1][0] = parser.get_status_code()

        def on_body(self, body):
            out[-1][2].append(body)

    parser = httptools.HttpResponseParser(Collector())
    parser.feed_data(data)
    return [(s, h, b"".join(b)) for s, h, b in out]


class RawUpstream:
    """A socket server whose every connection is handled by `handler(conn)` in a thread:
    for upstream behaviour aiohttp will not produce (bad framing, early close, odd headers)."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.handler = handler
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            try:
                self.handler(conn)
            except OSError:
                pass

    def close(self):
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """Read one request head (and nothing more) from a raw connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


# -- gRPC: the fixture protos, and the client code a user would generate from them ------------------
GRPC_PROTOS = ROOT / "tests" / "fixtures" / "grpc-stubs" / "protos"
GRPC_COMMON = ROOT / "tests" / "fixtures" / "grpc-stubs" / "common"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """orders_pb2 and orders_pb2_grpc, generated from the fixture protos as a client would."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("generated")
    from importlib import resources

    well_known = str(resources.files("grpc_tools") / "_proto")
    assert protoc.main(["protoc", f"-I{GRPC_PROTOS}", f"-I{GRPC_COMMON}", f"-I{well_known}", f"--python_out={out}",
                        f"--grpc_python_out={out}", str(GRPC_PROTOS / "shop/v1/orders.proto"),
                        str(GRPC_COMMON / "money/v1/money.proto")]) == 0
    for package in ("shop", "shop/v1", "money", "money/v1"):  # regular packages: examples/shop's `shop`
        (out / package / "__init__.py").touch()            # (a regular one) would win over a namespace
    # (another test may have imported that other package named shop: set it aside meanwhile)
    ours = [n for n in sys.modules if n.split(".")[0] in ("shop", "money")]
    saved = {name: sys.modules.pop(name) for name in ours}
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("shop.v1.orders_pb2"), importlib.import_module("shop.v1.orders_pb2_grpc")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n.split(".")[0] in ("shop", "money")]:
            del sys.modules[name]
        sys.modules.update(saved)
