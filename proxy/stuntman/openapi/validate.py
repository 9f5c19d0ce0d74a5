"""Requests and responses checked against an operation of a spec, with validators compiled once.

`RequestValidator(spec, op)` and `ResponseValidator(spec, op)` are built at load, once per
operation: every schema is converted and compiled with the rest of the spec's (jsonschema.py),
and every parameter gets its decoder (style, explode, the types to coerce strings to) up front.
`check(...)` then decodes, coerces and validates, and returns every `Violation` found ([] when
the message keeps the contract); `problem(violations)` is the RFC 9457 answer listing them.

The per-request path is a loop over precomputed parameter rules and one `is_valid` call per
value (jsonschema-rs, Rust); errors are only collected, and mapped back to the spec, when a value
is invalid.

Decisions: unknown query parameters, headers and cookies are fine; a body sent to an operation
that declares none is not checked; a readOnly property sent in a request is accepted (3.x says it
SHOULD NOT be sent, not that the request is invalid); header parameters named Accept,
Content-Type or Authorization are ignored (as OpenAPI says); a query parameter sent empty is a
violation unless it allows empty values (`allowEmptyValue`), or it is an array (an empty list);
a response body is checked only when the response declares content; a media type with no
schema, or one that is neither JSON, form nor multipart, is not read; a writeOnly property in a
response is checked against its schema, not refused. At most MAX_ERRORS violations per value.

`check_schemas(spec)` is for loading: the first schema of the spec that is not a valid schema, as
a SpecError naming its file and pointer (the validators do not raise; such a schema accepts
anything, and spec.notes says so).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..jsontext import loads
from ..jsontext import scan as _scan
from .document import escape, unescape, walk_pointer
from .fastpath import acceptor
from .jsonschema import REQUEST, RESPONSE, Compiled, compiled

if TYPE_CHECKING:
    from .document import Operation, Spec

MAX_PARTS = 1_000            # multipart parts looked at
MAX_ERRORS = 100             # violations reported per value (a huge invalid array stops here)
VALID_BODIES = 8             # valid bodies remembered per content object (then it starts over)
VALID_BODY_BYTES = 1024      # the largest remembered (8 KB at most per content object)
_IGNORED_HEADERS = frozenset(("accept", "content-type", "authorization"))
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_TOO_LONG = "a number has more digits than can be read"
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
               list: "array", dict: "object"}


@dataclass(frozen=True, slots=True)
class Violation:
    # "path.petId", "query.limit", "header.X-Request-Id", "cookie.session", "body", "content-type", "status"
    location: str
    pointer: str    # JSON pointer into the value that is wrong ("/items/0/qty"; "" for the whole value)
    message: str    # one sentence a person can act on: "must be >= 1, got 0"
    schema: str     # where the rule is: "payments.yaml#/components/schemas/Item/properties/qty/minimum"

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "pointer": self.pointer, "message": self.message, "schema": self.schema}


def problem(violations: list[Violation], status: int = 400,
            title: str = "Request does not match the contract") -> bytes:
    """The RFC 9457 application/problem+json body listing every violation."""
    shown = "; ".join(f"{v.location}{v.pointer}: {v.message}" for v in violations[:3])
    more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
    body = {"type": "about:blank", "title": title, "status": status, "detail": shown + more,
            "errors": [v.as_dict() for v in violations]}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# -- locating the parts of an operation in the bundle ------------------------------------------

def _deref(spec: Spec, node: Any, at: str) -> tuple[Any, str]:
    for _ in range(64):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            break
        at = _canonical_pointer(node["$ref"][1:])
        node = walk_pointer(spec.doc, at)
    return node, at


def _canonical_pointer(ptr: str) -> str:
    from urllib.parse import unquote

    return "".join("/" + escape(unescape(unquote(t))) for t in ptr.split("/")[1:]) if ptr else ""


def _locate(spec: Spec, ptr: str, final: bool = True) -> str:
    """The pointer of the node at ptr, with every $ref on the way followed (and the node's own if
    final: a parameter, body or response object; a schema keeps its $ref, siblings may count)."""
    node, at = spec.doc, ""
    for raw in ptr[1:].split("/") if ptr else ():
        node, at = _deref(spec, node, at)
        token = unescape(raw)
        node = node[int(token)] if isinstance(node, list) else node[token]
        at += "/" + escape(token)
    return _deref(spec, node, at)[1] if final else at


def _parameter_pointers(spec: Spec, op: Operation) -> dict[int, str]:
    """id(parameter object) → its pointer, for the parameters of op (path-level and its own)."""
    out: dict[int, str] = {}
    item = op.pointer.rsplit("/", 1)[0]
    for listed in (f"{item}/parameters", f"{op.pointer}/parameters"):
        try:
            at = _locate(spec, listed, final=False)
            items = walk_pointer(spec.doc, at)
        except (KeyError, IndexError, ValueError):
            continue
        for i, _ in enumerate(items if isinstance(items, list) else ()):
            ptr = _locate(spec, f"{at}/{i}")
            out[id(walk_pointer(spec.doc, ptr))] = ptr
    return out


def _schemas_of(media: Any, at: str) -> list[tuple[str, str]]:
    """(media type, schema pointer) of a content object at `at`."""
    if not isinstance(media, dict):
        return []
    return [(name, f"{at}/{escape(name)}/schema") for name, entry in media.items()
            if isinstance(entry, dict) and "schema" in entry]


def _request_roots(spec: Spec, op: Operation) -> list[str]:
    ptrs = _parameter_pointers(spec, op)
    roots = []
    for param in op.parameters:
        at = ptrs.get(id(param))
        if at is None:
            continue
        if "schema" in param:
            roots.append(_locate(spec, f"{at}/schema", final=False))
        roots += [_locate(spec, p, final=False) for _, p in _schemas_of(param.get("content"), f"{at}/content")]
    if op.request_body is not None:
        at = _locate(spec, f"{op.pointer}/requestBody")
        roots += [_locate(spec, p, final=False) for _, p in _schemas_of(op.request_body.get("content"),
                                                                        f"{at}/content")]
    return roots


def _headers_of(response: dict) -> dict:
    """A response's headers object ({} if it is not an object: nothing to check)."""
    headers = response.get("headers")
    return headers if isinstance(headers, dict) else {}


def _response_roots(spec: Spec, op: Operation) -> list[str]:
    roots = []
    for code, response in op.responses.items():
        at = _locate(spec, f"{op.pointer}/responses/{escape(code)}")
        for name, header in _headers_of(response).items():
            header_at = _locate(spec, f"{at}/headers/{escape(name)}")
            header = spec.resolve(header)
            if isinstance(header, dict) and "schema" in header:
                roots.append(_locate(spec, f"{header_at}/schema", final=False))
            elif isinstance(header, dict):  # a header described by `content` instead, as a parameter may be
                roots += [_locate(spec, p, final=False) for _, p in _schemas_of(header.get("content"),
                                                                                f"{header_at}/content")]
        roots += [_locate(spec, p, final=False) for _, p in _schemas_of(response.get("content"), f"{at}/content")]
    return roots


def _all_roots(spec: Spec, of: Callable[[Spec, Operation], list[str]]) -> Callable[[], list[str]]:
    def roots() -> list[str]:
        out: list[str] = []
        for op in spec.operations:
            try:
                out += of(spec, op)
            except (KeyError, IndexError, ValueError):
                continue  # a part that cannot be found in the bundle: that operation compiles its own
        return out
    return roots


def _compiled_for(spec: Spec, op: Operation, direction: str) -> Compiled:
    of = _request_roots if direction == REQUEST else _response_roots
    schemas = compiled(spec, direction, _all_roots(spec, of))
    own = of(spec, op)
    if any(p not in schemas.ids for p in own):  # not among the spec's operations when first compiled
        return Compiled(spec, direction, own)
    return schemas


def check_schemas(spec: Spec) -> None:
    """Raise SpecError for the first schema of spec that is not a valid JSON Schema (`type: strin`,
    `minimum: "x"`, `required: true` on a 3.0 property, a `pattern` that is not a regular
    expression, a schema that is not an object, a `$ref` that is not a string), naming its file,
    the pointer of the offending keyword there, and why. Request schemas first, then response
    ones, compiled as the validators compile them; then the schemas under components.schemas
    (2.0: definitions) that no operation uses. The validators themselves do not raise: such a
    schema accepts anything, and the spec's notes say so."""
    used: set[str] = set()
    for direction, of in ((REQUEST, _request_roots), (RESPONSE, _response_roots)):
        schemas = compiled(spec, direction, _all_roots(spec, of))
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


# -- schema errors as violations ---------------------------------------------------------------

class _Schema:
    """One compiled schema: is_valid on the hot path; errors, as violations, only when invalid."""

    __slots__ = ("is_valid", "validator", "entry", "compiled", "spec")

    def __init__(self, schemas: Compiled, ptr: str):
        self.validator, self.entry = schemas.validator(ptr)
        self.is_valid: Callable[[Any], bool] = self.validator.is_valid
        self.compiled, self.spec = schemas, schemas.spec

    def keeps(self) -> Callable[[bytes], bool]:
        """For a JSON body (bytes): True when it surely validates, False when only the full path
        can tell. One pass in Rust where the schema compiles to it (fastpath.py), else the C
        scanner alone (no white space around the document, no BOM, UTF-8) and is_valid."""
        fast = acceptor(self.compiled.defs, self.entry)
        if fast is not None:
            return fast
        is_valid = self.is_valid

        def scanned_and_valid(body: bytes) -> bool:
            try:
                text = body.decode("utf-8")
                value, end = _scan(text, 0)
            except (UnicodeDecodeError, StopIteration, ValueError, RecursionError):
                return False
            return end == len(text) and is_valid(value)
        return scanned_and_valid

    def violations(self, value: Any, location: str, out: list[Violation]) -> None:
        for n, error in enumerate(self.validator.iter_errors(value)):
            if n == MAX_ERRORS:
                out.append(Violation(location, "", f"more than {MAX_ERRORS} errors, the rest not listed", ""))
                return
            pointer = "".join("/" + escape(str(t)) for t in error.instance_path[1:])  # [0]: the entry
            where = self.spec.where(self.compiled.location(self.entry, error.schema_path))
            out.append(Violation(location, pointer, describe(error), where))


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _described(value: Any) -> str:
    """`string "x"`, `integer 3`, `null`, `an object`, `an array`."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return f"an {_json_type(value)}"
    return f"{_json_type(value)} {_shown(value)}"


def _listed(items: Any, limit: int = 10) -> str:
    shown = [_shown(i) for i in list(items)[:limit]]
    return ", ".join(shown) + (", ..." if len(items) > limit else "")


_COMPARISONS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
_SIZES = {"minLength": ("at least", "characters long", len), "maxLength": ("at most", "characters long", len),
          "minItems": ("at least", "items", len), "maxItems": ("at most", "items", len),
          "minProperties": ("at least", "properties", len), "maxProperties": ("at most", "properties", len)}


def describe(error: Any) -> str:
    """A jsonschema-rs error as one sentence ("must be >= 1, got 0")."""
    kind = error.kind.name
    detail = error.kind.as_dict()
    value = error.instance
    if kind == "type":
        types = sorted(detail.get("types") or [], key=lambda t: t == "null")  # "string or null"
        return f"must be {' or '.join(types)}, got {_described(value)}"
    if kind in _COMPARISONS:
        return f"must be {_COMPARISONS[kind]} {detail.get('limit')}, got {_shown(value)}"
    if kind in _SIZES:
        bound, unit, size = _SIZES[kind]
        return f"must be {bound} {detail.get('limit')} {unit}, got {size(value)}" if unit == "characters long" \
            else f"must have {bound} {detail.get('limit')} {unit}, got {size(value)}"
    if kind == "required":
        return f"missing required property {_shown(detail.get('property'))}"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        unexpected = detail.get("unexpected") or []
        return f"has unexpected propert{'y' if len(unexpected) == 1 else 'ies'} {_listed(unexpected)}"
    if kind == "unevaluatedItems":
        extra = len(detail.get("unexpected") or [])
        return f"has {extra} unexpected item{'' if extra == 1 else 's'} (after those the schema describes)"
    if kind == "contains":
        return "must contain an item matching the schema under `contains` (or enough of them)"
    if kind == "enum":
        return f"must be one of {_listed(detail.get('options') or [])}, got {_shown(value)}"
    if kind == "const":
        return f"must be {_shown(detail.get('expected_value'))}, got {_shown(value)}"
    if kind == "pattern":
        return f"must match the pattern {detail.get('pattern')}, got {_shown(value)}"
    if kind == "format":
        return f"must be a valid {detail.get('format')}, got {_shown(value)}"
    if kind == "multipleOf":
        return f"must be a multiple of {detail.get('multiple_of')}, got {_shown(value)}"
    if kind == "uniqueItems":
        return "must not contain duplicate items"
    if kind in ("oneOf", "anyOf"):
        return _alternatives(kind, error.message, detail)
    if kind == "not":
        return "must not match the schema under `not`"
    if kind == "falseSchema":
        return "is not allowed here"
    return str(error.message)


def _alternatives(kind: str, message: str, detail: dict) -> str:
    if "more than one" in message:
        return "must match exactly one schema of oneOf, but matches several"
    branches = detail.get("context") or []
    why = "; ".join(f"#{i}: {describe(errors[0])}" for i, errors in enumerate(branches[:3]) if errors)
    which = "exactly one" if kind == "oneOf" else "at least one"
    return f"must match {which} schema of {kind}, matches none" + (f" ({why})" if why else "")


# -- coercing strings by the schema's types ----------------------------------------------------

def _types(spec: Spec, schema: Any, depth: int = 0) -> tuple[str, ...]:
    """The types a schema admits, as far as coercing a string goes (through $ref and allOf/oneOf/anyOf)."""
    schema = spec.resolve(schema) if depth < 16 else schema
    if not isinstance(schema, dict):
        return ()
    kind = schema.get("type")
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, list):
        return tuple(k for k in kind if isinstance(k, str))
    found: tuple[str, ...] = ()
    for key in ("allOf", "oneOf", "anyOf"):
        for member in schema.get(key) or ():
            found += tuple(t for t in _types(spec, member, depth + 1) if t not in found)
    return found


def _scalar(types: tuple[str, ...]) -> Callable[[str], Any]:
    """A function turning a string into the first of types it reads as (else the string itself,
    which the schema then rejects with a message naming the type)."""
    wanted = [t for t in types if t in ("integer", "number", "boolean", "null")]
    if not wanted:
        return _same

    def coerce(text: str) -> Any:
        for kind in wanted:
            if kind == "integer" and _INTEGER.fullmatch(text):
                return _int(text)
            if kind == "number" and _NUMBER.fullmatch(text):
                return _int(text) if _INTEGER.fullmatch(text) else float(text)
            if kind == "boolean" and text in ("true", "false"):
                return text == "true"
            if kind == "null" and text in ("", "null"):
                return None
        return text
    return coerce


def _int(text: str) -> int | str:
    """int(text); the text itself if it has more digits than int() reads (then not an integer)."""
    try:
        return int(text)
    except ValueError:
        return text


def _same(text: str) -> str:
    return text


class _Shape:
    """How a value of a schema is coerced from strings: a scalar, an array of scalars, or an
    object of scalars (by property)."""

    __slots__ = ("kind", "scalar", "item", "properties", "arrays", "other")

    def __init__(self, spec: Spec, schema: Any):
        schema = spec.resolve(schema)
        types = _types(spec, schema)
        self.kind = "array" if "array" in types and len(types) <= 2 else \
            "object" if "object" in types and len(types) <= 2 else "scalar"
        self.scalar = _scalar(types)
        items = schema.get("items") if isinstance(schema, dict) else None
        self.item = _scalar(_types(spec, items)) if self.kind == "array" else _same
        self.properties: dict[str, Callable[[str], Any]] = {}
        arrays = []
        if self.kind in ("object", "scalar"):  # scalar: no type said (a form's schema may omit it)
            for name, sub in _object_properties(spec, schema).items():
                sub = spec.resolve(sub)
                if "array" in _types(spec, sub):
                    arrays.append(name)
                    sub = sub.get("items") if isinstance(sub, dict) else None
                self.properties[name] = _scalar(_types(spec, sub))
        self.arrays = frozenset(arrays)  # properties whose values are lists (the coercion is per item)
        extra = schema.get("additionalProperties") if isinstance(schema, dict) else None
        self.other = _scalar(_types(spec, extra)) if isinstance(extra, dict) else _same

    def array(self, texts: list[str]) -> list[Any]:
        item = self.item
        return [item(t) for t in texts]

    def object(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        properties, other = self.properties, self.other
        return {k: properties.get(k, other)(v) for k, v in pairs}


def _object_properties(spec: Spec, schema: Any, depth: int = 0) -> dict[str, Any]:
    """properties of a schema, with those of its allOf members (a common way to compose objects)."""
    schema = spec.resolve(schema)
    if not isinstance(schema, dict) or depth > 16:
        return {}
    out: dict[str, Any] = {}
    for member in schema.get("allOf") or ():
        out.update(_object_properties(spec, member, depth + 1))
    if isinstance(schema.get("properties"), dict):
        out.update(schema["properties"])
    return out


# -- parameters --------------------------------------------------------------------------------

_MISSING = object()


def _pairs(parts: list[str]) -> list[tuple[str, str]]:
    """k,v,k2,v2 → [(k, v), (k2, v2)] (explode false objects)."""
    return list(zip(parts[0::2], parts[1::2], strict=False))


def _assigned(parts: list[str]) -> list[tuple[str, str]]:
    """[k=v, k2=v2] → [(k, v), (k2, v2)] (explode true objects)."""
    return [(k, v) for k, _, v in (p.partition("=") for p in parts if p)]


class _Parameter:
    """One parameter: where it is read from, how it is decoded, and its schema."""

    __slots__ = ("name", "key", "where", "label", "required", "allow_empty", "schema", "decode", "shape",
                 "style", "explode", "json_content", "spec", "at")

    def __init__(self, spec: Spec, param: dict, at: str, schemas: Compiled):
        self.spec, self.at = spec, at
        self.name: str = param["name"]
        self.where: str = param["in"]
        self.key = self.name.lower() if self.where == "header" else self.name
        self.label = f"{self.where}.{self.name}"
        self.required = bool(param.get("required")) or self.where == "path"
        self.allow_empty = bool(param.get("allowEmptyValue"))
        default_style = {"query": "form", "cookie": "form"}.get(self.where, "simple")
        self.style: str = param.get("style") or default_style
        explode = param.get("explode")
        self.explode: bool = explode if isinstance(explode, bool) else self.style == "form"
        self.json_content = False
        self.schema: _Schema | None = None
        schema_node: Any = param.get("schema")
        schema_at = f"{at}/schema"
        content = param.get("content")
        if isinstance(content, dict) and content and schema_node is None:
            media, entry = next(iter(content.items()))
            self.json_content = _is_json(media)
            schema_node = entry.get("schema") if isinstance(entry, dict) else None
            schema_at = f"{at}/content/{escape(media)}/schema"
        self.shape = _Shape(spec, schema_node)
        if schema_node is not None:
            self.schema = _Schema(schemas, _locate(spec, schema_at, final=False))
        self.decode = self._decoder()

    # the raw value: a str (path, header, cookie, query when not exploded) or the whole query
    def _decoder(self) -> Callable[[Any], Any]:
        if self.json_content:
            return _json_value
        kind, style = self.shape.kind, self.style
        if self.where == "query":
            return self._query_decoder()
        if style == "label":
            strip, sep = ".", ("." if self.explode else ",")
        elif style == "matrix":
            return self._matrix
        else:
            strip, sep = "", ","
        if kind == "array":
            return lambda raw: self.shape.array(_split(_strip(raw, strip), sep))
        if kind == "object":
            split = _assigned if self.explode else _pairs
            return lambda raw: self.shape.object(split(_split(_strip(raw, strip), sep)))
        return lambda raw: self.shape.scalar(_strip(raw, strip))

    def _matrix(self, raw: str) -> Any:
        kind = self.shape.kind
        prefix = f";{self.name}="
        if kind == "array" and self.explode:
            return self.shape.array([p[len(prefix) - 1:] if p.startswith(prefix[1:]) else p
                                     for p in raw.split(";")[1:]])
        if kind == "object" and self.explode:
            return self.shape.object(_assigned(raw.split(";")[1:]))
        text = raw[len(prefix):] if raw.startswith(prefix) else raw[len(prefix) - 1:] \
            if raw == prefix[:-1] else raw
        if kind == "array":
            return self.shape.array(_split(text, ","))
        if kind == "object":
            return self.shape.object(_pairs(_split(text, ",")))
        return self.shape.scalar(text)

    def _query_decoder(self) -> Callable[[Any], Any]:
        kind, style = self.shape.kind, self.style
        if style == "deepObject" or (kind == "object" and self.explode and style == "form"):
            return lambda values: self.shape.object(values[0])  # query_value gathered the pairs
        if kind == "array":
            if self.explode:  # ?tags= alone is the empty list, as when not exploded
                return lambda values: self.shape.array(values if values != [""] else [])
            sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
            return lambda values: self.shape.array(_split(values[0], sep))
        if kind == "object" and not self.explode:
            return lambda values: self.shape.object(_pairs(_split(values[0], ",")))
        return lambda values: self.shape.scalar(values[0])

    def check(self, raw: Any, out: list[Violation]) -> None:
        """raw: the parameter's text (its values, for a query parameter); _MISSING if absent."""
        if raw is _MISSING:
            if self.required:
                out.append(Violation(self.label, "", f"required {self.where} parameter is missing",
                                     self.spec.where(f"{self.at}/required")))
            return
        try:
            value = self.decode(raw)
        except ValueError as exc:  # content: JSON that does not parse
            out.append(Violation(self.label, "", f"is not valid JSON: {exc}", self.spec.where(self.at)))
            return
        schema = self.schema
        if schema is not None and not schema.is_valid(value):
            schema.violations(value, self.label, out)

    def query_value(self, query: dict[str, list[str]]) -> Any:
        """The value of a query parameter as check() takes it; _MISSING if absent."""
        if self.style == "deepObject" and not self.json_content:
            prefix = self.name + "["
            pairs = [(k[len(prefix):-1], v[0]) for k, v in query.items() if k.startswith(prefix) and k.endswith("]")
                     and v]
            return [pairs] if pairs else _MISSING
        if self.shape.kind == "object" and self.explode and self.style == "form" and not self.json_content:
            pairs = [(k, query[k][0]) for k in self.shape.properties if query.get(k)]
            return [pairs] if pairs else _MISSING
        return query.get(self.name, _MISSING)


def _json_value(raw: Any) -> Any:
    text = raw[0] if isinstance(raw, list) else raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at column {exc.colno}") from None
    except ValueError:  # an integer longer than int() reads (sys.get_int_max_str_digits)
        raise ValueError(_TOO_LONG) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _strip(raw: str, prefix: str) -> str:
    return raw[len(prefix):] if prefix and raw.startswith(prefix) else raw


def _split(text: str, sep: str) -> list[str]:
    return text.split(sep) if text else []


def _cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name not in out:
            out[name] = value.strip().strip('"')
    return out


# -- bodies ------------------------------------------------------------------------------------

def _essence(content_type: str) -> str:
    """`Application/JSON; charset=utf-8` → `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    essence = _essence(media_type)
    return essence == "application/json" or essence.endswith("+json") or essence == "*/*"


class _Media:
    """One declared media type of a body: its schema, and how a body of it is read."""

    __slots__ = ("name", "schema", "shape", "reader")

    def __init__(self, spec: Spec, name: str, entry: Any, at: str, schemas: Compiled):
        self.name = name
        node = entry.get("schema") if isinstance(entry, dict) else None
        self.schema = _Schema(schemas, _locate(spec, at, final=False)) if node is not None else None
        self.shape = _Shape(spec, node)
        essence = _essence(name)
        self.reader = "form" if essence == "application/x-www-form-urlencoded" else \
            "multipart" if essence.startswith("multipart/") else "json" if _is_json(name) else "none"


class _Content:
    """A content object (request body or response): the media type a message's Content-Type
    picks, by exact type, then type/* ranges (including `*+json` suffix ranges), then */*."""

    __slots__ = ("exact", "ranges", "names", "picked", "json_checks", "valid", "at", "spec")

    def __init__(self, spec: Spec, content: Any, at: str, schemas: Compiled):
        self.spec, self.at = spec, at
        self.exact: dict[str, _Media] = {}
        self.ranges: list[tuple[str, str, _Media]] = []
        self.names: list[str] = []
        for name, entry in (content or {}).items() if isinstance(content, dict) else ():
            media = _Media(spec, name, entry, f"{at}/{escape(name)}/schema", schemas)
            self.names.append(name)
            essence = _essence(name)
            if "*" in essence:
                kind, _, sub = essence.partition("/")
                self.ranges.append((kind, sub, media))
            else:
                self.exact.setdefault(essence, media)
        self.ranges.sort(key=lambda r: (r[0] == "*", r[1] == "*"))  # the most specific range first
        # Content-Type → (the media it picks, whether a body of it can be read): bounded cache
        self.picked: dict[str, tuple[_Media | None, bool]] = {}
        # Content-Type → the is_valid of its JSON schema, for the usual body: a JSON document that
        # keeps the contract is read and judged in one go (check's fast path)
        self.json_checks: dict[str, Callable[[Any], bool]] = {}
        # small bodies found valid, by (Content-Type, bytes): a client that sends the same body
        # again (a test's fixture, a load generator's payload) is not read and judged again
        self.valid: set[tuple[str, bytes]] = set()

    def pick(self, content_type: str) -> _Media | None:
        return (self.picked.get(content_type) or self._remember(content_type))[0]

    def _remember(self, content_type: str) -> tuple[_Media | None, bool]:
        media = self._pick(_essence(content_type))
        found = (media, media is not None and (media.reader != "json" or _is_json(content_type)))
        if len(self.picked) < 64:
            self.picked[content_type] = found
            if media is not None and found[1] and media.reader == "json" and media.schema is not None:
                self.json_checks[content_type] = media.schema.keeps()
        return found

    def _pick(self, essence: str) -> _Media | None:
        if essence in self.exact:
            return self.exact[essence]
        kind, _, sub = essence.partition("/")
        for range_kind, range_sub, media in self.ranges:
            if range_kind not in ("*", kind):
                continue
            if range_sub == "*" or (range_sub.startswith("*+") and sub.endswith(range_sub[1:])):
                return media
        return None

    def check(self, body: bytes, content_type: str | None, location: str, out: list[Violation]) -> None:
        """The body against the media type its Content-Type picks (the body is not empty)."""
        if not content_type:
            out.append(Violation("content-type", "", f"is missing; the body must be {self.accepted()}",
                                 self.spec.where(self.at)))
            return
        media, readable = self.picked.get(content_type) or self._remember(content_type)
        if media is None:
            out.append(Violation("content-type", "", f"{content_type!r} is not accepted; "
                                 f"the body must be {self.accepted()}", self.spec.where(self.at)))
            return
        if media.schema is None or media.reader == "none":
            return
        if not readable:
            return  # a */* range took a body that is not JSON: nothing to read it with
        keeps = self.json_checks.get(content_type)
        if keeps is not None and self._json_keeps(keeps, content_type, body):
            return
        value = _read(media, body, content_type, location, out)
        if value is not _MISSING and not media.schema.is_valid(value):
            media.schema.violations(value, location, out)

    def _json_keeps(self, keeps: Callable[[bytes], bool], content_type: str, body: bytes) -> bool:
        """The usual JSON body, found valid in one go (or remembered as valid). False for anything
        else: _read and the violations then say what is wrong, as if this had not been tried."""
        key = (content_type, body)
        if key in self.valid:
            return True
        if not keeps(body):
            return False
        if len(body) <= VALID_BODY_BYTES:
            if len(self.valid) >= VALID_BODIES:
                self.valid.clear()
            self.valid.add(key)
        return True

    def accepted(self) -> str:
        return " or ".join(self.names) if self.names else "empty"


def _read(media: _Media, body: bytes, content_type: str, location: str, out: list[Violation]) -> Any:
    """The body as the value its schema validates; _MISSING (and a violation) if it cannot be read."""
    if media.reader == "json":
        try:
            return loads(body)  # (UTF-8 by the C scanner directly; a BOM or UTF-16/32 as json.loads reads it)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            out.append(Violation(location, "", f"is not valid JSON: {message}{where}", ""))
            return _MISSING
        except RecursionError:
            out.append(Violation(location, "", "is not valid JSON: nested too deeply", ""))
            return _MISSING
        except ValueError:  # an integer longer than int() reads (sys.get_int_max_str_digits)
            out.append(Violation(location, "", f"is not valid JSON: {_TOO_LONG}", ""))
            return _MISSING
    if media.reader == "form":
        from urllib.parse import parse_qs

        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return _form_object(media.shape, fields)
    parts = _multipart_fields(body, content_type)
    if parts is None:
        out.append(Violation(location, "", "is not a multipart body with the boundary its Content-Type names", ""))
        return _MISSING
    return _form_object(media.shape, parts)


def _form_object(shape: _Shape, fields: dict[str, list[str]]) -> dict[str, Any]:
    """Form fields as an object, each coerced by its property's type (arrays from repeated fields)."""
    out: dict[str, Any] = {}
    for name, values in fields.items():
        coerce = shape.properties.get(name)
        if coerce is None:
            out[name] = values[0] if len(values) == 1 else values
        elif name in shape.arrays:
            out[name] = [coerce(v) for v in values]
        else:
            out[name] = coerce(values[0])
    return out


_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_NAME = re.compile(rb'(?:^|[;\s])name="([^"]*)"', re.IGNORECASE)  # not the tail of filename="..."


def _multipart_fields(body: bytes, content_type: str) -> dict[str, list[str]] | None:
    """The parts of a multipart body by name (text of up to 64 KB each; enough to see which parts are
    there and check the simple ones), None if the boundary is missing."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1")
    if delimiter not in body:
        return None
    fields: dict[str, list[str]] = {}
    for part in body.split(delimiter)[1:MAX_PARTS + 1]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = next((line for line in head.split(b"\r\n") if line.lower().startswith(b"content-disposition:")),
                           b"")
        name = _NAME.search(disposition)
        if name is None:
            continue
        text = content[:-2] if content.endswith(b"\r\n") else content
        fields.setdefault(name.group(1).decode("utf-8", "replace"), []).append(
            text[:65536].decode("utf-8", "replace"))
    return fields


# -- the validators ----------------------------------------------------------------------------

class RequestValidator:
    """The request side of one operation: parameters, body, content type."""

    __slots__ = ("op", "spec", "path", "query", "headers", "cookies", "body", "body_required", "body_at",
                 "body_only")

    def __init__(self, spec: Spec, op: Operation):
        self.op, self.spec = op, spec
        schemas = _compiled_for(spec, op, REQUEST)
        pointers = _parameter_pointers(spec, op)
        params = [_Parameter(spec, p, pointers.get(id(p), op.pointer), schemas) for p in op.parameters
                  if p.get("in") in ("path", "query", "header", "cookie")
                  and not (p.get("in") == "header" and str(p.get("name", "")).lower() in _IGNORED_HEADERS)]
        self.path = tuple(p for p in params if p.where == "path")
        self.query = tuple(p for p in params if p.where == "query")
        self.headers = tuple(p for p in params if p.where == "header")
        self.cookies = tuple(p for p in params if p.where == "cookie")
        self.body: _Content | None = None
        self.body_required = False
        self.body_at = ""
        body = op.request_body
        if body is not None:
            self.body_at = _locate(spec, f"{op.pointer}/requestBody")
            self.body = _Content(spec, body.get("content"), f"{self.body_at}/content", schemas)
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
            param.check(path_params.get(param.name, _MISSING), out)
        for param in self.query:
            _check_query(param, query, out)
        for param in self.headers:
            param.check(headers.get(param.key, _MISSING), out)
        if self.cookies:
            jar = _cookies(headers.get("cookie"))
            for param in self.cookies:
                param.check(jar.get(param.name, _MISSING), out)
        if self.body is not None:
            if body:
                self.body.check(body, content_type, "body", out)
            elif self.body_required:
                out.append(Violation("body", "", f"is required ({self.body.accepted()}) but empty",
                                     self.spec.where(f"{self.body_at}/required")))
        return out


def _check_query(param: _Parameter, query: dict[str, list[str]], out: list[Violation]) -> None:
    values = param.query_value(query)
    if values is not _MISSING and values and values[0] == "" and param.shape.kind != "array" \
            and not param.json_content:
        if not param.allow_empty:
            out.append(Violation(param.label, "", "is empty; send a value or leave the parameter out "
                                 "(it does not allow empty values)", param.spec.where(param.at)))
        return
    param.check(values if values else _MISSING, out)


class _Response:
    """One declared response: its headers and content."""

    __slots__ = ("key", "headers", "content", "has_content")

    def __init__(self, spec: Spec, key: str, response: dict, at: str, schemas: Compiled):
        self.key = key
        self.headers: list[_Parameter] = []
        for name, header in _headers_of(response).items():
            header_at = _locate(spec, f"{at}/headers/{escape(name)}")
            header = spec.resolve(header)
            if not isinstance(header, dict) or name.lower() == "content-type":
                continue  # a response's Content-Type header is described by its content, not here
            self.headers.append(_Parameter(spec, {**header, "name": name, "in": "header"}, header_at, schemas))
        content = response.get("content")
        self.has_content = isinstance(content, dict) and bool(content)
        self.content = _Content(spec, content, f"{at}/content", schemas)


class ResponseValidator:
    """The response side of one operation: the status is declared, required headers are there,
    the body fits the schema of its media type."""

    __slots__ = ("op", "spec", "exact", "ranges", "default", "declared", "at")

    def __init__(self, spec: Spec, op: Operation):
        self.op, self.spec = op, spec
        schemas = _compiled_for(spec, op, RESPONSE)
        self.at = f"{op.pointer}/responses"
        self.exact: dict[int, _Response] = {}
        self.ranges: dict[str, _Response] = {}
        self.default: _Response | None = None
        for key, response in op.responses.items():
            rule = _Response(spec, key, response, _locate(spec, f"{self.at}/{escape(key)}"), schemas)
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
            header.check(headers.get(header.key, _MISSING), out)
        if body:
            if rule.has_content:
                rule.content.check(body, content_type, "body", out)
        elif rule.has_content:
            out.append(Violation("body", "", f"is empty; response {rule.key} declares a body "
                                 f"({rule.content.accepted()})", self.spec.where(f"{self.at}/{escape(rule.key)}")))
        return out
