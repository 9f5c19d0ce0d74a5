"""The admin API (aiohttp), on its own port: health and reload so far; the control-plane issue
grows it (mappings, journal, near-misses, scenarios, metrics)."""
from __future__ import annotations

import hmac

from aiohttp import web


def _bearer_auth(token: str):
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler):
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response(
                {"error": "the admin API needs 'Authorization: Bearer <token>' (--admin-token)"},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="stuntman admin"'})
        return await handler(request)
    return check


class Admin:
    def __init__(self, runner: web.AppRunner, site: web.TCPSite):
        self.runner, self.site = runner, site

    @property
    def port(self) -> int:
        return self.site._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_admin(server) -> Admin:
    settings = server.settings

    async def health(request: web.Request) -> web.Response:
        return web.json_response(server.health())

    async def reload(request: web.Request) -> web.Response:
        if server.reload("POST /__admin/mappings/reload"):
            return web.json_response({"reloaded": True, "stubs": len(server.table.routes)})
        return web.json_response({
            "reloaded": False, "stubs": len(server.table.routes),
            "error": "stub files have errors; the previous configuration keeps serving",
            "configErrors": [e.as_dict() for e in server.config_errors]}, status=422)

    middlewares = [_bearer_auth(settings.admin_token)] if settings.admin_token else []
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/__admin/health", health)
    app.router.add_post("/__admin/mappings/reload", reload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.admin_host, settings.admin_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Admin(runner, site)
