"""Fixtures for testing `orders` in isolation: its dependencies are one stuntman (the pytest
plugin's `stuntman` fixture), inventory and payments told apart by path."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

SHOP = Path(__file__).resolve().parents[1]
if str(SHOP) not in sys.path:
    sys.path.insert(0, str(SHOP))  # the `shop` package: examples are not installed

from shop import orders  # noqa: E402
from shop.resilience import BulkheadPolicy, Policy  # noqa: E402

SESSION_HEADER = "X-Stuntman-Session"


@pytest.fixture
async def start_orders(stuntman):
    """start_orders(budget=2.0, **policy) → a client of an `orders` running in this test's event
    loop, whose inventory and payments are `stuntman.url` (unless `inventory_url` or
    `payments_url` say otherwise). `connections` and `inventory_bulkhead` (a BulkheadPolicy, or
    None for none) are orders' own settings; the rest are its Policy's. Every request it sends
    carries `stuntman.headers` (a session of its own when stuntman is a shared sidecar), and
    orders passes that header on."""
    started: list[TestClient] = []

    async def start(budget: float = 2.0, inventory_url: str | None = None, payments_url: str | None = None,
                    connections: int = orders.Config.connections,
                    inventory_bulkhead: BulkheadPolicy | None = orders.INVENTORY_BULKHEAD,
                    **policy) -> TestClient:
        config = orders.Config(
            inventory_url=inventory_url or stuntman.url, payments_url=payments_url or stuntman.url,
            budget=budget,
            policy=Policy(**policy),
            connections=connections,
            inventory_bulkhead=inventory_bulkhead,
            propagate=orders.Config.propagate + (SESSION_HEADER,))
        client = TestClient(TestServer(orders.create_app(config), host="127.0.0.1"),
                            headers=stuntman.headers)
        await client.start_server()
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


@pytest.fixture
def shop_dependencies(stuntman):
    """The happy path: inventory has 10 of anything, payments captures every charge."""
    stuntman.stub("GET", "/api/inventory/{item}", json={"item": "{{path.item}}", "available": 10},
                  name="inventory")
    stuntman.stub("POST", "/api/payments", status=201,
                  json={"id": "pay_{{uuid}}", "status": "captured"}, name="payments")
    return stuntman
