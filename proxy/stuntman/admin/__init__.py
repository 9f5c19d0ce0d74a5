"""The admin API (aiohttp), on its own port, in WireMock's shape under /__admin: health, stubs at
runtime (mappings), scenarios, reload, shutdown. Bodies are JSON or YAML, validated by the same
model as the stub files; errors are 400 with field paths.

What is particular to faults is in admin/faults.py, to recordings in admin/recordings.py; the API's
own OpenAPI document and docs page in admin/openapi.py; reading bodies and the 400 that says what is
wrong with one in admin/inputs.py.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from time import monotonic

from aiohttp import web

from ..config.model import STARTED
from ..exchange import Exchange
from ..journal import entry_json
from ..match.nearmiss import described, first_match, nearest, report
from .contracts import add_contract_routes
from .faults import add_fault_routes, fault_json, fault_listing, no_such_fault
from .grpc import add_grpc_routes
from .inputs import MAX_BODY_BYTES, YAML_TYPES, BadBody, bad_input_is_400, read_body, request_matcher
from .openapi import docs_page, document
from .recordings import add_recording_routes

READY_PATH = "/__admin/ready"  # the one path that needs no token
SLICE_SECONDS = 0.002  # the longest the admin API holds the event loop the data plane shares


class _Slices:
    """Long admin work (walking a journal of 10,000 entries, JSONPath on each body) gives the
    loop back every few milliseconds, so a slow admin call never stalls traffic."""

    def __init__(self) -> None:
        self.since = monotonic()

    async def turn(self) -> None:
        if monotonic() - self.since > SLICE_SECONDS:
            await asyncio.sleep(0)
            self.since = monotonic()
# What a body may be sent as: what the OpenAPI document names. Not text/plain, form encodings or
# no type at all: a browser sends those cross-site without asking first (a "simple" request).
BODY_TYPES = frozenset(("application/json", *YAML_TYPES))
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY_ADDRESS = ("0.0.0.0", "::", "")


def exchange_from(body) -> Exchange:
    """A request described in JSON ({method, url, headers, body}) as an Exchange, for near-misses."""
    if not isinstance(body, dict) or not all(isinstance(body.get(k, ""), str) for k in ("method", "url", "body")) \
            or not isinstance(body.get("headers") or {}, dict):
        raise BadBody("expected {method, url[, headers, body]}: strings, and an object of headers")
    ex = Exchange()
    ex.method = (body.get("method") or "GET").upper()
    ex.set_target((body.get("url") or "/").encode("latin-1", "replace"))
    headers = body.get("headers") or {}
    ex.raw_headers = [(str(k).encode("latin-1", "replace"), str(v).encode("latin-1", "replace"))
                      for k, v in headers.items()]
    text = body.get("body")
    ex.body = [text.encode()] if text else None
    return ex


def mapping_json(route) -> dict:
    return {"id": route.id, **json.loads(route.definition), "source": route.source}


def _bearer_auth(token: str):
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler):
        if request.path == READY_PATH:  # probes (Docker, Kubernetes) carry no token
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response(
                {"error": "the admin API needs 'Authorization: Bearer <token>' (--admin-token)"},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="stuntman admin"'})
        return await handler(request)
    return check


def _split_host(value: str) -> tuple[str, int | None] | None:
    """A Host (or an Origin's authority) as (lower-case name, port or None); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        name, sep, rest = value.partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        name, port = name + "]", rest[1:] if rest else None
    else:
        name, sep, port = value.partition(":")
        port = port if sep else None
    if not name or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        return None
    return name, int(port) if port is not None else None


def _with_port(host: tuple[str, int | None]) -> tuple[str, int]:
    return host[0], 80 if host[1] is None else host[1]


def _address_name(address: str) -> str:
    """How a listening or local address is written in a Host header."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address.lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def _local_only(admin_host: str, allowed: tuple[str, ...]):
    """The admin API answers only requests meant for it, never a web page's.

    - Host must name it: localhost, 127.0.0.1, [::1], the address it is bound to, or the address
      the client connected to, on the admin port; or a name from --admin-allowed-host (NAME: any
      port, NAME:PORT: that one). Any other name is a DNS-rebinding page's: 421.
    - An Origin header (browsers send it on cross-origin requests) must be this API's own
      origin, http://<Host>: a page elsewhere gets 403.
    - A body must be JSON or YAML, as documented: 415 for text/plain, form encodings or no type,
      the bodies a page can send cross-site without a preflight. A POST without a body may name
      any type: clients do by default (urllib: form-encoded, aiohttp: octet-stream), and a page's
      empty <form> post carries an Origin.
    GET /__admin/ready is exempt from the Host rule, for probes (as from the token).
    """
    names = set(LOOPBACK_NAMES)
    if admin_host not in ANY_ADDRESS:
        names.add(_address_name(admin_host))
    any_port: set[str] = set()
    exact: set[tuple[str, int | None]] = set()
    for entry in allowed:
        split = _split_host(entry)
        if split is None:
            continue
        if split[1] is None:
            any_port.add(split[0])
        else:
            exact.add(split)

    def host_ok(request: web.Request, host: tuple[str, int | None]) -> bool:
        name, port = host
        if name in any_port or host in exact:
            return True
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if not sockname:
            return False
        local_port = sockname[1]
        if port != local_port and not (port is None and local_port == 80):
            return False
        return name in names or name == _address_name(str(sockname[0]))

    def refuse(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    @web.middleware
    async def check(request: web.Request, handler):
        given_host = request.headers.get("Host")
        host = _split_host(given_host) if given_host is not None else None
        if request.path != READY_PATH and given_host is not None and (host is None or not host_ok(request, host)):
            return refuse(421, f"the admin API does not answer for Host {given_host!r}: use localhost or "
                               "127.0.0.1, or allow the name with --admin-allowed-host")
        origin = request.headers.get("Origin")
        if origin is not None:
            scheme, sep, authority = origin.strip().lower().partition("://")
            origin_host = _split_host(authority) if sep and scheme == "http" else None
            if host is None or origin_host is None or _with_port(origin_host) != _with_port(host):
                return refuse(403, f"cross-origin requests to the admin API are refused (Origin {origin!r})")
        if request.body_exists and request.content_type not in BODY_TYPES:
            given = request.headers.get("Content-Type") or "none"
            return refuse(415, "a body must be sent with Content-Type: application/json or "
                               f"application/yaml (given: {given})")
        return await handler(request)
    return check


def add_collection(app: web.Application, server, layer, to_json, listing, not_found) -> None:
    """The admin API over one layer of the mappings (stubs, faults), in WireMock's shape: list,
    create, delete all; get, replace, delete one. Every change swaps in a new route table."""
    mappings = server.mappings

    async def list_all(request: web.Request) -> web.Response:
        return listing()

    async def create(request: web.Request) -> web.Response:
        item = mappings.add(layer, await read_body(request))
        server.publish()
        return web.json_response(to_json(item), status=201)

    async def delete_all(request: web.Request) -> web.Response:
        layer.delete_all()
        server.publish()
        return listing()

    async def get_one(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        item = layer.get(item_id)
        return web.json_response(to_json(item)) if item is not None else not_found(item_id)

    async def replace_one(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        item = mappings.replace(layer, item_id, await read_body(request))
        if item is None:
            return not_found(item_id)
        server.publish()
        return web.json_response(to_json(item))

    async def delete_one(request: web.Request) -> web.Response:
        item_id = request.match_info["id"]
        if not layer.delete(item_id):
            return not_found(item_id)
        server.publish()
        return web.json_response({"deleted": item_id})

    app.router.add_get(layer.path, list_all)
    app.router.add_post(layer.path, create)
    app.router.add_delete(layer.path, delete_all)
    app.router.add_get(layer.path + "/{id}", get_one)
    app.router.add_put(layer.path + "/{id}", replace_one)
    app.router.add_delete(layer.path + "/{id}", delete_one)


class Admin:
    def __init__(self, runner: web.AppRunner, site: web.TCPSite):
        self.runner, self.site = runner, site

    @property
    def port(self) -> int:
        """The port it listens on (asked for 0: the one the system chose)."""
        return self.runner.addresses[0][1]

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_admin(server) -> Admin:
    settings = server.settings

    async def health(request: web.Request) -> web.Response:
        return web.json_response(server.health())

    async def ready(request: web.Request) -> web.Response:
        """Serving (200), or stopping (503: take this instance out of rotation)."""
        if server.draining:
            return web.json_response({"status": "draining"}, status=503)
        return web.json_response({"status": "ready"})

    mappings = server.mappings

    def list_mappings() -> web.Response:
        routes = server.table.routes
        return web.json_response({"mappings": [mapping_json(r) for r in routes], "meta": {"total": len(routes)}})

    def no_such_stub(route_id: str) -> web.Response:
        return web.json_response({"error": f"no stub with id {route_id!r}"}, status=404)

    async def reset_mappings(request: web.Request) -> web.Response:
        mappings.stubs.reset()
        mappings.api_contracts.clear()
        if not server.reload("POST /__admin/mappings/reset"):
            server.publish()  # the files have errors: the API's changes are gone all the same
        return web.json_response({"stubs": len(server.table.routes),
                                  "configErrors": [e.as_dict() for e in server.config_errors]})

    def scenario_states() -> dict[str, set[str]]:
        """Every scenario the stubs name, with the states they name (and Started)."""
        possible: dict[str, set[str]] = {}
        for route in server.table.routes:
            if route.scenario:
                states = possible.setdefault(route.scenario, {STARTED})
                states.update(s for s in (route.required_state, route.new_state) if s)
        for contract in server.table.contracts:  # a pact's provider states (Started: none asked for)
            if contract.kind == "pact":
                possible.setdefault(f"pact:{contract.name}", {STARTED}).update(
                    s.name for i in contract.spec.interactions for s in i.states)
        return possible

    async def list_scenarios(request: web.Request) -> web.Response:
        session = request.query.get("session", "")
        current = server.state.states(session)
        return web.json_response({"session": session, "scenarios": [
            {"name": name, "state": current.get(name, STARTED), "possibleStates": sorted(states)}
            for name, states in sorted(scenario_states().items())]})

    def unknown(field: str, message: str, known: list[str]) -> web.Response:
        return web.json_response({"error": message, "errors": [{"field": field, "message": message}],
                                  "known": known}, status=400)

    async def set_scenario(request: web.Request) -> web.Response:
        """A scenario's state in a session. Only scenarios and states the stubs name: a typo
        would otherwise be set silently and match nothing (WireMock answers 404 for an unknown
        scenario; a 400 here names the known ones)."""
        body = await read_body(request)
        try:
            name, state = body["name"], body["state"]
            session = body.get("session", "")
        except (KeyError, TypeError, AttributeError):
            name = state = session = None
        if not all(isinstance(v, str) for v in (name, state, session)):
            raise BadBody("expected {name, state[, session]}, all strings")
        possible = scenario_states()
        if name not in possible:
            known = sorted(possible)
            return unknown("name", f"no scenario is named {name!r}: the stubs name "
                                   f"{', '.join(map(repr, known)) if known else 'no scenario'}", known)
        if state not in possible[name]:
            known = sorted(possible[name])
            return unknown("state", f"scenario {name!r} has no state {state!r}: its states are "
                                    f"{', '.join(map(repr, known))}", known)
        server.state.set_state(session, name, state)
        return web.json_response({"name": name, "state": state, "session": session})

    async def reset_scenarios(request: web.Request) -> web.Response:
        server.state.reset(request.query.get("session"))
        return web.json_response({"reset": True})

    journal = server.journal

    def _entries() -> list:
        return journal.newest_first() if journal is not None else []

    async def _requests(entries) -> web.Response:
        found, slices = [], _Slices()
        for entry_id, ex in entries:
            found.append(entry_json(entry_id, ex))
            await slices.turn()
        return web.json_response({"requests": found, "meta": {"total": len(found)}})

    async def list_requests(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "0"))
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        entries = _entries()
        return await _requests(entries[:limit] if limit > 0 else entries)

    async def clear_requests(request: web.Request) -> web.Response:
        if journal is not None:
            journal.clear()
        return web.json_response({"cleared": True})

    async def _matching(request: web.Request):
        matcher = request_matcher(await read_body(request))
        slices = _Slices()
        for entry_id, ex in _entries():
            if matcher.matches(ex, server.state):
                yield entry_id, ex
            await slices.turn()

    async def find_requests(request: web.Request) -> web.Response:
        return await _requests([e async for e in _matching(request)])

    async def count_requests(request: web.Request) -> web.Response:
        return web.json_response({"count": len([e async for e in _matching(request)])})

    async def unmatched_requests(request: web.Request) -> web.Response:
        return await _requests((i, ex) for i, ex in _entries() if ex.route is None)

    async def near_misses(request: web.Request) -> web.Response:
        """Why a described request would not match; or, when a stub does match it, that stub (and
        no near misses: there is nothing to miss)."""
        ex = exchange_from(await read_body(request))
        table = server.table
        route = first_match(table, ex, server.state)
        if route is not None:
            return web.json_response({"message": f"stub {route.label!r} ({route.source}) matches this request",
                                      "matched": mapping_json(route), "request": described(ex), "nearest": []})
        return web.json_response(report(ex, nearest(table, ex, server.state)))

    async def metrics(request: web.Request) -> web.Response:
        if server.metrics is None:
            return web.json_response({"error": "metrics are off (--no-metrics)"}, status=404)
        return web.Response(body=server.metrics.exposition(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document())

    async def docs(request: web.Request) -> web.Response:
        return web.Response(text=docs_page(), content_type="text/html")

    async def shutdown(request: web.Request) -> web.Response:
        server.stop_requested.set()
        return web.json_response({"shuttingDown": True})

    async def reload(request: web.Request) -> web.Response:
        if server.reload("POST /__admin/mappings/reload"):
            return web.json_response({"reloaded": True, "stubs": len(server.table.routes)})
        return web.json_response({
            "reloaded": False, "stubs": len(server.table.routes),
            "error": "stub files have errors; the previous configuration keeps serving",
            "configErrors": [e.as_dict() for e in server.config_errors]}, status=422)

    middlewares = [_local_only(settings.admin_host, settings.admin_allowed_hosts)]
    if settings.admin_token:
        middlewares.append(_bearer_auth(settings.admin_token))
    middlewares.append(bad_input_is_400)
    app = web.Application(middlewares=middlewares, client_max_size=settings.admin_max_body_bytes)
    app[MAX_BODY_BYTES] = settings.admin_max_body_bytes
    app.router.add_get("/__admin/health", health)
    app.router.add_get(READY_PATH, ready)
    app.router.add_post("/__admin/mappings/reload", reload)
    app.router.add_post("/__admin/mappings/reset", reset_mappings)
    add_collection(app, server, mappings.stubs, mapping_json, list_mappings, no_such_stub)
    add_collection(app, server, mappings.faults, fault_json, lambda: fault_listing(server),
                   lambda fault_id: no_such_fault(server, fault_id))
    app.router.add_get("/__admin/scenarios", list_scenarios)
    app.router.add_post("/__admin/scenarios", set_scenario)
    app.router.add_post("/__admin/scenarios/reset", reset_scenarios)
    app.router.add_post("/__admin/shutdown", shutdown)
    app.router.add_get("/__admin/requests", list_requests)
    app.router.add_delete("/__admin/requests", clear_requests)
    app.router.add_post("/__admin/requests/find", find_requests)
    app.router.add_post("/__admin/requests/count", count_requests)
    app.router.add_get("/__admin/requests/unmatched", unmatched_requests)
    app.router.add_post("/__admin/near-misses", near_misses)
    add_fault_routes(app, server)  # PATCH and reset
    add_recording_routes(app, server)
    add_contract_routes(app, server)
    add_grpc_routes(app, server)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/__admin/openapi.json", openapi)
    app.router.add_get("/__admin/docs", docs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.admin_host, settings.admin_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Admin(runner, site)
