"""/__admin/recordings: record at runtime, in WireMock's shape.

`start` adds one proxy stub (id "recording", ranked after every other stub) that passes the
requests its `filter` accepts (default: all) to `upstream` (default: --upstream) and records them
into `name`; `stop` removes it. A journal snapshot is not offered: the journal keeps requests,
not the responses a recording needs.
"""
from __future__ import annotations

from aiohttp import web

from ..config.loader import ConfigError, ConfigErrors
from .recorder import read_index

RECORDING_ID = "recording"
RECORDING_PRIORITY = 1_000_000  # after every stub: recording covers what stubs do not answer


def add_recording_routes(app: web.Application, server, read_body) -> None:
    mappings = server.mappings

    def status() -> web.Response:
        route = mappings.stubs.get(RECORDING_ID)
        if route is None:
            return web.json_response({"recording": False})
        name = route.action.record
        recorder = server.recorders.get(name)
        exchanges = len(read_index(recorder.directory)) if recorder is not None else 0
        return web.json_response({"recording": True, "name": name, "upstream": route.action.url,
                                  "exchanges": exchanges})

    async def start(request: web.Request) -> web.Response:
        body = await read_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ConfigErrors([ConfigError("recording", None, "name", "the recording's name is required")])
        upstream = body.get("upstream") or server.settings.upstream
        if not upstream:
            raise ConfigErrors([ConfigError("recording", None, "upstream",
                                            "no upstream given, and stuntman runs without --upstream")])
        if mappings.stubs.get(RECORDING_ID) is not None:
            return web.json_response({"error": "already recording: POST /__admin/recordings/stop first"}, status=409)
        mappings.add(mappings.stubs, {"id": RECORDING_ID, "name": f"recording {body['name']}",
                                      "priority": RECORDING_PRIORITY, "request": body.get("filter") or {},
                                      "proxy": {"upstream": upstream, "record": body["name"]}})
        server.publish()
        return status()

    async def stop(request: web.Request) -> web.Response:
        answer = status()
        mappings.stubs.delete(RECORDING_ID)
        server.publish()
        return answer

    async def get_status(request: web.Request) -> web.Response:
        return status()

    app.router.add_post("/__admin/recordings/start", start)
    app.router.add_post("/__admin/recordings/stop", stop)
    app.router.add_get("/__admin/recordings/status", get_status)
