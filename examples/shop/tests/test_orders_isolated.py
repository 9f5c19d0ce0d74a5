"""`orders` tested in isolation: its dependencies, inventory and payments, are one stuntman (the
pytest plugin's fixture), and each test makes them fail the way it needs — 503s, hangs, resets,
latency — to check orders' timeouts, retries, circuit breakers and time budget; and a session
with the real payments service, recorded through stuntman, replays with payments stopped.
"""
from __future__ import annotations

import asyncio
import math
import statistics

import aiohttp
import pytest
from aiohttp import web

from shop import payments
from stuntman.testing import InProcess

from .helpers import ORDER, circuits, eventually, place


async def test_order_is_confirmed(shop_dependencies, start_orders):
    stuntman = shop_dependencies
    orders = await start_orders()

    status, body, _ = await place(orders)

    assert status == 201, body
    assert body["status"] == "confirmed" and body["payment"].startswith("pay_")
    stuntman.verify("GET", "/api/inventory/beans", count=1)
    charge, = stuntman.requests(method="POST", path="/api/payments")
    assert charge["request"]["body"] == '{"amount": 24.0}'


async def test_out_of_stock_is_a_409_and_nothing_is_charged(stuntman, start_orders):
    stuntman.stub("GET", "/api/inventory/{item}", json={"item": "{{path.item}}", "available": 1})
    orders = await start_orders()

    status, body, _ = await place(orders, {"item": "grinder", "qty": 2, "amount": 90})

    assert (status, body) == (409, {"error": "out of stock", "item": "grinder", "available": 1})
    stuntman.verify("POST", "/api/payments", count=0)


async def test_payments_503_twice_then_200_succeeds_after_retries(stuntman, start_orders):
    stuntman.stub("GET", "/api/inventory/{item}", json={"item": "{{path.item}}", "available": 10})
    stuntman.stub("POST", "/api/payments", responses=[
        {"status": 503, "body": "busy"},
        {"status": 503, "body": "busy"},
        {"status": 200, "json": {"id": "pay_1", "status": "captured"}},
    ])
    orders = await start_orders(attempts=3)

    status, body, _ = await place(orders)

    assert status == 201, body
    assert body["payment"] == "pay_1"
    stuntman.verify("POST", "/api/payments", count=3)
    # retrying a charge is safe: the three attempts carry one Idempotency-Key
    keys = {value for entry in stuntman.requests(method="POST", path="/api/payments")
            for name, value in entry["request"]["headers"] if name.lower() == "idempotency-key"}
    assert len(keys) == 1
    assert (await circuits(orders))["payments"] == "closed"  # the success reset the failure count


@pytest.mark.parametrize("budget, attempts, made", [
    (2.0, 3, {3}),      # 3 attempts of 0.5 s and their backoff fit in 2 s: the attempts run out
    (1.2, 10, {2, 3}),  # the budget runs out first (a third attempt gets what is left, if enough)
], ids=["attempts-run-out", "budget-runs-out"])
async def test_inventory_hang_fails_within_the_time_budget(shop_dependencies, start_orders,
                                                           budget, attempts, made):
    stuntman = shop_dependencies
    stuntman.fault("inventory", type="hang")  # the stub named "inventory" never answers
    orders = await start_orders(budget=budget, call_timeout=0.5, attempts=attempts)

    status, body, elapsed = await place(orders)

    assert status == 504, body
    assert (body["dependency"], body["reason"]) == ("inventory", "timeout")
    assert "inventory" in body["error"] and "timeout" in body["error"]
    assert body["attempts"] in made
    # a functional bound (the budget is kept), not a performance figure: generous on a busy machine
    assert elapsed < budget + 1.0
    stuntman.verify("POST", "/api/payments", count=0)


async def test_payments_resets_open_the_breaker_which_half_opens_and_closes(
        shop_dependencies, start_orders):
    stuntman = shop_dependencies
    stuntman.fault("/api/payments", method="POST", type="reset", first_n=5)
    cooldown = 1.0  # short for the test; long enough that the fail-fast checks finish inside it
    orders = await start_orders(attempts=3, breaker_threshold=5, breaker_cooldown=cooldown)

    # order 1: three attempts, three resets; the breaker has counted 3 consecutive failures
    status, body, _ = await place(orders)
    assert (status, body["reason"], body["attempts"]) == (502, "connection error", 3), body
    # order 2: two more resets make 5: the circuit opens and the third attempt is refused
    status, body, _ = await place(orders)
    assert (status, body["dependency"], body["reason"]) == (503, "payments", "circuit open"), body
    await eventually(lambda: stuntman.count("POST", "/api/payments") == 5)
    assert (await circuits(orders))["payments"] == "opened"

    # while open, orders fail fast and payments sees nothing more
    for _ in range(3):
        status, body, elapsed = await place(orders)
        assert (status, body["reason"], body["attempts"]) == (503, "circuit open", 1), body
        assert elapsed < 0.5  # no call timeout waited out: nothing was sent
    assert stuntman.count("POST", "/api/payments") == 5

    # after the cool-down, the next call is a trial; it succeeds (the fault's 5 are spent): closed
    await asyncio.sleep(cooldown + 0.1)
    assert (await circuits(orders))["payments"] == "half-opened"
    status, body, _ = await place(orders)
    assert status == 201, body
    assert (await circuits(orders))["payments"] == "closed"
    assert stuntman.count("POST", "/api/payments") == 6


async def test_inventory_latency_keeps_p95_within_the_slo(stuntman, start_orders):
    slo_p95 = 0.75  # seconds: a functional SLO with room for a busy machine
    stuntman.stub("GET", "/api/inventory/{item}", json={"item": "{{path.item}}", "available": 100},
                  faults=[{"type": "latency", "normal": {"mean_ms": 300, "stddev_ms": 30},
                           "max_ms": 400, "seed": 7}])
    stuntman.stub("POST", "/api/payments", status=201, json={"id": "pay_{{uuid}}", "status": "captured"})
    # the call timeout sits well above the injected latency (at most 400 ms): no order times out,
    # and one that did would take 0.8 s plus a retry: past the SLO
    orders = await start_orders(call_timeout=0.8)

    results = await asyncio.gather(*(place(orders) for _ in range(40)))

    assert [status for status, _, _ in results] == [201] * 40
    durations = sorted(elapsed for _, _, elapsed in results)
    p95 = durations[math.ceil(0.95 * len(durations)) - 1]
    assert p95 < slo_p95, f"p95 {p95:.3f}s over the SLO; all: {[round(d, 3) for d in durations]}"
    assert statistics.median(durations) >= 0.25  # the latency was injected
    stuntman.verify("GET", "/api/inventory/beans", count=40)  # not one retry


async def test_a_recorded_payments_session_replays_with_payments_stopped(stuntman, start_orders, tmp_path):
    # the plugin's fixture has no record/replay settings: two stuntmen of stuntman.testing record
    # and replay; inventory stays a stub of the fixture's
    stuntman.stub("GET", "/api/inventory/{item}", json={"item": "{{path.item}}", "available": 10})
    stubs, recordings = tmp_path / "stubs", tmp_path / "recordings"
    stubs.mkdir()
    real = web.AppRunner(payments.create_app())  # the real payments service, on a free port
    await real.setup()
    await web.TCPSite(real, "127.0.0.1", 0).start()
    host, port = real.addresses[0][:2]
    payments_url = f"http://{host}:{port}"

    recorder = InProcess.start(stubs, upstream=payments_url, recordings=recordings, record_to="payments")
    try:
        orders = await start_orders(payments_url=recorder.url)
        status, recorded, _ = await place(orders)
        assert status == 201, recorded
    finally:
        recorder.stop()
    await real.cleanup()  # payments is stopped
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as session:
            await session.get(payments_url + "/health")

    replayer = InProcess.start(stubs, recordings=recordings, replay=("payments",))  # strict
    try:
        orders = await start_orders(payments_url=replayer.url)
        status, replayed, _ = await place(orders)
        assert status == 201, replayed
        assert replayed["payment"] == recorded["payment"]  # the recorded charge, answered again
        # strict: a charge that was never recorded is not invented (stuntman's 404 → orders' 502)
        status, body, _ = await place(orders, {**ORDER, "amount": 99.0})
        assert (status, body["dependency"], body["reason"]) == (502, "payments", "bad response"), body
        assert "unexpected answer 404" in body["detail"]
    finally:
        replayer.stop()
