"""JSON bodies accepted in one pass: the common schema, compiled to a pydantic-core validator that
parses and checks a JSON document in Rust, without building the Python value first.

The full path reads a body with json's C scanner (~12k instructions for a 100-byte order) and
hands the value to jsonschema-rs (~8k, most of it converting Python objects to Rust ones);
pydantic-core's `validate_json` does both in ~9k. It is an accelerator only: `acceptor(...)`
answers True when the body surely keeps the contract, and False when it does not know. A body it
refuses goes to the full path, which judges it again and explains every violation; so the one
thing it must never do is accept a body jsonschema-rs would refuse (tests/test_openapi_fastpath.py
holds it to that on generated and mutated bodies).

Only what translates exactly is compiled; a schema with anything else (allOf/anyOf/oneOf/not,
if/then/else, patternProperties, an additionalProperties schema, uniqueItems, a float multipleOf,
a format not listed below, a pattern with \\b, \\p or lookaround...) gets no acceptor, and its
bodies take the full path as before. Where the two engines differ, the translation is stricter:
- every type is strict (JSON 2.0 is an integer to JSON Schema, not to pydantic: the full path
  decides it), and NaN/Infinity are refused;
- `\\d` and `\\w` are ASCII in jsonschema-rs's patterns and Unicode in the Rust regex pydantic uses,
  so they are rewritten to `[0-9]` and `[0-9A-Za-z_]`;
- formats are checked by patterns narrower than the format (a date's day up to 28, an email of
  dot-atoms at most 64 long): a value outside them is not refused, it takes the full path;
- a number bound beyond 2^53 (where a float comparison can round) is not compiled.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic_core import SchemaError, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

_EXACT = 2 ** 53  # number bounds beyond this are not compared as floats
_MAX_DEFS = 500   # referenced schemas compiled for one body, at most
_ANNOTATIONS = frozenset(("default", "readOnly", "writeOnly"))  # no constraint on a value
_IGNORED = _ANNOTATIONS | {"format", "type"}  # (format and type: handled where they apply)
_FORMAT_PATTERNS = {
    "email": r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
             r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "date": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
    "date-time": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                 r"(\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    "ipv4": r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$",
}
_FORMAT_LENGTH = {"email": 64}
# formats jsonschema-rs checks (stuntman adds byte): any other is an annotation, as it is there
_CHECKED_FORMATS = frozenset(("date", "date-time", "time", "duration", "email", "idn-email", "hostname",
                              "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference",
                              "uri-template", "json-pointer", "relative-json-pointer", "regex", "uuid", "byte"))
_TYPE_KEYWORDS = {
    "string": frozenset(("minLength", "maxLength", "pattern")),
    "integer": frozenset(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
    "number": frozenset(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")),
    "array": frozenset(("items", "minItems", "maxItems", "uniqueItems")),
    "object": frozenset(("properties", "required", "additionalProperties")),
    "boolean": frozenset(), "null": frozenset(),
}
_KNOWN = frozenset().union(*_TYPE_KEYWORDS.values(), _IGNORED, ("$ref", "enum", "const"))
_NUMBERS = frozenset(("integer", "number"))
# the types whose values a keyword constrains (the others pass it by)
_APPLIES = {**{keyword: _NUMBERS for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                                 "multipleOf")},
            **{keyword: frozenset(("string",)) for keyword in _TYPE_KEYWORDS["string"]},
            **{keyword: frozenset(("array",)) for keyword in _TYPE_KEYWORDS["array"]},
            **{keyword: frozenset(("object",)) for keyword in _TYPE_KEYWORDS["object"]},
            **{keyword: frozenset() for keyword in (*_IGNORED, "$ref", "enum", "const")}}


class _Unsupported(Exception):
    """The schema holds something this module does not translate exactly."""


def acceptor(defs: dict[str, Any], entry: str) -> Callable[[bytes], bool] | None:
    """A function that is True for a JSON document (bytes) that surely validates against
    defs[entry] (a converted tree of jsonschema.py), False when it cannot tell; None when the
    schema is not one it compiles."""
    try:
        build = _Builder(defs)
        root = build.ref(entry)
        validator = SchemaValidator(cs.definitions_schema(root, list(build.done.values())))
    except (_Unsupported, SchemaError, RecursionError):
        return None
    validate = validator.validate_json

    def accepts(body: bytes) -> bool:
        try:
            validate(body)
        except ValidationError:
            return False
        return True
    return accepts


class _Builder:
    """Converted JSON Schema → pydantic-core schema; each `$ref` a shared definition."""

    def __init__(self, defs: dict[str, Any]):
        self.defs = defs
        self.done: dict[str, Any] = {}

    def ref(self, name: str) -> Any:
        if name not in self.done:
            if name not in self.defs or len(self.done) >= _MAX_DEFS:
                raise _Unsupported(name)
            self.done[name] = {}  # (taken: a cycle refers to it, it is built once)
            self.done[name] = {**self.schema(self.defs[name]), "ref": name}
        return cs.definition_reference_schema(name)

    def schema(self, node: Any) -> Any:
        if node is True:
            return cs.any_schema()
        if not isinstance(node, dict) or not node.keys() <= _KNOWN:
            raise _Unsupported(node)
        if "$ref" in node:
            if node.keys() - _ANNOTATIONS != {"$ref"}:  # (3.1 siblings of a $ref apply: not compiled)
                raise _Unsupported(node)
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
                raise _Unsupported(ref)
            return self.ref(ref[len("#/$defs/"):])
        kind = node.get("type")
        kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
        if kinds is None:
            if node.keys() - _IGNORED - {"type"}:
                raise _Unsupported(node)  # keywords for some types, any type allowed: not compiled
            return cs.any_schema()
        for k in kinds:
            if k not in _TYPE_KEYWORDS:
                raise _Unsupported(k)
            # a keyword applies to the values of its type: each listed type must translate those
            # that apply to it (minLength on an integer is no constraint, and none is lost)
            if any(k in _APPLIES[keyword] and keyword not in _TYPE_KEYWORDS[k] for keyword in node):
                raise _Unsupported(node)
        allowed = _allowed(node)
        nullable = "null" in kinds and (allowed is None or None in allowed)
        choices = [self._typed(k, node, allowed) for k in kinds if k != "null"]
        if not choices:
            if not nullable:
                raise _Unsupported(node)
            return cs.none_schema()
        one = choices[0] if len(choices) == 1 else cs.union_schema(choices)
        return cs.nullable_schema(one) if nullable else one

    def _typed(self, kind: str, node: dict, allowed: list | None) -> Any:
        if kind == "string":
            base = self._string(node)
        elif kind == "integer":
            base = cs.int_schema(strict=True, **_bounds(node, integer=True), **_step(node))
        elif kind == "number":
            base = cs.float_schema(strict=True, allow_inf_nan=False, **_bounds(node, integer=False))
        elif kind == "boolean":
            base = cs.bool_schema(strict=True)
        elif kind == "array":
            base = self._array(node)
        else:
            base = self._object(node)
        if allowed is None:
            return base
        values = [v for v in allowed if v is not None]
        if kind not in ("string", "integer") or any(type(v) is not (str if kind == "string" else int)
                                                   for v in values):
            raise _Unsupported(allowed)  # an enum of other values: not compiled
        return cs.chain_schema([base, cs.literal_schema(values)])

    def _string(self, node: dict) -> Any:
        patterns = []
        if "pattern" in node:
            patterns.append(ecma_to_rust(node["pattern"]))
        fmt = node.get("format")
        if fmt in _FORMAT_PATTERNS:
            patterns.append(_FORMAT_PATTERNS[fmt])
            if fmt in _FORMAT_LENGTH:
                patterns.append(f"^.{{0,{_FORMAT_LENGTH[fmt]}}}$")
        elif fmt in _CHECKED_FORMATS:
            raise _Unsupported(fmt)
        first = cs.str_schema(strict=True, min_length=_count(node, "minLength"), max_length=_count(node, "maxLength"),
                              pattern=patterns[0] if patterns else None)
        if len(patterns) <= 1:
            return first
        return cs.chain_schema([first, *(cs.str_schema(strict=True, pattern=p) for p in patterns[1:])])

    def _array(self, node: dict) -> Any:
        if node.get("uniqueItems", False) is not False:
            raise _Unsupported("uniqueItems")
        items = self.schema(node["items"]) if "items" in node else cs.any_schema()
        return cs.list_schema(items, strict=True, min_length=_count(node, "minItems"),
                              max_length=_count(node, "maxItems"))

    def _object(self, node: dict) -> Any:
        properties = node.get("properties", {})
        required = node.get("required", [])
        extra = node.get("additionalProperties", True)
        if not isinstance(properties, dict) or not isinstance(required, list) or extra not in (True, False) \
                or not all(isinstance(name, str) for name in required):
            raise _Unsupported(node)
        fields = {name: cs.typed_dict_field(self.schema(sub), required=name in required)
                  for name, sub in properties.items()}
        for name in required:
            fields.setdefault(name, cs.typed_dict_field(cs.any_schema(), required=True))
        return cs.typed_dict_schema(fields, extra_behavior="ignore" if extra else "forbid", strict=True)


def _allowed(node: dict) -> list | None:
    if "const" in node:
        if "enum" in node:
            raise _Unsupported(node)
        return [node["const"]]
    allowed = node.get("enum")
    if allowed is not None and not isinstance(allowed, list):
        raise _Unsupported(allowed)
    return allowed


def _count(node: dict, keyword: str) -> int | None:
    if keyword not in node:
        return None
    value = node[keyword]
    if type(value) is not int or value < 0:
        raise _Unsupported(keyword)
    return value


def _bounds(node: dict, integer: bool) -> dict[str, Any]:
    out = {}
    for keyword, key in (("minimum", "ge"), ("maximum", "le"), ("exclusiveMinimum", "gt"),
                         ("exclusiveMaximum", "lt")):
        if keyword not in node:
            continue
        value = node[keyword]
        if type(value) is not int and (integer or type(value) is not float):
            raise _Unsupported(keyword)  # (a float bound on an integer, a boolean 3.0 flag left over)
        if not integer and abs(value) >= _EXACT:
            raise _Unsupported(keyword)
        out[key] = value
    return out


def _step(node: dict) -> dict[str, Any]:
    step = node.get("multipleOf")
    if step is None:
        return {}
    if type(step) is not int or step <= 0:
        raise _Unsupported("multipleOf")
    return {"multiple_of": step}


_CLASS_ESCAPES = {"d": "0-9", "w": "0-9A-Za-z_"}
_ESCAPES = {"d": "[0-9]", "w": "[0-9A-Za-z_]", "D": "[^0-9]", "W": "[^0-9A-Za-z_]"}
_REFUSED = frozenset("bBpPkcux0123456789")  # word boundaries, properties, backreferences, code escapes


def ecma_to_rust(pattern: Any) -> str:
    """An ECMA-262 pattern as the Rust regex crate reads it the way jsonschema-rs does: \\d and \\w
    ASCII (\\D, \\W outside a class); _Unsupported for escapes whose meaning could differ."""
    if not isinstance(pattern, str) or "(?" in pattern:
        raise _Unsupported(pattern)  # (lookaround, named groups, flags)
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                raise _Unsupported(pattern)
            escaped = pattern[i + 1]
            if escaped in _REFUSED:
                raise _Unsupported(pattern)
            if in_class and escaped in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[escaped])
            elif not in_class and escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
            elif escaped in "DW":
                raise _Unsupported(pattern)  # (a negated class inside a class)
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            if pattern.startswith(("[^]", "[]"), i):
                raise _Unsupported(pattern)  # (ECMA's "anything" / "nothing" classes)
        elif char == "]" and in_class:
            in_class = False
        elif char == "[" and in_class:
            raise _Unsupported(pattern)  # (Rust reads a nested class; ECMA a literal [)
        out.append(char)
        i += 1
    return "".join(out)
