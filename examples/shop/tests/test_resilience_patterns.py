"""orders' bulkhead, rate-limit handling and circuit breaker, each against the stuntman fault that
exercises it across requests: `concurrency_limit` and `load_latency` (a slow inventory that
degrades with load), `rate_limit` (payments answering 429 with Retry-After), `flap` (payments
down and up again on a schedule).

Timing is asserted only from below (a retry came no sooner than Retry-After said, the circuit
closed no sooner than the route came back up) or as an order of events (what answered while the
slow calls were still held); upper bounds are generous functional ones, for a busy 2-core machine.
"""
from __future__ import annotations

import asyncio

from shop.resilience import BulkheadPolicy

from .helpers import ORDER, began, circuits, ended, eventually, fired, health, place

INVENTORY = {"item": "{{path.item}}", "available": 10}
PAYMENT = {"id": "pay_{{uuid}}", "status": "captured"}


def payment_lookup_stub(stuntman) -> None:
    """GET /api/payments/{id}: what orders' GET /orders/{id}/payment asks payments."""
    stuntman.stub("GET", "/api/payments/{id}", json={"id": "{{path.id}}", "amount": 24.0, "status": "captured"},
                  name="payment-lookup")


async def payment_of(orders, order_id: str) -> tuple[int, dict]:
    async with orders.get(f"/orders/{order_id}/payment") as resp:
        return resp.status, await resp.json()


# -- bulkhead ------------------------------------------------------------------------------------

def slow_inventory(stuntman) -> None:
    """From now on inventory is slow (2 s) and takes at most 4 requests at once: a fifth is turned
    away (503) by the stand-in, so a client that sends more than 4 at once shows in the journal."""
    stuntman.fault("inventory", type="concurrency_limit", max=4, queue=0, key="session")
    stuntman.fault("inventory", type="latency", fixed_ms=2000)


SLOW_ORDERS = dict(
    budget=10, call_timeout=8, attempts=1,  # nothing times out: the slow calls are held, not cut
    connections=8)  # a small pool that both dependencies' calls share


async def test_a_slow_inventory_holds_at_most_the_bulkhead_and_payments_still_answers(
        stuntman, start_orders):
    stuntman.stub("GET", "/api/inventory/{item}", json=INVENTORY, name="inventory")
    stuntman.stub("POST", "/api/payments", status=201, json=PAYMENT, name="payments")
    payment_lookup_stub(stuntman)
    # 4 inventory calls at most (half the pool), a 50 ms wait for a place
    orders = await start_orders(**SLOW_ORDERS, inventory_bulkhead=BulkheadPolicy(4, max_wait=0.05))
    status, earlier, _ = await place(orders)  # an order from before: its payment is read back below
    assert status == 201, earlier
    slow_inventory(stuntman)

    # 4 orders take every place of the bulkhead and hold it for the 2 s inventory takes
    slow = [asyncio.create_task(place(orders)) for _ in range(4)]
    await eventually(lambda: bulkhead_in_use(orders, 4), timeout=10)

    # orders beyond the bulkhead fail fast, from orders itself: 503, nothing sent to inventory
    more = await asyncio.gather(*(place(orders) for _ in range(8)))
    assert [(s, b.get("dependency"), b.get("reason")) for s, b, _ in more] == \
        [(503, "inventory", "bulkhead full")] * 8, more
    assert not any(task.done() for task in slow), "they answered while the slow orders were held"
    # payments, whose calls the slow inventory cannot crowd out of the pool, answers meanwhile
    status, lookup = await payment_of(orders, earlier["id"])
    assert (status, lookup["payment"]["id"]) == (200, earlier["payment"]), lookup
    assert not any(task.done() for task in slow), "payments answered while inventory held 4"
    assert (await health(orders))["bulkheads"]["inventory"] == {"max": 4, "in_use": 4, "waiting": 0, "rejected": 8}

    results = await asyncio.gather(*slow)
    assert [status for status, _, _ in results] == [201] * 4, results
    # the stand-in never had more than 4 at once: it turned nothing away
    inventory = stuntman.requests("GET", "/api/inventory/beans")
    assert len(inventory) == 1 + 4
    assert [entry for entry in inventory if fired(entry, "concurrency_limit")] == []
    assert (await health(orders))["bulkheads"]["inventory"]["in_use"] == 0


async def test_without_a_bulkhead_the_slow_inventory_gets_every_order(stuntman, start_orders):
    """The control: the same load with no bulkhead sends inventory as many orders at once as the
    pool has connections (8), and the stand-in's concurrency_limit turns the excess away: what the
    test above would see if its bulkhead let more than 4 through."""
    stuntman.stub("GET", "/api/inventory/{item}", json=INVENTORY, name="inventory")
    stuntman.stub("POST", "/api/payments", status=201, json=PAYMENT, name="payments")
    orders = await start_orders(**SLOW_ORDERS, inventory_bulkhead=None)
    slow_inventory(stuntman)

    results = await asyncio.gather(*(place(orders) for _ in range(12)))

    inventory = stuntman.requests("GET", "/api/inventory/beans")
    refused = [entry for entry in inventory if fired(entry, "concurrency_limit")]
    assert len(inventory) == 12
    assert refused and {entry["response"]["status"] for entry in refused} == {503}
    assert {fired(entry, "concurrency_limit")["state"]["inFlight"] for entry in refused} == {4}
    assert sorted((s, b.get("reason")) for s, b, _ in results) == \
        [(201, None)] * (12 - len(refused)) + [(502, "bad status")] * len(refused), results
    assert (await health(orders))["bulkheads"] == {}


async def bulkhead_in_use(orders, count: int) -> bool:
    return (await health(orders))["bulkheads"]["inventory"]["in_use"] == count


# -- rate limits ---------------------------------------------------------------------------------

async def test_a_429_is_retried_no_sooner_than_its_retry_after(shop_dependencies, start_orders):
    stuntman = shop_dependencies
    # one charge a second (a window opens with its first charge): the second order's charge is
    # turned away with 429 and Retry-After: 1 (whole seconds)
    stuntman.fault("payments", type="rate_limit", limit=1, window_s=1, key="session")
    orders = await start_orders(budget=5, attempts=3)

    status, first, _ = await place(orders)
    assert status == 201, first
    status, second, elapsed = await place(orders)

    assert status == 201, second  # it waited out the Retry-After and the retry was admitted
    charges = sorted(stuntman.requests("POST", "/api/payments"), key=lambda e: e["id"])
    assert [entry["response"]["status"] for entry in charges] == [201, 429, 201]
    limited, retry = charges[1], charges[2]
    retry_after = fired(limited, "rate_limit")["state"]["retryAfterS"]
    assert retry_after >= 1
    # the retry reached payments no sooner than Retry-After after the 429 went out (the journal
    # keeps milliseconds: 2 ms of rounding allowed); no upper bound: a busy machine only delays it
    assert began(retry) - ended(limited) >= retry_after - 0.002, (began(retry), ended(limited))
    assert elapsed >= retry_after
    assert not fired(retry, "rate_limit")
    assert (await circuits(orders))["payments"] == "closed"


async def test_a_retry_after_beyond_the_budget_is_not_waited_for(shop_dependencies, start_orders):
    stuntman = shop_dependencies
    # one charge a minute: the second order's charge gets Retry-After: 60, far beyond its 5 s budget
    stuntman.fault("payments", type="rate_limit", limit=1, window_s=60, key="session")
    budget = 5.0
    # breaker_threshold=1: a 429 is the dependency answering, not failing, and must not open it
    orders = await start_orders(budget=budget, attempts=3, breaker_threshold=1)

    status, first, _ = await place(orders)
    assert status == 201, first
    status, body, elapsed = await place(orders)

    # orders gives up at once: 503 naming payments and the rate limit, the wait passed on
    assert (status, body["dependency"], body["reason"], body["attempts"]) == (503, "payments", "rate limited", 1)
    assert "Retry-After 60s" in body["detail"] and "not waited" in body["detail"], body
    # not one retry, and the order did not sit out its budget waiting (a generous bound: it
    # answered before the budget ran out, which waiting even once would have overrun)
    stuntman.verify("POST", "/api/payments", count=2)
    assert elapsed < budget
    assert (await circuits(orders))["payments"] == "closed"
    async with orders.post("/orders", json=ORDER) as resp:
        assert resp.status == 503
        assert 55 <= int(resp.headers["Retry-After"]) <= 60  # payments' wait, passed on to orders' client
