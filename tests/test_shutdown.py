"""Graceful shutdown: on SIGTERM stuntman stops accepting, finishes what is in flight (bounded by
--drain-timeout), says it is draining on /__admin/ready, and exits 0. Driven as a user's
container runtime does: a `stuntman run` process and a signal."""
from __future__ import annotations

import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import call, free_port, wait_port, write_stubs

STUBS = {"s.yaml": """
    - request: {path: /slow}
      response: {body: done}
      faults: [{type: latency, fixed_ms: 600}]
    - request: {path: /hang}
      response: {body: never}
      faults: [{type: hang}]
    - request: {path: /fast}
      response: {body: fast}
"""}


def start(cli_server, tmp_path, *args):
    admin = free_port()
    proc, port = cli_server("--stubs", str(write_stubs(tmp_path / "s", STUBS)), "--admin-port", str(admin), *args)
    wait_port(admin)
    assert "fault seed" in proc.stdout.readline()
    return proc, port, f"http://127.0.0.1:{admin}"


def ready(admin_url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(admin_url + "/__admin/ready", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sigterm_finishes_every_request_in_flight_and_takes_no_new_ones(cli_server, tmp_path):
    proc, port, admin_url = start(cli_server, tmp_path)
    assert ready(admin_url) == (200, {"status": "ready"})
    idle = socket.create_connection(("127.0.0.1", port))  # a keep-alive connection with nothing to do
    idle.sendall(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
    assert idle.recv(1000).startswith(b"HTTP/1.1 200")
    results: list = []

    def client() -> None:
        try:
            results.append(call(port, "GET", "/slow"))
        except OSError as exc:
            results.append(exc)

    clients = [threading.Thread(target=client) for _ in range(40)]
    for t in clients:
        t.start()
    time.sleep(0.25)  # all 40 are waiting on their 600 ms delay
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    assert ready(admin_url) == (503, {"status": "draining"})
    assert idle.recv(1000) == b""  # the idle connection is closed at once
    with pytest.raises(OSError):  # no new connections
        call(port, "GET", "/fast")
    for t in clients:
        t.join(10)
    assert len(results) == 40 and all(not isinstance(r, Exception) for r in results), results
    assert all(status == 200 and body == b"done" and headers.get("connection") == "close"
               for status, headers, body in results)
    assert proc.wait(10) == 0
    assert "stopped (drained)" in proc.stdout.read()


def test_the_drain_timeout_bounds_the_wait(cli_server, tmp_path):
    proc, port, _ = start(cli_server, tmp_path, "--drain-timeout", "0.5")
    hung = socket.create_connection(("127.0.0.1", port))
    hung.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert 0.5 <= time.monotonic() - started < 5
    assert "1 connection(s) cut at --drain-timeout" in proc.stdout.read()
    hung.settimeout(5)
    assert hung.recv(100) == b""


def test_ready_needs_no_token_when_the_rest_of_the_admin_api_does(cli_server, tmp_path):
    _, _, admin_url = start(cli_server, tmp_path, "--admin-token", "s3cret")
    assert ready(admin_url) == (200, {"status": "ready"})
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(admin_url + "/__admin/health", timeout=5)
    assert denied.value.code == 401


def test_an_in_process_stuntman_gives_back_its_descriptors_when_stopped(tmp_path):
    """Each InProcess left its event loop's epoll and wake-up descriptors open (6 a server), so a
    whole test run passed 1,024 and select() in other tests failed. Stopping closes the loop."""
    import os

    from stuntman.testing import InProcess

    stubs = write_stubs(tmp_path / "s", {"s.yaml": "- {request: {path: /x}, response: {body: ok}}\n"})

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    InProcess.start(stubs).stop()  # (anything opened once per process, the first time)
    before = open_descriptors()
    for _ in range(10):
        running = InProcess.start(stubs)
        assert call(running.port, "GET", "/x")[2] == b"ok"
        running.stop()
    assert open_descriptors() <= before + 1, (before, open_descriptors())
