"""The recording format: one readable JSON file per exchange, bodies as JSON, text or base64
(large ones in side files), compressed bodies stored decoded, secrets redacted.

    recordings/<name>/
      index.jsonl                    one line per exchange, appended after its file is in place
      exchanges/000001-GET-api-users-42.json
      exchanges/000002-GRPC-shop-v1-Orders-GetOrder.json    a gRPC call (record/grpc.py)
      bodies/000007-response.bin     bodies over --record-body-inline (64 KiB), as received (decoded)
      bodies/000009-message-3.bin    gRPC messages over it, likewise

A JSON body is kept as JSON only when it can be written back byte for byte (its original key
order and one of the usual spacings), so a replay answers exactly what was recorded; any other
text is kept as text, anything else as base64.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
import zlib
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REDACTED = "[REDACTED]"
DEFAULT_REDACT = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",  # headers
                  "password", "passwd", "secret", "client_secret", "token", "access_token", "refresh_token",
                  "id_token", "api_key", "apikey")  # query parameters and JSON fields
# how JSON bodies are commonly written: try each, keep the one that gives the bytes back
JSON_STYLES: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},
    "spaced": {"ensure_ascii": False},
    "spaced-ascii": {},
    "indent2": {"indent": 2, "ensure_ascii": False},
}


def header_pairs(lines: list[str]) -> list[tuple[str, str]]:
    """Headers as a recording keeps them ("Name: value" lines) → (name, value) pairs."""
    return [(name, value) for name, _, value in (line.partition(": ") for line in lines)]


def json_style(data: bytes) -> tuple[str, Any] | None:
    """(style, value) if data is JSON that a known style writes back identically."""
    if not data or data[:1] not in b"{[":
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):  # nested deeper than Python parses: kept as text
        return None
    for style, options in JSON_STYLES.items():
        if json.dumps(value, **options).encode() == data:
            return style, value
    return None


def dump_json(value: Any, style: str) -> bytes:
    return json.dumps(value, **JSON_STYLES[style]).encode()


def body_entry(data: bytes, inline_limit: int, side_file: str) -> tuple[dict[str, Any], bytes | None]:
    """A body for the exchange file, and the bytes for a side file if it is too large inline."""
    entry: dict[str, Any] = {"size": len(data)}
    if not data:
        return entry, None
    if len(data) > inline_limit:
        entry["file"] = side_file
        return entry, data
    found = json_style(data)
    if found is not None:
        entry["json"], entry["jsonStyle"] = found[1], found[0]
        return entry, None
    try:
        entry["text"] = data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(data).decode()
    return entry, None


def body_bytes(entry: dict[str, Any], read_side_file: Callable[[str], bytes]) -> bytes:
    """The bytes a body entry stands for (read_side_file(name) → bytes for large ones)."""
    if "json" in entry:
        return dump_json(entry["json"], entry.get("jsonStyle", "compact"))
    if "text" in entry:
        return entry["text"].encode("utf-8")
    if "base64" in entry:
        return base64.b64decode(entry["base64"])
    if "file" in entry:
        return read_side_file(entry["file"])
    return b""


def decode_content(data: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    """Compressed bodies are stored decoded (diffs read well): (bytes, the encoding undone)."""
    enc = (encoding or "").strip().lower()
    try:
        if enc in ("gzip", "x-gzip"):
            return gzip.decompress(data), enc
        if enc == "deflate":
            try:
                return zlib.decompress(data), enc
            except zlib.error:
                return zlib.decompress(data, -zlib.MAX_WBITS), enc
    except (OSError, EOFError, zlib.error):
        pass  # not what it says: keep the bytes as they came
    return data, None


def encode_content(data: bytes, encoding: str | None) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        return zlib.compress(data)
    return data


class Redactor:
    """Replaces secrets with a marker before anything touches disk: header and query parameter
    names (case-insensitive), JSON body fields by name or by JSONPath; then every other place the
    exchange repeats one of those values (an upstream echoing a token back, a cookie in a URL) is
    scrubbed too. Each method adds the values it hid to `found`."""

    def __init__(self, names: tuple[str, ...] = (), json_paths: tuple[str, ...] = (), enabled: bool = True):
        self.enabled = enabled
        self.names = {n.lower() for n in (*DEFAULT_REDACT, *names)}
        self.json_paths = json_paths

    def headers(self, headers: list[tuple[str, str]], found: set[str]) -> list[str]:
        """As "Name: value" lines (readable, one per line in the file)."""
        out = []
        for name, value in headers:
            if self.enabled and name.lower() in self.names:
                found.update(_secret_parts(name.lower(), value))
                value = REDACTED
            out.append(f"{name}: {value}")
        return out

    def url(self, url: str, found: set[str]) -> str:
        if not self.enabled or "?" not in url:
            return url
        path, _, query = url.partition("?")

        def hide(match: re.Match[str]) -> str:
            if match.group(1).lower() not in self.names:
                return match.group(0)
            found.add(match.group(2))
            return f"{match.group(1)}={REDACTED}"
        return path + "?" + re.sub(r"([^&=]+)=([^&]*)", hide, query)

    def body(self, entry: dict[str, Any], found: set[str]) -> dict[str, Any]:
        if not self.enabled or "json" not in entry:
            return entry
        value = self._fields(entry["json"], found)
        for expr in self.json_paths:
            value = _redact_path(value, expr, found)
        if value != entry["json"]:
            return {**entry, "json": value, "redacted": True}
        return entry

    def scrub(self, record: dict[str, Any], side: dict[str, bytes], found: set[str]) -> dict[str, Any]:
        """Every remaining occurrence of a hidden value, in the record and its side files."""
        secrets = sorted((s for s in found if len(s) >= 4 and s != REDACTED), key=len, reverse=True)
        if not self.enabled or not secrets:
            return record
        text = json.dumps(record, ensure_ascii=False)
        for secret in secrets:
            text = text.replace(json.dumps(secret, ensure_ascii=False)[1:-1], REDACTED)
        for name, data in side.items():
            for secret in secrets:
                data = data.replace(secret.encode(), REDACTED.encode())
            side[name] = data
        return json.loads(text)

    def _fields(self, value: Any, found: set[str]) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k.lower() in self.names:
                    found.update(_strings(v))
                    out[k] = REDACTED
                else:
                    out[k] = self._fields(v, found)
            return out
        if isinstance(value, list):
            return [self._fields(v, found) for v in value]
        return value


def _secret_parts(name: str, value: str) -> list[str]:
    """The values inside a secret header that may show up elsewhere: the whole value, the
    credentials after an auth scheme, each cookie's value (never a cookie's name)."""
    parts = [value]
    if name in ("authorization", "proxy-authorization") and " " in value:
        parts.append(value.split(" ", 1)[1].strip())
    elif name in ("cookie", "set-cookie"):
        cookies = value.split(";") if name == "cookie" else value.split(";")[:1]  # Set-Cookie: then attributes
        parts += [c.split("=", 1)[1].strip() for c in cookies if "=" in c]
    return parts


def _strings(value: Any) -> list[str]:
    if isinstance(value, (dict, list)):
        items = value.values() if isinstance(value, dict) else value
        return [s for v in items for s in _strings(v)]
    return [str(value)] if value is not None else []


def _redact_path(value: Any, expr: str, found: set[str]) -> Any:
    from ..config.jsonpaths import compile_path

    for match in list(compile_path(expr).finditer(value)):
        parent = match.parent.obj if match.parent is not None else None
        key: Any = match.parts[-1] if match.parts else None  # an index in a list, a name in a dict
        if isinstance(parent, (dict, list)) and key is not None:
            found.update(_strings(parent[key]))
            parent[key] = REDACTED
    return value


def without_paths(value: Any, paths: tuple[str, ...]) -> Any:
    """A copy of a JSON value without the fields these JSONPaths find (what a replay does not match
    on: --ignore-body)."""
    if not paths:
        return value
    import copy

    from ..config.jsonpaths import compile_path

    value = copy.deepcopy(value)
    for expr in paths:
        for match in list(compile_path(expr).finditer(value)):
            parent = match.parent.obj if match.parent is not None else None
            if isinstance(parent, dict) and match.parts:
                parent.pop(match.parts[-1], None)
    return value


def slug(method: str, path: str) -> str:
    """A readable, stable piece of a file name: GET-api-users-42."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", path.split("?", 1)[0]).strip("-")[:60]
    return f"{method}-{cleaned or 'root'}"


# -- the file format, as a model: its JSON Schema documents it (stuntman schema --recording) ----


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordedBody(_Strict):
    size: int = Field(description="bytes, as received (decoded when it was compressed)")
    json_: Any = Field(None, alias="json", description="a JSON body (written back byte for byte in jsonStyle)")
    jsonStyle: str | None = Field(None, description=f"how the JSON was written: {', '.join(JSON_STYLES)}")
    text: str | None = Field(None, description="a UTF-8 body that is not JSON")
    base64: str | None = Field(None, description="any other body")
    file: str | None = Field(None, description="a large body, in this side file (relative to the recording)")
    contentEncoding: str | None = Field(None, description="the encoding undone (gzip, deflate): redone on replay")
    redacted: bool | None = Field(None, description="fields were redacted: a replay does not match on this body")


class RecordedMessage(_Strict):
    headers: list[str] = Field(description='"Name: value" lines, in order, secrets as [REDACTED]')
    body: RecordedBody


class RecordedRequest(RecordedMessage):
    method: str
    url: str = Field(description="path and query, as sent")


class RecordedResponse(RecordedMessage):
    status: int
    reason: str = ""


class RecordedExchange(_Strict):
    """exchanges/NNNNNN-METHOD-path.json: one exchange of a recording."""

    seq: int = Field(description="order in the recording, from 1")
    recordedAt: str
    protocol: str
    upstream: str
    route: str | None = Field(description="the stub that proxied it (name or file:line), if any")
    faults: list[dict] = Field(description="faults that fired on it")
    request: RecordedRequest
    response: RecordedResponse
    timing: dict[str, float] = Field(description="ttfbMs (time to the response head), totalMs")


class RecordedGrpcMessage(_Strict):
    direction: Literal["request", "response"]
    atMs: float = Field(description="when it passed, since the call began")
    size: int = Field(description="bytes")
    json_: Any = Field(None, alias="json", description="the message in protobuf's JSON mapping, when --proto knew "
                                                       "the method")
    base64: str | None = Field(None, description="its bytes: when the method's type does not read them, or when the "
                               "JSON does not give them back (then every message that way has them, and a replay "
                               "sends these)")
    file: str | None = Field(None, description="a large message's bytes, in this side file (relative to the "
                                               "recording)")
    redacted: bool | None = Field(None, description="secrets in it were hidden: a replay does not match on it")


class RecordedGrpcRequest(_Strict):
    method: str = Field(description="/package.Service/Method")
    kind: str | None = Field(description="unary, server-streaming, client-streaming or bidi-streaming, as --proto "
                                         "says; null when it does not know the method")
    type: str | None = Field(description="the request messages' type, when --proto knew the method")
    metadata: list[str] = Field(description='"name: value" lines, in order (-bin values in base64), secrets as '
                                            "[REDACTED]")


class RecordedGrpcResponse(_Strict):
    type: str | None = Field(description="the response messages' type, when --proto knew the method")
    metadata: list[str] = Field(description="the upstream's initial metadata, as request.metadata")
    status: str = Field(description="the status code's name: OK, NOT_FOUND...")
    code: int = Field(description="its number")
    details: str
    trailers: list[str] = Field(description="trailing metadata, as request.metadata (grpc-status-details-bin too)")


class RecordedGrpcExchange(_Strict):
    """exchanges/NNNNNN-GRPC-service-method.json: one gRPC call of a recording."""

    seq: int = Field(description="order in the recording, from 1")
    recordedAt: str
    protocol: Literal["grpc"]
    upstream: str = Field(description="the gRPC upstream: HOST:PORT or grpcs://HOST:PORT")
    route: str | None = Field(description="the stub that passed it on (name or file:line), if any")
    faults: list[dict] = Field(description="faults that fired on it")
    request: RecordedGrpcRequest
    messages: list[RecordedGrpcMessage] = Field(description="every message each way, in the order they passed")
    response: RecordedGrpcResponse
    timing: dict[str, float] = Field(description="ttfbMs (to the first response message, else the end), totalMs")


def recording_schema() -> dict[str, Any]:
    """An exchange file: an HTTP exchange or a gRPC call."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(RecordedExchange | RecordedGrpcExchange).json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stuntman recorded exchange"
    return schema
