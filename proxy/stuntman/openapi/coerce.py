"""Strings coerced to the types a schema wants: what a parameter or a form field holds.

A path, query, header or cookie parameter, and a field of a form or multipart body, arrive as
text; its schema says `integer`, `boolean`, an array of numbers, an object of such. A `Shape`,
made once from the schema (through `$ref` and allOf/oneOf/anyOf), turns the text into the value
the schema then validates: each string into the first of the schema's types it reads as, else
left a string, which the schema rejects with a message naming the type.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .document import Spec

_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


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


class Shape:
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
