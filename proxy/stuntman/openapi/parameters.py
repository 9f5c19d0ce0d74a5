"""Parameters: path, query, header and cookie values decoded as the spec describes them, and checked.

A `Parameter` is built once per operation: where it is read from, how it is decoded (`style` and
`explode`: simple, label, matrix, form, spaceDelimited, pipeDelimited, deepObject; or `content`,
a JSON value), how its text is coerced (coerce.Shape) and its compiled schema. `check` then
decodes one raw value and validates it.

Decisions: unknown query parameters, headers and cookies are fine (they are not looked at); a
missing path parameter is a violation as a missing required one is; a query parameter sent empty
is a violation unless it allows empty values (`allowEmptyValue`), or it is an array (an empty
list).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .bodies import is_json
from .coerce import Shape
from .document import escape
from .locate import locate
from .violations import TOO_LONG, Schema, Violation

if TYPE_CHECKING:
    from .document import Spec
    from .jsonschema import Compiled

MISSING = object()           # a parameter not sent (check() is given this)


def _pairs(parts: list[str]) -> list[tuple[str, str]]:
    """k,v,k2,v2 → [(k, v), (k2, v2)] (explode false objects)."""
    return list(zip(parts[0::2], parts[1::2], strict=False))


def _assigned(parts: list[str]) -> list[tuple[str, str]]:
    """[k=v, k2=v2] → [(k, v), (k2, v2)] (explode true objects)."""
    return [(k, v) for k, _, v in (p.partition("=") for p in parts if p)]


class Parameter:
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
        self.schema: Schema | None = None
        schema_node: Any = param.get("schema")
        schema_at = f"{at}/schema"
        content = param.get("content")
        if isinstance(content, dict) and content and schema_node is None:
            media, entry = next(iter(content.items()))
            self.json_content = is_json(media)
            schema_node = entry.get("schema") if isinstance(entry, dict) else None
            schema_at = f"{at}/content/{escape(media)}/schema"
        self.shape = Shape(spec, schema_node)
        if schema_node is not None:
            self.schema = Schema(schemas, locate(spec, schema_at, final=False))
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
        """raw: the parameter's text (its values, for a query parameter); MISSING if absent."""
        if raw is MISSING:
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
        """The value of a query parameter as check() takes it; MISSING if absent."""
        if self.style == "deepObject" and not self.json_content:
            prefix = self.name + "["
            pairs = [(k[len(prefix):-1], v[0]) for k, v in query.items() if k.startswith(prefix) and k.endswith("]")
                     and v]
            return [pairs] if pairs else MISSING
        if self.shape.kind == "object" and self.explode and self.style == "form" and not self.json_content:
            pairs = [(k, query[k][0]) for k in self.shape.properties if query.get(k)]
            return [pairs] if pairs else MISSING
        return query.get(self.name, MISSING)


def _json_value(raw: Any) -> Any:
    text = raw[0] if isinstance(raw, list) else raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at column {exc.colno}") from None
    except ValueError:  # an integer longer than int() reads (sys.get_int_max_str_digits)
        raise ValueError(TOO_LONG) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _strip(raw: str, prefix: str) -> str:
    return raw[len(prefix):] if prefix and raw.startswith(prefix) else raw


def _split(text: str, sep: str) -> list[str]:
    return text.split(sep) if text else []


def cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name not in out:
            out[name] = value.strip().strip('"')
    return out


def check_query(param: Parameter, query: dict[str, list[str]], out: list[Violation]) -> None:
    """A query parameter checked: sent empty, a violation unless it allows empty values (or is an
    array, or JSON content); else its values as Parameter.check takes them."""
    values = param.query_value(query)
    if values is not MISSING and values and values[0] == "" and param.shape.kind != "array" \
            and not param.json_content:
        if not param.allow_empty:
            out.append(Violation(param.label, "", "is empty; send a value or leave the parameter out "
                                 "(it does not allow empty values)", param.spec.where(param.at)))
        return
    param.check(values if values else MISSING, out)
