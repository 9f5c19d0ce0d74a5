"""Violations: what a request or response does wrong, said so a person can act on it.

A `Violation` names where in the message the fault is (`query.limit`, `body` and a JSON pointer
into the value), one sentence saying what is wrong ("must be >= 1, got 0"), and the rule broken, as
`file#pointer` in the spec; `problem(violations)` is the RFC 9457 application/problem+json answer
listing them (the mock's 400, the monitor's report).

`Schema` is one compiled schema as the validators use it: `is_valid` on the hot path (one call in
Rust), and only when a value is invalid are jsonschema-rs's errors collected, mapped back to the
spec, and `describe`d in sentences; at most MAX_ERRORS violations per value (a huge invalid array
stops there).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..jsontext import scan as _scan
from .document import escape
from .fastpath import acceptor

if TYPE_CHECKING:
    from .jsonschema import Compiled

MAX_ERRORS = 100             # violations reported per value (a huge invalid array stops here)
TOO_LONG = "a number has more digits than can be read"
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


# -- schema errors as violations ---------------------------------------------------------------

class Schema:
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
