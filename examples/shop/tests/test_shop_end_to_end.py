"""The three services for real, without stuntman: each started with its `python -m` entry point
on a free port, orders pointing at the real inventory and payments."""
from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SHOP = Path(__file__).resolve().parents[1]


class Service:
    def __init__(self, name: str, args: list[str], log: Path):
        self.name, self.log = name, log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"shop.{name}", "--port", "0", *args], cwd=SHOP,
            stdout=subprocess.PIPE, stderr=log.open("wb"), text=True)
        self.url = ""

    def wait_listening(self, timeout: float = 30.0) -> str:
        """Its first line of output: `NAME listening on http://127.0.0.1:PORT`."""
        with selectors.DefaultSelector() as selector:  # not select(): fds may be > 1024 here
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout)
        line = self.proc.stdout.readline() if ready else ""
        assert line.startswith(f"{self.name} listening on "), (line, self.log.read_text())
        self.url = line.split()[-1]
        return self.url

    def stop(self) -> int:
        self.proc.terminate()  # SIGTERM: a clean shutdown, exit 0
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def start(tmp_path):
    started: list[Service] = []

    def start(name: str, *args: str) -> Service:
        started.append(Service(name, list(args), tmp_path / f"{name}.log"))
        return started[-1]

    yield start
    for service in started:
        if service.proc.poll() is None:
            service.stop()
        service.proc.stdout.close()


def call(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_order_through_the_real_services(start):
    inventory = start("inventory", "--stock", "beans=5", "--stock", "kettle=0")
    payments = start("payments", "--limit", "100")
    inventory.wait_listening(), payments.wait_listening()
    orders = start("orders", "--inventory-url", inventory.url, "--payments-url", payments.url)
    orders.wait_listening()

    started = time.monotonic()
    status, order = call("POST", orders.url + "/orders", {"item": "beans", "qty": 2, "amount": 24.0})
    assert status == 201, order
    assert time.monotonic() - started < 5

    # the charge is real: payments has it, and the order can be read back
    assert call("GET", f"{payments.url}/api/payments/{order['payment']}") == (
        200, {"id": order["payment"], "amount": 24.0, "status": "captured"})
    assert call("GET", f"{orders.url}/orders/{order['id']}") == (200, order)

    # the real services' answers become orders' answers
    assert call("POST", orders.url + "/orders", {"item": "kettle", "qty": 1, "amount": 30})[0] == 409
    assert call("POST", orders.url + "/orders", {"item": "teapot", "qty": 1, "amount": 30})[0] == 404
    assert call("POST", orders.url + "/orders", {"item": "beans", "qty": 1, "amount": 500})[0] == 402

    # payments charges a key once, which is what makes orders' retries of a charge safe
    key = {"Idempotency-Key": "order-7"}
    first = call("POST", payments.url + "/api/payments", {"amount": 9.5}, key)
    again = call("POST", payments.url + "/api/payments", {"amount": 9.5}, key)
    assert first[0] == 201 and again == (200, first[1])

    # with payments stopped, orders says which dependency failed and why
    assert payments.stop() == 0
    status, failure = call("POST", orders.url + "/orders", {"item": "beans", "qty": 1, "amount": 5})
    assert (status, failure["dependency"], failure["reason"]) == (502, "payments", "connection error")

    for service in (orders, inventory):
        assert service.stop() == 0, service.log.read_text()
