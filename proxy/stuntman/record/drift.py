"""Drift: replay a recording's requests against the live upstream and say what changed since —
status, chosen headers, the JSON structure (fields added, removed, of another type) and values
(ids, timestamps and UUIDs ignored by default). Hoverfly's diff mode, for CI: the exit status says
whether anything drifted."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .format import REDACTED, body_bytes, header_pairs
from .recorder import read_exchanges, side_files

# values that change on every call by nature: not drift
VOLATILE_KEY = re.compile(r"(^|_|-)(id|uuid|guid|etag|nonce|timestamp|created|updated|modified|date|time|expires)s?$"
                          r"|[a-z](Id|At|Time|Date)$", re.IGNORECASE)
VOLATILE_VALUE = re.compile(r"^(\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?"
                            r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE)
_NOT_SENT = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}


@dataclass
class Drift:
    seq: int
    method: str
    url: str
    changes: list[dict[str, Any]] = field(default_factory=list)  # {kind, path, recorded, live}


def _type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def compare_json(recorded: Any, live: Any, path: str = "$", ignore: tuple[str, ...] = (),
                 out: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Structural and value differences between two JSON documents, each with its JSONPath."""
    out = [] if out is None else out
    if path in ignore:
        return out
    if _type(recorded) != _type(live):
        out.append({"kind": "type-changed", "path": path, "recorded": _type(recorded), "live": _type(live)})
    elif isinstance(recorded, dict):
        for key in recorded.keys() - live.keys():
            if f"{path}.{key}" not in ignore:
                out.append({"kind": "removed", "path": f"{path}.{key}", "recorded": recorded[key]})
        for key in live.keys() - recorded.keys():
            if f"{path}.{key}" not in ignore:
                out.append({"kind": "added", "path": f"{path}.{key}", "live": live[key]})
        for key in recorded.keys() & live.keys():
            if VOLATILE_KEY.search(key) and _type(recorded[key]) == _type(live[key]):
                continue  # an id or a time: its value may change, its type may not
            compare_json(recorded[key], live[key], f"{path}.{key}", ignore, out)
    elif isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(recorded, live, strict=False)):  # items: the shape of each one in both
            compare_json(a, b, f"{path}[{i}]", ignore, out)
        if len(recorded) != len(live):
            out.append({"kind": "length-changed", "path": path, "recorded": len(recorded), "live": len(live)})
    elif recorded != live and REDACTED not in (recorded, live) \
            and not (isinstance(recorded, str) and VOLATILE_VALUE.match(recorded) and VOLATILE_VALUE.match(str(live))):
        out.append({"kind": "value-changed", "path": path, "recorded": recorded, "live": live})
    return sorted(out, key=lambda c: c["path"]) if path == "$" else out


async def diff_recording(directory: Path, upstream: str, headers: tuple[str, ...] = ("content-type",),
                         ignore: tuple[str, ...] = (), extra_headers: dict[str, str] | None = None,
                         timeout: float = 10.0) -> list[Drift]:
    """Each recorded exchange, asked again of `upstream`: the ones that drifted."""
    import aiohttp

    compared = {h.lower() for h in headers}
    drifted = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                     auto_decompress=True) as session:
        for _, record in read_exchanges(directory):
            request, response = record["request"], record["response"]
            send = {name: value for name, value in header_pairs(request["headers"])
                    if name.lower() not in _NOT_SENT and value != REDACTED}
            send.update(extra_headers or {})
            body = body_bytes(request["body"], side_files(directory))
            drift = Drift(record["seq"], request["method"], request["url"])
            try:
                async with session.request(request["method"], upstream.rstrip("/") + request["url"],
                                           headers=send, data=body or None, allow_redirects=False) as live:
                    live_body = await live.read()
                    live_status, live_headers = live.status, live.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                drift.changes.append({"kind": "unreachable", "path": "", "live": str(exc) or type(exc).__name__})
                drifted.append(drift)
                continue
            if live_status != response["status"]:
                drift.changes.append({"kind": "status", "path": "status", "recorded": response["status"],
                                      "live": live_status})
            recorded_headers: dict[str, str] = {}
            for name, value in header_pairs(response["headers"]):
                recorded_headers.setdefault(name.lower(), value)
            for name in sorted(compared):
                if recorded_headers.get(name) != live_headers.get(name):
                    drift.changes.append({"kind": "header", "path": f"headers.{name}",
                                          "recorded": recorded_headers.get(name), "live": live_headers.get(name)})
            recorded_body = response["body"]
            if "json" in recorded_body:
                try:
                    drift.changes += compare_json(recorded_body["json"], json.loads(live_body), ignore=ignore)
                except ValueError:
                    drift.changes.append({"kind": "body", "path": "$", "recorded": "JSON", "live": "not JSON"})
            elif body_bytes(recorded_body, side_files(directory)) != live_body:
                drift.changes.append({"kind": "body", "path": "body",
                                      "recorded": f"{recorded_body.get('size', 0)} bytes",
                                      "live": f"{len(live_body)} bytes"})
            if drift.changes:
                drifted.append(drift)
    return drifted


def report_text(drifted: list[Drift], total: int) -> str:
    if not drifted:
        return f"no drift: {total} exchange(s) answered as recorded\n"
    lines = [f"drift in {len(drifted)} of {total} exchange(s):"]
    for d in drifted:
        lines.append(f"  #{d.seq} {d.method} {d.url}")
        for c in d.changes:
            was = f" {json.dumps(c['recorded'])}" if "recorded" in c else ""
            now = f" → {json.dumps(c['live'])}" if "live" in c else ""
            lines.append(f"    {c['kind']:<14} {c['path']}{was}{now}")
    return "\n".join(lines) + "\n"
