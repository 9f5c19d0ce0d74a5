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
import time

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


def degrading_inventory(stuntman) -> tuple[float, float]:
    """From now on inventory slows down with its load, as a queueing server does: 1 s, plus 250 ms
    for each request already in flight. (base, per) in seconds."""
    stuntman.fault("inventory", type="load_latency", base_ms=1000, per_inflight_ms=250, max_ms=8000, key="session")
    return 1.0, 0.25


async def test_a_bulkhead_keeps_a_degrading_inventory_from_taking_orders_down(stuntman, start_orders):
    stuntman.stub("GET", "/api/inventory/{item}", json=INVENTORY, name="inventory")
    stuntman.stub("POST", "/api/payments", status=201, json=PAYMENT, name="payments")
    payment_lookup_stub(stuntman)
    orders = await start_orders(**SLOW_ORDERS, inventory_bulkhead=BulkheadPolicy(4, max_wait=0.05))
    status, earlier, _ = await place(orders)
    assert status == 201, earlier
    base, per = degrading_inventory(stuntman)

    # 12 orders at once: 4 get a place, 8 are refused at once rather than pile onto inventory
    pending = [asyncio.create_task(place(orders)) for _ in range(12)]
    await eventually(lambda: sum(task.done() for task in pending) == 8, timeout=10)
    refused = [task.result() for task in pending if task.done()]
    held = [task for task in pending if not task.done()]
    assert [(s, b["reason"]) for s, b, _ in refused] == [(503, "bulkhead full")] * 8, refused
    # meanwhile the payments-only path answers, its call reaching payments while inventory holds 4
    status, lookup = await payment_of(orders, earlier["id"])
    assert (status, lookup["payment"]["id"]) == (200, earlier["payment"]), lookup
    assert (await health(orders))["bulkheads"]["inventory"]["in_use"] == 4

    assert not any(task.done() for task in held), "payments answered while inventory held 4 orders"

    assert [status for status, _, _ in await asyncio.gather(*held)] == [201] * 4
    inventory = [e for e in stuntman.requests("GET", "/api/inventory/beans") if fired(e, "load_latency")]
    loads = sorted(fired(entry, "load_latency")["state"]["inFlight"] for entry in inventory)
    # inventory never had more than the bulkhead's 4: the load, and so its latency, stayed capped
    assert loads == [0, 1, 2, 3], inventory
    assert max(fired(e, "load_latency")["state"]["delayMs"] for e in inventory) == (base + 3 * per) * 1000
    lookup_call, = stuntman.requests("GET", f"/api/payments/{earlier['payment']}")
    assert began(lookup_call) < min(ended(entry) for entry in inventory), "payments waited for inventory"


async def test_without_a_bulkhead_a_degrading_inventory_slows_every_order(stuntman, start_orders):
    """The control: with no bulkhead all 12 orders pile onto inventory, each one slowing the rest."""
    stuntman.stub("GET", "/api/inventory/{item}", json=INVENTORY, name="inventory")
    stuntman.stub("POST", "/api/payments", status=201, json=PAYMENT, name="payments")
    orders = await start_orders(**{**SLOW_ORDERS, "connections": 16}, inventory_bulkhead=None)
    base, per = degrading_inventory(stuntman)

    results = await asyncio.gather(*(place(orders) for _ in range(12)))

    assert [status for status, _, _ in results] == [201] * 12, results
    inventory = stuntman.requests("GET", "/api/inventory/beans")
    loads = [fired(entry, "load_latency")["state"] for entry in inventory]
    assert len(loads) == 12
    # more than a bulkhead of 4 would let through, and the latency they all paid grew with it
    assert max(load["inFlight"] for load in loads) > 4, loads
    assert max(load["delayMs"] for load in loads) > (base + 4 * per) * 1000, loads


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


# -- circuit breaker -----------------------------------------------------------------------------

async def test_the_breaker_opens_on_a_flap_down_half_opens_and_closes_once_it_is_up(
        shop_dependencies, start_orders):
    stuntman = shop_dependencies
    threshold, cooldown, down_s = 3, 1.0, 4.0
    # one attempt per order: each order is one call, so the breaker counts orders
    orders = await start_orders(attempts=1, breaker_threshold=threshold, breaker_cooldown=cooldown)
    states = [(await circuits(orders))["payments"]]  # the circuit's states in turn, as /health shows them
    assert states == ["closed"]

    # payments is down (503) for down_s from the moment the fault is loaded, then up (for long)
    before_flap = time.time()
    stuntman.fault("payments", type="flap", start="down", down_s=down_s, up_s=600,
                   fault={"type": "error", "status": 503})

    # closed → opened: `threshold` failed calls in the down phase, the last of which opens it
    for _ in range(threshold):
        opening = time.time()
        status, body, _ = await place(orders)
        assert (status, body["reason"]) == (502, "bad status"), body
    states.append((await circuits(orders))["payments"])
    assert states[-1] == "opened"
    # opened: orders fail fast, nothing is sent (the cool-down has barely begun)
    status, body, _ = await place(orders)
    assert (status, body["reason"], body["attempts"]) == (503, "circuit open", 1), body
    assert stuntman.count("POST", "/api/payments") == threshold

    # each cool-down ends in half-opened: the next order is the trial; in the down phase it fails
    # and the circuit opens again; the first trial after the down phase closes it
    trials: list[tuple[float, int]] = []  # (when half-opened was seen, the trial's status)
    opened_at = opening  # no later than this the circuit opened
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 30 + down_s
    while states[-1] != "closed":
        assert loop.time() < give_up, (states, trials)
        await eventually(lambda: circuit_is(orders, "payments", "half-opened"), timeout=10 + cooldown)
        seen = time.time()
        assert seen >= opened_at + cooldown, "half-opened before the cool-down was over"
        states.append("half-opened")
        opened_at = time.time()
        status, body, _ = await place(orders)
        trials.append((seen, status))
        states.append((await circuits(orders))["payments"])
        assert (status, states[-1]) in ((502, "opened"), (201, "closed")), (status, body, states)

    assert len(trials) >= 2, f"no trial failed in the down phase: {trials}"
    assert states == ["closed", "opened"] + ["half-opened", "opened"] * (len(trials) - 1) + ["half-opened", "closed"]
    assert [status for _, status in trials] == [502] * (len(trials) - 1) + [201]

    # the journal: only the threshold's calls and the trials reached payments; each in the down
    # phase met the flap's 503, and the call that closed the circuit reached payments no sooner
    # than the down phase's end
    charges = sorted(stuntman.requests("POST", "/api/payments"), key=lambda e: e["id"])
    assert len(charges) == threshold + len(trials)
    assert [e["response"]["status"] for e in charges] == [503] * (len(charges) - 1) + [201]
    assert all(fired(e, "flap") for e in charges[:-1])
    assert began(charges[-1]) >= before_flap + down_s - 0.002


async def circuit_is(orders, dependency: str, state: str) -> bool:
    return (await circuits(orders))[dependency] == state
