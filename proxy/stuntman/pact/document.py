"""Pact files read into one shape, whatever their version: the specification's v1, v1.1, v2, v3
and v4 (its own test cases are the conformance suite, tests/fixtures/pact-spec/). HTTP
interactions are served; message interactions (v3 message pacts, v4 Asynchronous and Synchronous
Messages) are listed, with a note that they are not served over HTTP.

What is wrong with a file is one PactError naming the file and the JSON pointer at fault, and the
whole file is refused (nothing of it is served).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

from . import matchers
from .content import kind
from .rules import RuleError, Rules, parse_rules

MAX_PACT_BYTES = 64 * 1024 * 1024
HTTP = "Synchronous/HTTP"
MESSAGES = ("Asynchronous/Messages", "Synchronous/Messages")
# headers whose values are lists (the reference implementation splits the pact's value on commas)
MULTI_VALUE = frozenset((
    "accept", "accept-encoding", "accept-language", "access-control-allow-headers", "access-control-allow-methods",
    "access-control-expose-headers", "access-control-request-headers", "allow", "cache-control", "if-match",
    "if-none-match", "vary"))


class PactError(Exception):
    def __init__(self, file: str, pointer: str, message: str):
        super().__init__(f"{file}#{pointer}: {message}" if pointer else f"{file}: {message}")
        self.file, self.pointer, self.message = file, pointer, message


@dataclass(frozen=True)
class Body:
    state: str                        # missing | empty | null | present
    content: bytes = b""
    content_type: str | None = None   # declared: v4's contentType, or the Content-Type header
    value: Any = None                 # the JSON value, for a JSON body


MISSING = Body("missing")


@dataclass
class Request:
    method: str = "GET"
    path: str = "/"
    query: dict[str, list[str]] | None = None   # None: the pact says nothing of it
    query_text: str | None = None               # v1: the query as written (compared as a string)
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case name → values
    body: Body = MISSING
    rules: Rules = field(default_factory=Rules)
    generators: dict = field(default_factory=dict)

    def query_string(self) -> str:
        """The query as the interaction's own request sends it: v1/v2's text as written, v3/v4's
        names and values percent-encoded."""
        if self.query_text is not None:
            return self.query_text
        return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}"
                        for name, values in (self.query or {}).items() for value in values)

    def header_fields(self) -> dict[str, str]:
        """The headers as one field each (lower-case names, a header's values joined with ", ")."""
        return {name: ", ".join(values) for name, values in self.headers.items()}


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)  # as written (names and order)
    body: Body = MISSING
    rules: Rules = field(default_factory=Rules)
    generators: dict = field(default_factory=dict)

    def header_values(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.headers:
            out.setdefault(name.lower(), []).extend(_split(name.lower(), value))
        return out


@dataclass
class ProviderState:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Interaction:
    index: int
    description: str
    pointer: str                      # /interactions/N (or /messages/N)
    kind: str = "http"                # http | message
    type: str = HTTP
    key: str | None = None
    states: list[ProviderState] = field(default_factory=list)
    request: Request = field(default_factory=Request)
    response: Response = field(default_factory=Response)
    pending: bool = False


@dataclass
class Pact:
    file: str
    consumer: str
    provider: str
    version: str                      # as the file states it ("3.0.0"), or the one assumed
    major: int                        # 1 (v1 and v1.1), 2, 3 or 4
    interactions: list[Interaction]   # served over HTTP
    messages: list[Interaction]       # listed only
    notes: list[str] = field(default_factory=list)
    v1_0: bool = False                # v1.0 exactly: the query is compared as a string
    paths: frozenset[Path] = frozenset()  # the file read (resolved), for hot reload


def load_pact(path: Path, name: str | None = None, tree: Any = None) -> Pact:
    """Read the pact at path (or the document `tree`, as if it were that file: an admin API
    body); PactError for what cannot be served."""
    file = name or str(path)
    tree_given = tree
    if tree is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PactError(file, "", f"cannot be read: {exc.strerror or exc}") from None
        if len(data) > MAX_PACT_BYTES:
            raise PactError(file, "", f"is larger than {MAX_PACT_BYTES // (1024 * 1024)} MB")
        try:
            tree = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise PactError(file, "", "is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise PactError(file, "", f"line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}") from None
        except RecursionError:
            raise PactError(file, "", "not JSON: nested too deeply") from None
    if not isinstance(tree, dict):
        raise PactError(file, "", f"a pact is a JSON object, not {type(tree).__name__}")
    pact = _Reader(file).pact(tree)
    if tree_given is None:
        pact.paths = frozenset((path.resolve(),))
    return pact


class _Reader:
    def __init__(self, file: str):
        self.file = file
        self.notes: list[str] = []

    def fail(self, pointer: str, message: str) -> PactError:
        return PactError(self.file, pointer, message)

    def pact(self, tree: dict) -> Pact:
        version, at = self.version(tree)
        major, v1_0 = self.major(version, at)
        consumer = _name(tree.get("consumer"))
        provider = _name(tree.get("provider"))
        http: list[Interaction] = []
        messages: list[Interaction] = []
        if major == 4:
            raw = self.list_of(tree, "interactions")
            for i, entry in enumerate(raw):
                pointer = f"/interactions/{i}"
                if not isinstance(entry, dict):
                    raise self.fail(pointer, "an interaction is an object")
                kind_of = entry.get("type")
                if kind_of == HTTP:
                    http.append(self.http(entry, i, pointer, major))
                elif kind_of in MESSAGES:
                    messages.append(self.message(entry, i, pointer, str(kind_of)))
                elif kind_of is None:
                    raise self.fail(f"{pointer}/type", f"a v4 interaction needs a type ({HTTP}, {', '.join(MESSAGES)})")
                else:
                    self.notes.append(f"interaction {i} ({entry.get('description', '')!r}) has type {kind_of!r}, "
                                      "which stuntman does not serve: skipped")
        elif "messages" in tree and "interactions" not in tree:
            for i, entry in enumerate(self.list_of(tree, "messages")):
                if not isinstance(entry, dict):
                    raise self.fail(f"/messages/{i}", "a message is an object")
                messages.append(self.message(entry, i, f"/messages/{i}", "Asynchronous/Messages"))
        else:
            for i, entry in enumerate(self.list_of(tree, "interactions")):
                if not isinstance(entry, dict):
                    raise self.fail(f"/interactions/{i}", "an interaction is an object")
                http.append(self.http(entry, i, f"/interactions/{i}", major))
        for m in messages:
            self.notes.append(f"{m.pointer} ({m.description!r}) is a {m.type} interaction: listed, not served "
                              "over HTTP")
        return Pact(self.file, consumer, provider, version, major, http, messages, self.notes, v1_0)

    def version(self, tree: dict) -> tuple[str, str]:
        meta = tree.get("metadata")
        if isinstance(meta, dict):
            for key in ("pactSpecification", "pact-specification"):
                entry = meta.get(key)
                if isinstance(entry, dict) and entry.get("version") is not None:
                    return str(entry["version"]), f"/metadata/{key}/version"
            if meta.get("pactSpecificationVersion") is not None:
                return str(meta["pactSpecificationVersion"]), "/metadata/pactSpecificationVersion"
        self.notes.append("no metadata.pactSpecification.version: read as a v3 pact (as Pact's tools do)")
        return "3.0.0", ""

    def major(self, version: str, at: str) -> tuple[int, bool]:
        parts = version.strip().lstrip("vV").split(".")
        try:
            major = int(parts[0])
            minor = int(parts[1]) if len(parts) > 1 and parts[1] else 0
        except ValueError:
            raise self.fail(at, f"{version!r} is not a Pact specification version (1.0.0, 1.1.0, 2.0.0, 3.0.0 "
                            "or 4.0)") from None
        if major not in (1, 2, 3, 4):
            raise self.fail(at, f"Pact specification {version} is not one stuntman reads (1, 1.1, 2, 3 and 4)")
        return major, major == 1 and minor == 0

    def list_of(self, tree: dict, key: str) -> list:
        value = tree.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"/{key}", f"{key} is a list")
        return value

    # -- interactions ------------------------------------------------------------------------
    def http(self, entry: dict, index: int, pointer: str, major: int) -> Interaction:
        description = entry.get("description")
        if not isinstance(description, str):
            raise self.fail(f"{pointer}/description", "an interaction needs a description (a string)")
        request, response = entry.get("request"), entry.get("response")
        if not isinstance(request, dict):
            raise self.fail(f"{pointer}/request", "an HTTP interaction needs a request object")
        if response is not None and not isinstance(response, dict):
            raise self.fail(f"{pointer}/response", "the response is an object")
        return Interaction(
            index, description, pointer, "http", HTTP, _text(entry.get("key")), self.states(entry, pointer),
            self.request(request, f"{pointer}/request", major), self.response(response or {}, f"{pointer}/response",
                                                                               major),
            bool(entry.get("pending")))

    def message(self, entry: dict, index: int, pointer: str, kind_of: str) -> Interaction:
        return Interaction(index, str(entry.get("description", "")), pointer, "message", kind_of,
                           _text(entry.get("key")), self.states(entry, pointer))

    def states(self, entry: dict, pointer: str) -> list[ProviderState]:
        raw = entry.get("providerStates")
        if isinstance(raw, list):
            out = []
            for i, state in enumerate(raw):
                if not isinstance(state, dict) or not isinstance(state.get("name"), str):
                    raise self.fail(f"{pointer}/providerStates/{i}", "a provider state is {name, params}")
                params = state.get("params") or {}
                if not isinstance(params, dict):
                    raise self.fail(f"{pointer}/providerStates/{i}/params", "params is an object")
                out.append(ProviderState(state["name"], params))
            return out
        for key in ("providerState", "provider_state"):
            name = entry.get(key)
            if isinstance(name, str) and name:
                return [ProviderState(name)]
        return []

    def request(self, raw: dict, pointer: str, major: int) -> Request:
        method = raw.get("method", "GET")
        path = raw.get("path", "/")
        if not isinstance(method, str) or not method:
            raise self.fail(f"{pointer}/method", "the method is a string")
        if not isinstance(path, str):
            raise self.fail(f"{pointer}/path", "the path is a string")
        req = Request(method.upper(), path)
        query = raw.get("query")
        if isinstance(query, str):
            req.query = parse_query(query)
            req.query_text = query
        elif isinstance(query, dict):
            req.query = {}
            for name, values in query.items():
                if isinstance(values, str):
                    values = [values]
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    raise self.fail(f"{pointer}/query/{_escape(name)}", "a query parameter's values are strings")
                req.query[str(name)] = list(values)
        elif query is not None:
            raise self.fail(f"{pointer}/query", "the query is a string (v1, v2) or an object of lists (v3, v4)")
        req.headers = self.headers(raw.get("headers"), f"{pointer}/headers")
        req.body = self.body(raw, pointer, major, _first(req.headers.get("content-type")))
        req.rules = self.rules(raw, pointer)
        req.generators = self.generators(raw, pointer)
        return req

    def response(self, raw: dict, pointer: str, major: int) -> Response:
        status = raw.get("status", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise self.fail(f"{pointer}/status", f"the status is a number from 100 to 599, not {status!r}")
        res = Response(status)
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict):
            raise self.fail(f"{pointer}/headers", "headers is an object")
        for name, value in headers.items():
            for v in (value if isinstance(value, list) else [value]):
                if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                    raise self.fail(f"{pointer}/headers/{_escape(name)}", "a header's value is a string")
                res.headers.append((str(name), str(v)))
        content_type = next((v for n, v in res.headers if n.lower() == "content-type"), None)
        res.body = self.body(raw, pointer, major, content_type)
        res.rules = self.rules(raw, pointer)
        res.generators = self.generators(raw, pointer)
        return res

    def headers(self, raw: Any, pointer: str) -> dict[str, list[str]]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(pointer, "headers is an object")
        out: dict[str, list[str]] = {}
        for name, value in raw.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                    raise self.fail(f"{pointer}/{_escape(name)}", "a header's value is a string")
                out.setdefault(str(name).lower(), []).extend(_split(str(name).lower(), str(v)))
        return out

    def body(self, raw: dict, pointer: str, major: int, header_type: str | None) -> Body:
        if "body" not in raw:
            return MISSING
        value = raw["body"]
        at = f"{pointer}/body"
        if major == 4 and isinstance(value, dict) and ("content" in value or "encoded" in value
                                                       or "contentType" in value):
            return self.v4_body(value, at, header_type)
        if value is None:
            return Body("null", b"", header_type)
        if value == "":
            return Body("empty", b"", header_type)
        if isinstance(value, str):
            if kind(header_type) == "json":  # a JSON document written as a string
                try:
                    return Body("present", value.encode(), header_type, json.loads(value))
                except ValueError:
                    pass
            return Body("present", value.encode(), header_type)
        return Body("present", json.dumps(value, ensure_ascii=False).encode(), header_type or "application/json",
                    value)

    def v4_body(self, value: dict, at: str, header_type: str | None) -> Body:
        content = value.get("content")
        content_type = value.get("contentType") or header_type
        if content_type is not None and not isinstance(content_type, str):
            raise self.fail(f"{at}/contentType", "contentType is a string")
        encoded = value.get("encoded", False)
        if content is None:
            return Body("null" if "content" in value else "missing", b"", content_type)
        if isinstance(encoded, str) and encoded.lower() == "base64":
            if not isinstance(content, str):
                raise self.fail(f"{at}/content", "base64 content is a string")
            try:
                data = base64.b64decode(content, validate=True)
            except ValueError:
                raise self.fail(f"{at}/content", "is not base64") from None
            return _body_of(data, content_type)
        if isinstance(encoded, str) and encoded.lower() == "json" and isinstance(content, str):
            return _body_of(content.encode(), content_type or "application/json")
        if isinstance(content, str):
            if content == "":
                return Body("empty", b"", content_type)
            if kind(content_type) == "json":
                return Body("present", json.dumps(content).encode(), content_type, content)
            return Body("present", content.encode(), content_type)
        return Body("present", json.dumps(content, ensure_ascii=False).encode(), content_type or "application/json",
                    content)

    def rules(self, raw: dict, pointer: str) -> Rules:
        for key in ("matchingRules", "requestMatchingRules", "responseMatchingRules"):
            if key in raw:
                try:
                    return parse_rules(raw[key], f"{pointer}/{key}", matchers.compile)
                except RuleError as exc:
                    raise self.fail(exc.pointer, exc.message) from None
        return Rules()

    def generators(self, raw: dict, pointer: str) -> dict:
        found = raw.get("generators")
        if found is None:
            return {}
        if not isinstance(found, dict):
            raise self.fail(f"{pointer}/generators", "generators is an object of categories")
        from .generate import GeneratorError, check

        for category, entries in found.items():
            at = f"{pointer}/generators/{_escape(category)}"
            items = entries.items() if category not in ("path", "status", "method") and isinstance(entries, dict) \
                and "type" not in entries else [("", entries)]
            for key, spec in items:
                where = f"{at}/{_escape(key)}" if key else at
                if not isinstance(spec, dict):
                    raise self.fail(where, "a generator is an object with a type")
                try:
                    check(spec)
                except GeneratorError as exc:
                    raise self.fail(where, str(exc)) from None
        return found


def _body_of(data: bytes, content_type: str | None) -> Body:
    if not data:
        return Body("empty", b"", content_type)
    if kind(content_type) == "json":
        try:
            return Body("present", data, content_type, json.loads(data))
        except ValueError:
            pass
    return Body("present", data, content_type)


def parse_query(text: str) -> dict[str, list[str]]:
    """A query string → name → values, decoded (`+` is a space), in order; empty pieces dropped."""
    out: dict[str, list[str]] = {}
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        out.setdefault(unquote_plus(name), []).append(unquote_plus(value))
    return out


def _split(name: str, value: str) -> list[str]:
    if name in MULTI_VALUE and "," in value:
        return [v.strip() for v in value.split(",")]
    return [value.strip()]


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _name(party: Any) -> str:
    return str(party.get("name", "")) if isinstance(party, dict) else ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
