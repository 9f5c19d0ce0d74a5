"""Drift: replay a recording's requests against the live upstream and say what changed since —
status, chosen headers, the JSON structure (fields added, removed, of another type) and values
(ids, timestamps and UUIDs ignored by default). Hoverfly's diff mode, for CI: the exit status says
whether anything drifted."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .format import REDACTED, body_bytes, header_pairs
from .recorder import read_exchanges, read_index, side_files

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


class Unreachable(Exception):
    """The upstream took no connection: nothing more can be compared, so there is no report."""

    def __init__(self, upstream: str, cause: str, seq: int, compared: int, total: int):
        where = f" (at exchange #{seq} of {total}, after {compared} compared; no report)" if compared else ""
        super().__init__(f"cannot reach {upstream}: {cause}{where}")


@dataclass
class Skipped:
    """An exchange not sent: its request carries redacted values nobody supplied."""

    seq: int
    method: str
    url: str
    redacted: list[str]  # where: a header's name, ?parameter, a JSONPath, "path" or "body"


@dataclass
class DriftReport:
    total: int
    drifted: list[Drift] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.total - len(self.skipped)

    def as_json(self) -> dict[str, Any]:
        return {"exchanges": self.total, "compared": self.compared,
                "drifted": [d.__dict__ for d in self.drifted], "skipped": [s.__dict__ for s in self.skipped]}


def _json_places(value: Any, path: str, out: list[str]) -> list[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            _json_places(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_places(item, f"{path}[{i}]", out)
    elif isinstance(value, str) and REDACTED in value:
        out.append(path)
    return out


def redacted_places(headers: list[tuple[str, str]], url: str, body_entry: dict[str, Any], body: bytes) -> list[str]:
    """Where a recorded request still holds the redaction placeholder instead of a value."""
    places = [name.lower() for name, value in headers if REDACTED in value]
    path, _, query = url.partition("?")
    if REDACTED in path:
        places.append("path")
    places += [f"?{name}" for name, value in (p.partition("=")[::2] for p in query.split("&")) if REDACTED in value]
    if "json" in body_entry:
        places += _json_places(body_entry["json"], "$", [])
    elif REDACTED.encode() in body:
        places.append("body")
    return list(dict.fromkeys(places))


def _cause(exc: Exception, timeout: float) -> str:
    """A connection failure in a few words: what a user can act on."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"certificate not trusted ({getattr(exc.certificate_error, 'reason', None) or exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host {exc.host!r}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS handshake failed ({getattr(exc.os_error, 'reason', None) or exc.os_error})"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"no connection within {timeout:g}s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if os_error.errno is not None:
            return os.strerror(os_error.errno).lower()
        return str(os_error) or type(os_error).__name__
    return str(exc) or type(exc).__name__


def _no_answer(exc: Exception, timeout: float) -> str:
    """Why a connected request got no response."""
    if isinstance(exc, TimeoutError):
        return f"no response within {timeout:g}s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection closed before a response"
    return str(exc) or type(exc).__name__


async def diff_recording(directory: Path, upstream: str, headers: tuple[str, ...] = ("content-type",),
                         ignore: tuple[str, ...] = (), extra_headers: dict[str, str] | None = None,
                         timeout: float = 10.0, send_redacted: bool = False) -> DriftReport:
    """Each recorded exchange, asked again of `upstream`: the ones that drifted, and the ones skipped
    because their request holds redacted values that `extra_headers` does not supply (unless
    `send_redacted`: then they go as recorded, a header whose whole value was redacted left out).
    Raises Unreachable when a connection to the upstream fails."""
    compared = {h.lower() for h in headers}
    extra = extra_headers or {}
    supplied = {name.lower() for name in extra}
    report = DriftReport(len(read_index(directory)))
    sent = 0
    # a connection per exchange: an upstream that went away is seen at once, not as a stale keep-alive
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), auto_decompress=True,
                                     connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _, record in read_exchanges(directory):
            request, response = record["request"], record["response"]
            recorded_pairs = [(name, value) for name, value in header_pairs(request["headers"])
                              if name.lower() not in _NOT_SENT and name.lower() not in supplied]
            body = body_bytes(request["body"], side_files(directory))
            places = redacted_places(recorded_pairs, request["url"], request["body"], body)
            if places and not send_redacted:
                report.skipped.append(Skipped(record["seq"], request["method"], request["url"], places))
                continue
            send = {name: value for name, value in recorded_pairs if value != REDACTED}
            send.update(extra)
            drift = Drift(record["seq"], request["method"], request["url"])
            try:
                async with session.request(request["method"], upstream.rstrip("/") + request["url"],
                                           headers=send, data=body or None, allow_redirects=False) as live:
                    live_body = await live.read()
                    live_status, live_headers = live.status, live.headers
                sent += 1
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                raise Unreachable(upstream, _cause(exc, timeout), record["seq"], sent, report.total) from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                sent += 1  # it connected: an answer that did not come is the live service's behaviour
                drift.changes.append({"kind": "no-answer", "path": "", "live": _no_answer(exc, timeout)})
                report.drifted.append(drift)
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
                report.drifted.append(drift)
    return report


def _is_header(place: str) -> bool:
    return not place.startswith(("?", "$")) and place not in ("path", "body")


def report_text(report: DriftReport) -> str:
    drifted = report.drifted
    if not drifted:
        lines = [f"no drift: {report.compared} exchange(s) answered as recorded"]
    else:
        lines = [f"drift in {len(drifted)} of {report.compared} exchange(s):"]
    for d in drifted:
        lines.append(f"  #{d.seq} {d.method} {d.url}")
        for c in d.changes:
            was = f" {json.dumps(c['recorded'])}" if "recorded" in c else ""
            now = f" → {json.dumps(c['live'])}" if "live" in c else ""
            lines.append(f"    {c['kind']:<14} {c['path']}{was}{now}")
    if report.skipped:
        places = list(dict.fromkeys(p for s in report.skipped for p in s.redacted))
        hint = ("pass --header 'Name: value' to supply a header, or --send-redacted to send them as recorded"
                if any(map(_is_header, places)) else "pass --send-redacted to send them as recorded")
        lines.append(f"skipped {len(report.skipped)} exchange(s) carrying redacted values "
                     f"({', '.join(places)}): {hint}")
        lines += [f"  #{s.seq} {s.method} {s.url}: {', '.join(s.redacted)}" for s in report.skipped]
    return "\n".join(lines) + "\n"
