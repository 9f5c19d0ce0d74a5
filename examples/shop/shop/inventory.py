"""inventory: how many of an item are in stock.

    GET /api/inventory/{item}  →  200 {"item": "beans", "available": 25}  |  404 {"error": "unknown item"}
    GET /health                →  200 {"status": "ok"}

    python -m shop.inventory --port 8002 --stock beans=25 --stock grinder=3
"""
from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .serve import arguments, run

DEFAULT_STOCK = {"beans": 25, "grinder": 3, "kettle": 0}


@dataclass
class Config:
    stock: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_STOCK))


CONFIG = web.AppKey("config", Config)


async def available(request: web.Request) -> web.Response:
    item = request.match_info["item"]
    stock = request.app[CONFIG].stock
    if item not in stock:
        return web.json_response({"error": "unknown item", "item": item}, status=404)
    return web.json_response({"item": item, "available": stock[item]})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(config: Config | None = None) -> web.Application:
    app = web.Application()
    app[CONFIG] = config or Config()
    app.router.add_get("/api/inventory/{item}", available)
    app.router.add_get("/health", health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = arguments("inventory: stock levels", default_port=8002)
    parser.add_argument("--stock", action="append", default=[], metavar="ITEM=N",
                        help=f"an item and its stock (repeatable; default: {DEFAULT_STOCK})")
    args = parser.parse_args(argv)
    stock = dict(DEFAULT_STOCK)
    if args.stock:
        stock = {}
        for pair in args.stock:
            item, _, count = pair.partition("=")
            stock[item] = int(count)
    run(create_app(Config(stock=stock)), "inventory", args.host, args.port)


if __name__ == "__main__":
    main()
