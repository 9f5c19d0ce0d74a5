"""What the admin API is sent, in one place: bodies read and parsed (JSON or YAML), request
matchers compiled from them, and the 400 that says what is wrong with one.

A 400 names what the body is (a stub, a fault, a recording request, a request matcher...) and
each error's field path inside the body as sent: a body validated through another model (a
recording request becomes a proxy stub, a request matcher a stub's `request:`) has its errors'
fields moved back onto the body's own (`proxy.record` → `name`, `request.method` → `method`).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import yaml
from aiohttp import web

from ..config.loader import MAX_NESTING, ConfigError, ConfigErrors, load_yaml, validate_stubs
from ..match.request import RequestMatcher

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
ADMIN_BODY = "admin request body"  # the "file" its errors name
PARSE_INLINE_BYTES = 16 * 1024  # bodies above this are parsed on a worker thread, off the data plane's loop

# What the body of each operation is, as its errors name it ("invalid <what>").
INPUTS = {
    "/__admin/mappings": "stub",
    "/__admin/mappings/{id}": "stub",
    "/__admin/faults": "fault",
    "/__admin/faults/{id}": "fault",
    "/__admin/recordings/start": "recording request",
    "/__admin/recordings/snapshot": "snapshot request",
    "/__admin/requests/find": "request matcher",
    "/__admin/requests/count": "request matcher",
    "/__admin/near-misses": "request description",
    "/__admin/scenarios": "scenario state",
    "/__admin/contracts": "contract",
}


# JSON bodies nest at most as deep as stub files may (YAML's loader checks its own): Python's
# parser, validation, the definition kept as JSON and template rendering all recurse, and a few
# hundred levels (100,000 `[` is 100 kB) would end in a RecursionError, a 500.
TOO_DEEP = f"the body's arrays and objects nest deeper than {MAX_NESTING} levels"


class BadBody(Exception):
    pass


class TooLarge(Exception):
    pass


MAX_BODY_BYTES = web.AppKey("max_body_bytes", int)  # Settings.admin_max_body_bytes, on the app


def too_deep(value, limit: int = MAX_NESTING) -> bool:
    """Do objects and arrays nest deeper than `limit` in value? (A walk without recursion.)"""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse(text: str, is_yaml: bool):
    """JSON at most MAX_NESTING levels deep (BadBody), or YAML with the stub files' bounds on
    aliases and nesting (ConfigErrors)."""
    if not is_yaml:
        try:
            value = json.loads(text)
        except RecursionError:  # the parser (C) gives up at about 1,000 levels, cleanly
            raise BadBody(TOO_DEEP) from None
        if too_deep(value):
            raise BadBody(TOO_DEEP)
        return value
    try:
        return load_yaml(text, ADMIN_BODY)
    except ConfigErrors as exc:  # the API reports field and message only: the message says where
        raise ConfigErrors([ConfigError(e.file, e.line, e.field, f"{e.file}:{e.line}: {e.message}")
                            for e in exc.errors]) from None


async def read_body(request: web.Request):
    limit = request.app[MAX_BODY_BYTES]
    declared = request.content_length
    try:
        if declared is not None and declared > limit:  # refused before reading what would be dropped
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
        text = (await request.read()).decode("utf-8")  # (aiohttp stops reading past the app's limit)
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge(f"the body is larger than the admin API takes: {limit} bytes (--admin-max-body-bytes)",
                       limit) from None
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8: {exc}") from None
    is_yaml = request.content_type in YAML_TYPES
    try:
        if len(text) <= PARSE_INLINE_BYTES:
            return parse(text, is_yaml)
        return await asyncio.get_running_loop().run_in_executor(None, parse, text, is_yaml)
    except (ValueError, yaml.YAMLError) as exc:
        raise BadBody(f"the body is not valid {'YAML' if is_yaml else 'JSON'}: {exc}") from None


def input_name(request: web.Request) -> str:
    """What the body of this request is, for its errors."""
    route = request.match_info.route
    canonical = route.resource.canonical if route.resource is not None else request.path
    return INPUTS.get(canonical, "request body")


@web.middleware
async def bad_input_is_400(request: web.Request, handler):
    """A body that does not parse, or does not validate, is the client's: 400 saying why (413 for
    one over the limit), in JSON as every admin answer."""
    try:
        return await handler(request)
    except BadBody as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except TooLarge as exc:
        message, limit = exc.args
        return web.json_response({"error": message, "limit": limit}, status=413)
    except ConfigErrors as exc:
        return web.json_response({"error": f"invalid {input_name(request)}", "errors": [
            {"field": e.field, "message": e.message} for e in exc.errors]}, status=400)


# -- field paths ---------------------------------------------------------------------------------

def inside(prefix: str, field: str) -> str | None:
    """`field` relative to `prefix` (request.headers.X → headers.X), or None if not under it."""
    if field == prefix:
        return ""
    if field.startswith(prefix + "."):
        return field[len(prefix) + 1:]
    if field.startswith(prefix + "["):
        return field[len(prefix):]
    return None


def under(prefix: str, field: str) -> str:
    """`field` placed under `prefix` (filter + method → filter.method)."""
    if not prefix or not field:
        return prefix or field
    return prefix + field if field.startswith("[") else f"{prefix}.{field}"


def moved(exc: ConfigErrors, where: Callable[[str], str]) -> ConfigErrors:
    """The same errors, each field path mapped by `where`."""
    return ConfigErrors([ConfigError(e.file, e.line, where(e.field), e.message) for e in exc.errors])


def request_matcher(body, at: str = "") -> RequestMatcher:
    """A request matcher (a stub's `request:`), compiled: find, count and snapshots run it over
    the journal, as routes and standalone faults run it over requests. `at`: where the matcher
    sits in the body (`filter` of a snapshot request), for its errors' field paths."""
    try:  # validated as a stub's `request:`, so errors read as they do in stub files
        # (a gRPC call's matcher wraps in a gRPC stub: the model pairs request.grpc with grpc:)
        grpc_call = isinstance(body, dict) and body.get("grpc") is not None
        answer: dict[str, dict] = {"grpc": {}} if grpc_call else {"response": {}}
        [loaded] = validate_stubs({"request": body, **answer}, "request matcher")
    except ConfigErrors as exc:  # fields relative to the body sent, not to the wrapper stub
        raise moved(exc, lambda field: under(at, inside("request", field) or "")) from None
    return RequestMatcher(loaded.spec.request)
