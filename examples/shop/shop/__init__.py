"""A small shop: `orders` takes orders, checking stock at `inventory` and charging `payments`.

Each service is a module with an aiohttp application factory (`create_app(config)`) and a
`python -m shop.NAME` entry point.
"""
