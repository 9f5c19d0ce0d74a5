"""A recording, served: each distinct request becomes a stub (the same model as the files), so
matching, near-miss 404s, faults, the journal and metrics work on replays unchanged.

A request is matched on its method, path, query (but parameters in `ignore_query`, and redacted
values) and body (JSON equality whatever the key order; text equality; binary bodies are not
compared). Identical requests that got different responses replay them in recorded order, then
repeat the last (WireMock's repeatsAsScenarios). gRPC calls become gRPC stubs (record/grpcstubs.py).
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl

from ..config.loader import ConfigError, ConfigErrors, LoadedStub, validate_stubs
from .format import REDACTED, body_bytes, encode_content, header_pairs, without_paths
from .grpcstubs import grpc_stub_specs
from .recorder import GRPC, UnreadableExchange, read_exchanges, side_files

# response fields a replay sets itself (framing, hop-by-hop) or must not repeat (a stale Date)
_DROPPED = {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}


def request_matcher(request: dict, ignore_query: frozenset[str] = frozenset(),
                    ignore_body: tuple[str, ...] = ()) -> dict:
    """A recorded request as a stub's `request:` (what replays and generated stubs match on)."""
    method = request["method"]
    path, _, query = request["url"].partition("?")
    matcher: dict = {"method": method}
    if "{" in path:
        matcher["pathRegex"] = "^" + re.escape(path) + "$"
    else:
        matcher["path"] = path
    params = {k: v for k, v in parse_qsl(query, keep_blank_values=True) if k not in ignore_query and v != REDACTED}
    if params:
        matcher["query"] = params
    body = request.get("body") or {}
    if not body.get("redacted"):
        if "json" in body and ignore_body:  # what is left must match; the ignored fields may be anything
            matcher["body"] = {"json": without_paths(body["json"], ignore_body), "ignoreExtraElements": True}
        elif "json" in body:
            matcher["body"] = {"json": body["json"]}
        elif "text" in body:
            matcher["body"] = body["text"]
    return matcher


def _response(record: dict, read_side_file) -> dict:
    response = record["response"]
    body = response.get("body") or {}
    data = encode_content(body_bytes(body, read_side_file), body.get("contentEncoding"))
    headers: dict[str, list[str]] = {}
    for name, value in header_pairs(response.get("headers", [])):
        if name.lower() not in _DROPPED:
            headers.setdefault(name, []).append(value)
    return {"status": response["status"], "headers": headers, "base64Body": base64.b64encode(data).decode(),
            "template": False}


def load_recording(directory: Path, name: str, ignore_query: frozenset[str] = frozenset({"_"}),
                   latency: bool = False, ignore_body: tuple[str, ...] = (), grpc: bool = True) -> list[LoadedStub]:
    """The recording's exchanges as stubs, in recorded order (its gRPC calls too, unless not
    grpc); ConfigErrors naming the file at fault."""
    if not directory.is_dir():
        raise ConfigErrors([ConfigError(name, None, "", f"no recording at {directory}")])
    groups: dict[str, dict] = {}
    calls: list[tuple[dict, dict]] = []  # gRPC calls: record/grpcstubs.py makes their stubs
    try:
        for entry, record in read_exchanges(directory, grpc=grpc):
            if record.get("protocol") == GRPC:
                calls.append((entry, record))
                continue
            try:
                matcher = request_matcher(record["request"], ignore_query, ignore_body)
                response = _response(record, side_files(directory))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UnreadableExchange(entry["file"], exc) from None
            key = json.dumps(matcher, sort_keys=True)
            group = groups.setdefault(key, {"matcher": matcher, "responses": [], "first": entry, "ttfb": []})
            group["responses"].append(response)
            group["ttfb"].append(record.get("timing", {}).get("ttfbMs", 0))
    except UnreadableExchange as exc:
        raise ConfigErrors([ConfigError(f"{name}/{exc.file}", None, "", str(exc))]) from None
    stubs = []
    for group in groups.values():
        first = group["first"]
        spec: dict = {"name": f"{name}#{first['seq']}", "request": group["matcher"]}
        if len(group["responses"]) == 1:
            spec["response"] = group["responses"][0]
        else:
            spec["responses"] = group["responses"]
        if latency:  # the first answer's time to first byte, for all of them
            spec["faults"] = [{"type": "latency", "fixed_ms": group["ttfb"][0], "header": False}]
        stubs.extend(validate_stubs(spec, f"{name}/{first['file']}"))
    try:
        grpc_specs = grpc_stub_specs(calls, name, side_files(directory), latency, ignore_body=ignore_body)
    except UnreadableExchange as exc:
        raise ConfigErrors([ConfigError(f"{name}/{exc.file}", None, "", str(exc))]) from None
    for spec, file in grpc_specs:
        stubs.extend(validate_stubs(spec, f"{name}/{file}"))
    return stubs
