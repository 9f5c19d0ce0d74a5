"""The admin API (aiohttp), on its own port. For now: health. The control-plane issue grows it."""
from __future__ import annotations

from aiohttp import web


class Admin:
    def __init__(self, runner: web.AppRunner, site: web.TCPSite):
        self.runner, self.site = runner, site

    @property
    def port(self) -> int:
        return self.site._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_admin(server) -> Admin:
    async def health(request: web.Request) -> web.Response:
        return web.json_response(server.health())

    app = web.Application()
    app.router.add_get("/__admin/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, server.settings.admin_host, server.settings.admin_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Admin(runner, site)
