"""The Pact specification's own test cases (tests/fixtures/pact-spec/, from pact-foundation/
pact-specification) turned into what the conformance tests need: a pact file holding a case's
expected side, and the case's actual side as it goes on the wire.

A case's actual request becomes bytes as any client would send it: a JSON body serialized, a v4
body decoded, the query encoded; what has no wire form (an empty path, a header folded across
lines) is listed by `unsendable`, not counted.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).parent / "fixtures" / "pact-spec"
VERSIONS = {"v1": "1.0.0", "v1.1": "1.1.0", "v2": "2.0.0", "v3": "3.0.0", "v4": "4.0"}


def cases(version: str, side: str) -> list[tuple[str, dict]]:
    """(name, case) for every case of a version and side (request | response), sorted by name."""
    base = ROOT / version / side
    return [(str(p.relative_to(base).with_suffix("")), json.loads(p.read_text(encoding="utf-8-sig")))
            for p in sorted(base.rglob("*.json"))]


def unsendable(case: dict, side: str = "request") -> str | None:
    """Why a case's actual side cannot go on the wire as written (None: it can)."""
    actual = case["actual"]
    if side == "request":
        if actual.get("path", "/") == "":
            return "an empty path (a request-target starts with '/')"
        method = actual.get("method", "GET")
        if method != method.upper():
            return f"a lower-case method {method!r} (llhttp, like most HTTP/1.1 servers, reads methods upper-case)"
    for value in (actual.get("headers") or {}).values():
        for v in value if isinstance(value, list) else [value]:
            if "\n" in str(v):
                return "a header value folded across lines (RFC 9112 §5.2 obsolete line folding)"
    return None


def pact_for(case: dict, version: str, side: str, interaction: dict | None = None) -> dict:
    """A pact file holding the case's expected side: a request case's as the request (answered
    200 `matched`), a response case's as the response (to GET /)."""
    expected = dict(case["expected"])
    entry = {"type": "Synchronous/HTTP", "description": "case"} if version == "v4" else {"description": "case"}
    if side == "request":
        entry |= {"request": expected, "response": {"status": 200, "body": "matched"}}
        if version == "v4":
            entry["response"] = {"status": 200, "body": {"content": "matched", "contentType": "text/plain"}}
    else:
        entry |= {"request": {"method": "GET", "path": "/"}, "response": expected}
    entry |= interaction or {}
    return {"consumer": {"name": "spec"}, "provider": {"name": "spec"}, "interactions": [entry],
            "metadata": {"pactSpecification": {"version": VERSIONS[version]}}}


def body_bytes(message: dict, version: str) -> tuple[bytes | None, str | None]:
    """(the body's bytes or None for none, a content type the body object declares)."""
    if "body" not in message or message["body"] is None:
        return None, None
    body = message["body"]
    if version == "v4" and isinstance(body, dict) and ("content" in body or "contentType" in body):
        content, declared = body.get("content"), body.get("contentType")
        if content is None:
            return None, declared
        encoded = body.get("encoded")
        if isinstance(encoded, str) and encoded.lower() == "base64":
            return base64.b64decode(content), declared
        if isinstance(content, str):
            return content.encode(), declared
        return json.dumps(content).encode(), declared
    if isinstance(body, str):
        return body.encode(), None
    return json.dumps(body).encode(), None


def query_string(actual: dict) -> str:
    query = actual.get("query")
    if query is None:
        return ""
    if isinstance(query, str):
        return query
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, values in query.items()
                    for v in (values if isinstance(values, list) else [values]))


def headers_of(message: dict) -> list[tuple[str, str]]:
    out = []
    for name, value in (message.get("headers") or {}).items():
        for v in value if isinstance(value, list) else [value]:
            out.append((name, str(v).replace("\n", " ").replace("\r", " ")))
    return out


def wire_request(case: dict, version: str, extra: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    """The case's actual request as HTTP/1.1 bytes (Host and `extra` added; a declared body type as
    Content-Type)."""
    actual = case["actual"]
    body, declared = body_bytes(actual, version)
    headers = headers_of(actual) + list(extra)
    if declared and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", declared))
    target = actual.get("path", "/") or "/"
    q = query_string(actual)
    head = f"{actual.get('method', 'GET')} {target}{'?' + q if q else ''} HTTP/1.1\r\nHost: pact\r\n"
    head += "".join(f"{n}: {v}\r\n" for n, v in headers)
    head += f"Content-Length: {len(body or b'')}\r\n\r\n"
    return head.encode("utf-8") + (body or b"")
