"""payments: charges an amount, once per Idempotency-Key.

    POST /api/payments {"amount": 12.5}   (header Idempotency-Key: K)
        → 201 {"id": "pay_…", "amount": 12.5, "status": "captured"}
        → 200 and the same payment (header Idempotent-Replayed: true) when K was seen before
        → 422 when K was seen with another amount, or the amount is not a positive number
        → 402 {"error": "declined"} over the limit
    GET /api/payments/{id}  →  200 the payment  |  404
    GET /health             →  200 {"status": "ok"}

    python -m shop.payments --port 8003 --limit 1000
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from .serve import arguments, run


@dataclass
class Config:
    limit: float = 10_000.0  # larger amounts are declined


CONFIG = web.AppKey("config", Config)
PAYMENTS = web.AppKey("payments", dict)  # id → payment (in memory: this is an example)
BY_KEY = web.AppKey("by_key", dict)      # Idempotency-Key → payment id


async def charge(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        amount = body["amount"]
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "expected a JSON body with an amount"}, status=422)
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0:
        return web.json_response({"error": "amount must be a positive number"}, status=422)

    payments, by_key = request.app[PAYMENTS], request.app[BY_KEY]
    key = request.headers.get("Idempotency-Key")
    if key and key in by_key:
        earlier = payments[by_key[key]]
        if earlier["amount"] != amount:
            return web.json_response({"error": "Idempotency-Key reused with another amount"}, status=422)
        return web.json_response(earlier, status=200, headers={"Idempotent-Replayed": "true"})
    if amount > request.app[CONFIG].limit:
        return web.json_response({"error": "declined", "reason": "over the limit"}, status=402)

    payment = {"id": f"pay_{uuid.uuid4().hex[:16]}", "amount": amount, "status": "captured"}
    payments[payment["id"]] = payment
    if key:
        by_key[key] = payment["id"]
    return web.json_response(payment, status=201)


async def get_payment(request: web.Request) -> web.Response:
    payment = request.app[PAYMENTS].get(request.match_info["id"])
    if payment is None:
        return web.json_response({"error": "no such payment"}, status=404)
    return web.json_response(payment)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(config: Config | None = None) -> web.Application:
    app = web.Application()
    app[CONFIG] = config or Config()
    app[PAYMENTS] = {}
    app[BY_KEY] = {}
    app.router.add_post("/api/payments", charge)
    app.router.add_get("/api/payments/{id}", get_payment)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = arguments("payments: charges, idempotent per Idempotency-Key", default_port=8003)
    parser.add_argument("--limit", type=float, default=Config.limit, help="amounts above are declined")
    args = parser.parse_args(argv)
    run(create_app(Config(limit=args.limit)), "payments", args.host, args.port)


if __name__ == "__main__":
    main()
