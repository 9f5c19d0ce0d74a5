"""/__admin/recordings: record at runtime, in WireMock's shape.

`start` adds one proxy stub (id "recording", ranked after every other stub) that passes the
requests its `filter` accepts (default: all) to `upstream` (default: --upstream) and records them
into `name`; `stop` removes it. `snapshot` writes what the journal holds of proxied exchanges
into a recording: it needs --journal-responses (the journal keeps no responses by default). Into a
recording that already holds exchanges, both need `mode` (append or overwrite; else 409), as
`record --to` needs --append or --overwrite.
"""
from __future__ import annotations

from aiohttp import web

from ..config.loader import ConfigError, ConfigErrors
from ..config.paths import recording_name_problem
from ..record.recorder import clear_recording, read_index, recording_dir
from .inputs import inside, moved, read_body, request_matcher, under

MODES = ("append", "overwrite")  # into a recording that already holds exchanges, as record --to
RECORDING_ID = "recording"
RECORDING_PRIORITY = 1_000_000  # after every stub: recording covers what stubs do not answer


def _recording_field(field: str) -> str:
    """A field of the proxy stub a recording request becomes, as the request's own field."""
    if field in ("proxy.record", "proxy.upstream"):
        return {"proxy.record": "name", "proxy.upstream": "upstream"}[field]
    in_filter = inside("request", field)
    return under("filter", in_filter) if in_filter is not None else field


def _checked(body, what: str, fields: tuple[str, ...]) -> None:
    """An object of `fields` only (as the OpenAPI document says), with a recording's name by the
    rules of stub files' names: a path inside --recordings (an absolute one, as the command line
    may give, would write anywhere the server can)."""
    if not isinstance(body, dict):
        raise ConfigErrors([ConfigError(what, None, "", f"expected an object of {', '.join(fields)}")])
    errors = [ConfigError(what, None, str(key), "unknown field") for key in body if key not in fields]
    if body.get("filter") is not None and not isinstance(body["filter"], dict):
        errors.append(ConfigError(what, None, "filter", "a request matcher (an object)"))
    if body.get("upstream") is not None and not (isinstance(body["upstream"], str) and body["upstream"]):
        errors.append(ConfigError(what, None, "upstream", "an http(s) URL (leave it out for --upstream)"))
    if body.get("mode") is not None and body["mode"] not in MODES:
        errors.append(ConfigError(what, None, "mode", f"one of {', '.join(MODES)} (or leave it out)"))
    if not isinstance(body.get("name"), str):
        errors.append(ConfigError(what, None, "name", "the recording's name is required (a string)"))
    elif (problem := recording_name_problem(body["name"])) is not None:
        errors.append(ConfigError(what, None, "name", problem))
    if errors:
        raise ConfigErrors(errors)


def add_recording_routes(app: web.Application, server) -> None:
    mappings = server.mappings

    def held_back(body: dict) -> web.Response | None:
        """A recording that holds exchanges is added to only with mode append, and replaced
        (its exchanges removed) with mode overwrite, as `record --to` does; else a 409."""
        name = body["name"]
        held = len(read_index(recording_dir(server.settings.recordings, name)))
        if not held:
            return None
        if body.get("mode") is None:
            return web.json_response({
                "error": f"recording {name!r} already holds {held} exchange(s): pass \"mode\": \"append\" "
                         "to add to it or \"mode\": \"overwrite\" to replace it", "exchanges": held}, status=409)
        if body["mode"] == "overwrite":
            server.recorders.pop(name, None)  # a fresh one numbers the new exchanges from 1
            clear_recording(recording_dir(server.settings.recordings, name))
        return None

    def described(route, recording: bool) -> web.Response:
        """The recording stub's state: where it records, from where, how many exchanges so far."""
        name = route.action.record
        recorder = server.recorders.get(name)
        exchanges = len(read_index(recorder.directory)) if recorder is not None else 0
        return web.json_response({"recording": recording, "name": name, "upstream": route.action.url,
                                  "exchanges": exchanges})

    def status() -> web.Response:
        route = mappings.stubs.get(RECORDING_ID)
        return described(route, True) if route is not None else web.json_response({"recording": False})

    async def start(request: web.Request) -> web.Response:
        body = await read_body(request)
        _checked(body, "recording", ("name", "upstream", "filter", "mode"))
        upstream = body.get("upstream") or server.settings.upstream
        if not upstream:
            raise ConfigErrors([ConfigError("recording", None, "upstream",
                                            "no upstream given, and stuntman runs without --upstream")])
        if mappings.stubs.get(RECORDING_ID) is not None:
            return web.json_response({"error": "already recording: POST /__admin/recordings/stop first"}, status=409)
        if (refused := held_back(body)) is not None:
            return refused
        try:  # validated as the proxy stub it becomes: its errors name the request's fields
            mappings.add(mappings.stubs, {"id": RECORDING_ID, "name": f"recording {body['name']}",
                                          "priority": RECORDING_PRIORITY, "request": body.get("filter") or {},
                                          "proxy": {"upstream": upstream, "record": body["name"]}})
        except ConfigErrors as exc:
            raise moved(exc, _recording_field) from None
        server.publish()
        return status()

    async def stop(request: web.Request) -> web.Response:
        """The state after stopping (not recording), with what the stopped recording holds."""
        route = mappings.stubs.get(RECORDING_ID)
        if route is None:
            return status()
        mappings.stubs.delete(RECORDING_ID)
        server.publish()
        return described(route, False)

    async def get_status(request: web.Request) -> web.Response:
        return status()

    async def snapshot(request: web.Request) -> web.Response:
        body = await read_body(request)
        _checked(body, "snapshot", ("name", "filter", "mode"))
        if not server.journal_responses:
            return web.json_response({"error": "the journal keeps no responses: start stuntman with "
                                               "--journal-responses N to snapshot"}, status=409)
        if (refused := held_back(body)) is not None:
            return refused
        matcher = request_matcher(body["filter"], at="filter") if body.get("filter") else None
        recorder = server.recorder(body["name"])
        written = skipped = 0
        for _, ex in reversed(server.journal.newest_first()):  # oldest first: the recorded order
            captured = ex.response
            if matcher is not None and not matcher.matches(ex, server.state):
                continue
            if captured is None or captured.truncated or ex.body_size > len(ex.body_bytes):
                skipped += 1  # answered by a stub, or too large to have been kept whole
                continue
            upstream = getattr(ex.responder, "url", None) or server.settings.upstream or ""  # who answered it
            entry, side = recorder.exchange(ex, upstream, ex.body_bytes, captured.status, captured.reason,
                                            captured.headers, b"".join(captured.chunks), 0.0, ex.ended - ex.started)
            await recorder.save(entry, side)
            written += 1
        return web.json_response({"name": body["name"], "exchanges": written, "skipped": skipped})

    app.router.add_post("/__admin/recordings/snapshot", snapshot)
    app.router.add_post("/__admin/recordings/start", start)
    app.router.add_post("/__admin/recordings/stop", stop)
    app.router.add_get("/__admin/recordings/status", get_status)
