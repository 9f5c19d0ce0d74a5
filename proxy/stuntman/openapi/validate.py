"""Requests and responses checked against an operation of a spec, with validators compiled once.

`RequestValidator(spec, op)` and `ResponseValidator(spec, op)` are built at load, once per
operation: every schema is converted and compiled with the rest of the spec's (jsonschema.py, for
the schemas locate.py finds), and every parameter gets its decoder (style, explode, the types to
coerce strings to: parameters.py) up front, every body its reader (bodies.py). `check(...)` then
decodes, coerces and validates, and returns every `Violation` found ([] when the message keeps
the contract); `problem(violations)` is the RFC 9457 answer listing them (violations.py).

The per-request path is a loop over precomputed parameter rules and one `is_valid` call per
value (jsonschema-rs, Rust); errors are only collected, and mapped back to the spec, when a value
is invalid.

Decisions: a body sent to an operation that declares none is not checked; a readOnly property
sent in a request is accepted (3.x says it SHOULD NOT be sent, not that the request is invalid);
header parameters named Accept, Content-Type or Authorization are ignored (as OpenAPI says); a
response body is checked only when the response declares content; a writeOnly property in a
response is checked against its schema, not refused. (Parameters: parameters.py; bodies:
bodies.py.)

`check_schemas(spec)` is for loading: the first schema of the spec that is not a valid schema, as
a SpecError naming its file and pointer (the validators do not raise; such a schema accepts
anything, and spec.notes says so).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .bodies import Content
from .document import escape, walk_pointer
from .jsonschema import REQUEST, RESPONSE, Compiled, compiled
from .locate import all_roots, compiled_for, headers_of, locate, parameter_pointers, request_roots, response_roots
from .parameters import MISSING, Parameter, check_query, cookies
from .violations import MAX_ERRORS, Violation, problem

if TYPE_CHECKING:
    from .document import Operation, Spec

__all__ = ["MAX_ERRORS", "RequestValidator", "ResponseValidator", "Violation", "check_schemas", "problem"]

_IGNORED_HEADERS = frozenset(("accept", "content-type", "authorization"))


def check_schemas(spec: Spec) -> None:
    """Raise SpecError for the first schema of spec that is not a valid JSON Schema (`type: strin`,
    `minimum: "x"`, `required: true` on a 3.0 property, a `pattern` that is not a regular
    expression, a schema that is not an object, a `$ref` that is not a string), naming its file,
    the pointer of the offending keyword there, and why. Request schemas first, then response
    ones, compiled as the validators compile them; then the schemas under components.schemas
    (2.0: definitions) that no operation uses. The validators themselves do not raise: such a
    schema accepts anything, and the spec's notes say so."""
    used: set[str] = set()
    for direction, of in ((REQUEST, request_roots), (RESPONSE, response_roots)):
        schemas = compiled(spec, direction, all_roots(spec, of))
        if schemas.problems:
            raise schemas.problems[0]
        used.update(schemas.ids)
    unused = [ptr for ptr in _named_schemas(spec) if ptr not in used]
    if unused:
        problems = Compiled(spec, REQUEST, unused).problems
        if problems:
            raise problems[0]


def _named_schemas(spec: Spec) -> list[str]:
    """The bundle pointers of the schemas under components.schemas (2.0: definitions)."""
    at = "/definitions" if spec.version == "2.0" else "/components/schemas"
    try:
        named = walk_pointer(spec.doc, at)
    except KeyError:
        return []
    return [f"{at}/{escape(str(name))}" for name in named] if isinstance(named, dict) else []


# -- the validators ----------------------------------------------------------------------------

class RequestValidator:
    """The request side of one operation: parameters, body, content type."""

    __slots__ = ("op", "spec", "path", "query", "headers", "cookies", "body", "body_required", "body_at",
                 "body_only")

    def __init__(self, spec: Spec, op: Operation):
        self.op, self.spec = op, spec
        schemas = compiled_for(spec, op, REQUEST)
        pointers = parameter_pointers(spec, op)
        params = [Parameter(spec, p, pointers.get(id(p), op.pointer), schemas) for p in op.parameters
                  if p.get("in") in ("path", "query", "header", "cookie")
                  and not (p.get("in") == "header" and str(p.get("name", "")).lower() in _IGNORED_HEADERS)]
        self.path = tuple(p for p in params if p.where == "path")
        self.query = tuple(p for p in params if p.where == "query")
        self.headers = tuple(p for p in params if p.where == "header")
        self.cookies = tuple(p for p in params if p.where == "cookie")
        self.body: Content | None = None
        self.body_required = False
        self.body_at = ""
        body = op.request_body
        if body is not None:
            self.body_at = locate(spec, f"{op.pointer}/requestBody")
            self.body = Content(spec, body.get("content"), f"{self.body_at}/content", schemas)
            self.body_required = bool(body.get("required"))
        # no parameters to check: a request with a body goes straight to it
        self.body_only = self.body is not None and not (self.path or self.query or self.headers or self.cookies)

    def check(self, path_params: dict[str, str], query: dict[str, list[str]], headers: dict[str, str],
              body: bytes, content_type: str | None) -> list[Violation]:
        """Every way the request breaks the contract; [] if it keeps it. path_params as matched
        (percent-decoded), query as parsed (name → values), headers with lower-case names."""
        out: list[Violation] = []
        if self.body_only and body:
            self.body.check(body, content_type, "body", out)  # type: ignore[union-attr]
            return out
        for param in self.path:
            param.check(path_params.get(param.name, MISSING), out)
        for param in self.query:
            check_query(param, query, out)
        for param in self.headers:
            param.check(headers.get(param.key, MISSING), out)
        if self.cookies:
            jar = cookies(headers.get("cookie"))
            for param in self.cookies:
                param.check(jar.get(param.name, MISSING), out)
        if self.body is not None:
            if body:
                self.body.check(body, content_type, "body", out)
            elif self.body_required:
                out.append(Violation("body", "", f"is required ({self.body.accepted()}) but empty",
                                     self.spec.where(f"{self.body_at}/required")))
        return out


class _Response:
    """One declared response: its headers and content."""

    __slots__ = ("key", "headers", "content", "has_content")

    def __init__(self, spec: Spec, key: str, response: dict, at: str, schemas: Compiled):
        self.key = key
        self.headers: list[Parameter] = []
        for name, header in headers_of(response).items():
            header_at = locate(spec, f"{at}/headers/{escape(name)}")
            header = spec.resolve(header)
            if not isinstance(header, dict) or name.lower() == "content-type":
                continue  # a response's Content-Type header is described by its content, not here
            self.headers.append(Parameter(spec, {**header, "name": name, "in": "header"}, header_at, schemas))
        content = response.get("content")
        self.has_content = isinstance(content, dict) and bool(content)
        self.content = Content(spec, content, f"{at}/content", schemas)


class ResponseValidator:
    """The response side of one operation: the status is declared, required headers are there,
    the body fits the schema of its media type."""

    __slots__ = ("op", "spec", "exact", "ranges", "default", "declared", "at")

    def __init__(self, spec: Spec, op: Operation):
        self.op, self.spec = op, spec
        schemas = compiled_for(spec, op, RESPONSE)
        self.at = f"{op.pointer}/responses"
        self.exact: dict[int, _Response] = {}
        self.ranges: dict[str, _Response] = {}
        self.default: _Response | None = None
        for key, response in op.responses.items():
            rule = _Response(spec, key, response, locate(spec, f"{self.at}/{escape(key)}"), schemas)
            if key.isdigit():
                self.exact[int(key)] = rule
            elif len(key) == 3 and key[0] in "12345" and key[1:].upper() == "XX":
                self.ranges[key[0]] = rule
            elif key == "default":
                self.default = rule
        self.declared = ", ".join(op.responses) or "none"

    def check(self, status: int, headers: dict[str, str], body: bytes,
              content_type: str | None) -> list[Violation]:
        """Every way the response breaks the contract; [] if it keeps it (headers: lower-case names)."""
        out: list[Violation] = []
        rule = self.exact.get(status) or self.ranges.get(str(status)[:1]) or self.default
        if rule is None:
            out.append(Violation("status", "", f"{status} is not a declared response (declared: {self.declared})",
                                 self.spec.where(self.at)))
            return out
        for header in rule.headers:
            header.check(headers.get(header.key, MISSING), out)
        if body:
            if rule.has_content:
                rule.content.check(body, content_type, "body", out)
        elif rule.has_content:
            out.append(Violation("body", "", f"is empty; response {rule.key} declares a body "
                                 f"({rule.content.accepted()})", self.spec.where(f"{self.at}/{escape(rule.key)}")))
        return out
