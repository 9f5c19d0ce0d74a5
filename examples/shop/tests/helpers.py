"""What the tests of orders share: placing an order, reading orders' /health, waiting for a
condition, and when a journaled request reached stuntman and when its answer went out."""
from __future__ import annotations

import asyncio
from datetime import datetime

ORDER = {"item": "beans", "qty": 2, "amount": 24.0}


async def place(orders, order=ORDER) -> tuple[int, dict, float]:
    """POST /orders: (status, JSON body, seconds it took)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with orders.post("/orders", json=order) as resp:
        body = await resp.json()
    return resp.status, body, loop.time() - started


async def health(orders) -> dict:
    async with orders.get("/health") as resp:
        return await resp.json()


async def circuits(orders) -> dict:
    return (await health(orders))["circuits"]


async def eventually(check, timeout: float = 5.0) -> None:
    """Wait for `check()` (or `await check()`) to hold: generous, for a busy machine."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while True:
        held = check()
        if asyncio.iscoroutine(held):
            held = await held
        if held:
            return
        assert loop.time() < give_up, f"still not true after {timeout:.1f}s"
        await asyncio.sleep(0.02)


def ended(entry: dict) -> float:
    """When stuntman finished a journaled exchange (epoch seconds; the journal keeps milliseconds)."""
    return datetime.fromisoformat(entry["loggedDate"]).timestamp()


def began(entry: dict) -> float:
    """When a journaled request reached stuntman: its end less its duration."""
    return ended(entry) - entry["timing"]["totalMs"] / 1000


def fired(entry: dict, kind: str) -> dict | None:
    """The journal's record of the `kind` fault that fired on this exchange (with its state), if one did."""
    return next((f for f in entry["faults"] if f["type"] == kind), None)
