"""orders: takes an order, checks stock at inventory, charges payments.

    POST /orders {"item": "beans", "qty": 2, "amount": 24.0}
        → 201 {"id": "ord_…", "item", "qty", "amount", "status": "confirmed", "payment": "pay_…"}
        → 400 a bad order · 404 unknown item · 409 out of stock · 402 payment declined
        → 502 / 503 / 504 a dependency failed:
          {"error": "payments circuit open", "dependency": "payments", "reason": "circuit open",
           "detail": "...", "attempts": 1}
    GET /orders/{id}          →  the order
    GET /orders/{id}/payment  →  {"order": "ord_…", "payment": {…}}: the charge as payments has it now
    GET /health               →  {"status": "ok", "circuits": {"inventory": "closed", "payments": "opened"},
                                  "bulkheads": {"inventory": {"max": 100, "in_use": 3, "waiting": 0, "rejected": 0}}}

Every order has a time budget (`budget`, 2 s): both calls, their retries and the backoff between
them fit in it, and an order that cannot finish in it answers 504 rather than wait. Each call has
its own timeout, is retried on 5xx, connection errors and timeouts with exponential backoff and
full jitter (after a 429, as long as its Retry-After says, if the budget has that long), and goes
through its dependency's circuit breaker (see resilience.py). The charge is retried safely: every
attempt of one order carries the same Idempotency-Key. The inventory calls go through a bulkhead:
at most `inventory_bulkhead.max_concurrent` at once, so a slow inventory cannot take every
connection of the pool and leave payments' calls (the payment lookup) waiting behind it; an
order beyond them answers 503 at once (`bulkhead full`) instead of queueing.

    python -m shop.orders --port 8001 --inventory-url http://127.0.0.1:8002 \
        --payments-url http://127.0.0.1:8003
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from .resilience import (
    BAD_RESPONSE,
    BULKHEAD_FULL,
    CIRCUIT_OPEN,
    RATE_LIMITED,
    TIMEOUT,
    BulkheadPolicy,
    CallFailed,
    Dependencies,
    Policy,
)
from .serve import arguments, run

log = logging.getLogger("shop.orders")


# at most this many inventory calls at once: half the pool, so the other half is always payments'
INVENTORY_BULKHEAD = BulkheadPolicy(max_concurrent=100, max_wait=0.1)


@dataclass(frozen=True)
class Config:
    inventory_url: str
    payments_url: str
    budget: float = 2.0  # seconds for one order: both calls, every retry and backoff included
    policy: Policy = field(default_factory=Policy)  # per call: timeout, retries, circuit breaker
    connections: int = 200  # the HTTP pool all calls share, to either dependency
    inventory_bulkhead: BulkheadPolicy | None = INVENTORY_BULKHEAD  # None: no bulkhead
    # request headers passed on to the dependencies (tracing; a stuntman session in tests)
    propagate: tuple[str, ...] = ("traceparent", "tracestate", "X-Request-Id")


CONFIG = web.AppKey("config", Config)
DEPS = web.AppKey("deps", Dependencies)
ORDERS = web.AppKey("orders", dict)

# any other failure of a dependency: 502
STATUS_FOR = {TIMEOUT: 504, CIRCUIT_OPEN: 503, BULKHEAD_FULL: 503, RATE_LIMITED: 503}


def _parse_order(body: Any) -> tuple[str, int, float]:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    item, qty, amount = body.get("item"), body.get("qty"), body.get("amount")
    if not isinstance(item, str) or not item:
        raise ValueError("item: a non-empty string")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
        raise ValueError("qty: a positive integer")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("amount: a positive number")
    return item, qty, amount


def _failed(exc: CallFailed) -> web.Response:
    """A dependency failed for good: which one, why, after how many attempts."""
    log.warning("order failed: %s (attempts: %d)", exc, exc.attempts)
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    body = {"error": f"{exc.dependency} {exc.reason}", "dependency": exc.dependency,
            "reason": exc.reason, "detail": exc.detail}
    if exc.attempts:  # 0: the call answered, but not what orders expects
        body["attempts"] = exc.attempts
    return web.json_response(body, status=STATUS_FOR.get(exc.reason, 502), headers=headers)


def _unexpected(dependency: str, status: int, body: Any) -> web.Response:
    return _failed(CallFailed(dependency, BAD_RESPONSE, f"unexpected answer {status}: {body!r:.200}"))


async def place_order(request: web.Request) -> web.Response:
    config, deps = request.app[CONFIG], request.app[DEPS]
    deadline = asyncio.get_running_loop().time() + config.budget
    try:
        item, qty, amount = _parse_order(await request.json())
    except ValueError as exc:  # also a body that is not JSON
        return web.json_response({"error": f"bad order: {exc}"}, status=400)
    headers = {name: request.headers[name] for name in config.propagate if name in request.headers}
    inventory, payments = deps.clients["inventory"], deps.clients["payments"]
    try:
        status, stock = await inventory.call("GET", f"/api/inventory/{quote(item, safe='')}",
                                             deadline=deadline, headers=headers)
        if status == 404:
            return web.json_response({"error": "unknown item", "item": item}, status=404)
        if status != 200 or not isinstance(stock, dict) or not isinstance(stock.get("available"), int):
            return _unexpected("inventory", status, stock)
        if stock["available"] < qty:
            return web.json_response({"error": "out of stock", "item": item,
                                      "available": stock["available"]}, status=409)

        # one key for every attempt of this charge: payments charges it once however often it is sent
        charge_headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        status, payment = await payments.call("POST", "/api/payments", deadline=deadline,
                                              json_body={"amount": amount}, headers=charge_headers)
        if status == 402:
            return web.json_response({"error": "payment declined", "detail": payment}, status=402)
        if status not in (200, 201) or not isinstance(payment, dict) or "id" not in payment:
            return _unexpected("payments", status, payment)
    except CallFailed as exc:
        return _failed(exc)

    order = {"id": f"ord_{uuid.uuid4().hex[:16]}", "item": item, "qty": qty, "amount": amount,
             "status": "confirmed", "payment": payment["id"]}
    request.app[ORDERS][order["id"]] = order
    return web.json_response(order, status=201)


async def get_order(request: web.Request) -> web.Response:
    order = request.app[ORDERS].get(request.match_info["id"])
    if order is None:
        return web.json_response({"error": "no such order"}, status=404)
    return web.json_response(order)


async def get_order_payment(request: web.Request) -> web.Response:
    """The order's charge as payments has it now: a call to payments only (none to inventory),
    in the same time budget as an order."""
    config, deps = request.app[CONFIG], request.app[DEPS]
    deadline = asyncio.get_running_loop().time() + config.budget
    order = request.app[ORDERS].get(request.match_info["id"])
    if order is None:
        return web.json_response({"error": "no such order"}, status=404)
    headers = {name: request.headers[name] for name in config.propagate if name in request.headers}
    try:
        status, payment = await deps.clients["payments"].call(
            "GET", f"/api/payments/{quote(order['payment'], safe='')}", deadline=deadline, headers=headers)
    except CallFailed as exc:
        return _failed(exc)
    if status == 404:
        return web.json_response({"error": "payments has no such payment", "payment": order["payment"]},
                                 status=404)
    if status != 200 or not isinstance(payment, dict):
        return _unexpected("payments", status, payment)
    return web.json_response({"order": order["id"], "payment": payment})


async def health(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    return web.json_response({"status": "ok", "circuits": await deps.circuits(), "bulkheads": deps.bulkheads()})


async def _dependencies(app: web.Application):
    config = app[CONFIG]
    # the per-call timeout is set on each request; the pool is shared by every order
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=config.connections)) as session:
        deps = Dependencies(session, config.policy)
        deps.client("inventory", config.inventory_url, bulkhead=config.inventory_bulkhead)
        deps.client("payments", config.payments_url)
        await deps.start()
        app[DEPS] = deps
        yield


def create_app(config: Config) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[ORDERS] = {}
    app.cleanup_ctx.append(_dependencies)
    app.router.add_post("/orders", place_order)
    app.router.add_get("/orders/{id}", get_order)
    app.router.add_get("/orders/{id}/payment", get_order_payment)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    env, policy, bulkhead = os.environ.get, Policy(), INVENTORY_BULKHEAD
    parser = arguments("orders: checks stock, charges, confirms", default_port=8001)
    parser.add_argument("--inventory-url", default=env("INVENTORY_URL", "http://127.0.0.1:8002"))
    parser.add_argument("--payments-url", default=env("PAYMENTS_URL", "http://127.0.0.1:8003"))
    parser.add_argument("--budget", type=float, default=2.0, help="seconds for one order, retries included")
    parser.add_argument("--call-timeout", type=float, default=policy.call_timeout, help="seconds per call")
    parser.add_argument("--attempts", type=int, default=policy.attempts, help="tries per call")
    parser.add_argument("--breaker-threshold", type=int, default=policy.breaker_threshold,
                        help="consecutive failures that open a circuit")
    parser.add_argument("--breaker-cooldown", type=float, default=policy.breaker_cooldown,
                        help="seconds a circuit stays open before a trial call")
    parser.add_argument("--connections", type=int, default=Config.connections,
                        help="connections of the pool both dependencies' calls share")
    parser.add_argument("--inventory-bulkhead", type=int, default=bulkhead.max_concurrent,
                        help="inventory calls in flight at once (0: no bulkhead)")
    parser.add_argument("--bulkhead-wait", type=float, default=bulkhead.max_wait,
                        help="seconds an inventory call beyond them may wait for a place")
    args = parser.parse_args(argv)
    config = Config(
        inventory_url=args.inventory_url, payments_url=args.payments_url, budget=args.budget,
        policy=Policy(call_timeout=args.call_timeout, attempts=args.attempts,
                      breaker_threshold=args.breaker_threshold, breaker_cooldown=args.breaker_cooldown),
        connections=args.connections,
        inventory_bulkhead=BulkheadPolicy(args.inventory_bulkhead, args.bulkhead_wait)
        if args.inventory_bulkhead > 0 else None)
    run(create_app(config), "orders", args.host, args.port)


if __name__ == "__main__":
    main()
