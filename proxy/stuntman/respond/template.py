"""Response templates: `{{ expression | filter }}` compiled once into a list of parts.

Expressions:
  path.NAME  query.NAME  headers.NAME       request values (headers case-insensitive)
  body  body.a.b.0.c                        raw body text, or a value inside a JSON body
  request.method  request.path  request.url
  now  now.epoch  now.epochMs  now.date     request time (UTC)
  uuid                                      a random UUID4
  faker.PROVIDER                            e.g. faker.name, faker.email (seeded per stub)
Filters: `| default 'text'`, `| upper`, `| lower`, `| json` (JSON-encode the value).
Unknown expressions, filters and faker providers are errors at load time, not at request time.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..exchange import Exchange

Getter = Callable[["Exchange"], Any]  # exchange → the value of one expression

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
_DEFAULT = re.compile(r"""default\s+(?:'([^']*)'|"([^"]*)"|(\S+))$""")
_MISSING: Any = object()  # a value that is not there: Any, as it stands in for a value of any type


def has_template(text: str) -> bool:
    return TEMPLATE.search(text) is not None


def _dig(value: Any, keys: list[str]) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, _MISSING)
        elif isinstance(value, list) and key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _now(ex: Exchange) -> datetime:
    return ex.received_at


def _request_getter(root: str, rest: list[str], faker: Callable[[], Any]) -> Getter:
    """A function exchange → value for one expression (raises ValueError if unknown)."""
    name = ".".join(rest)
    if root == "path" and rest:
        return lambda ex: ex.params.get(name, _MISSING)
    if root == "query" and rest:
        return lambda ex: (ex.query.get(name) or [_MISSING])[0]
    if root in ("headers", "header") and rest:
        lower = name.lower()
        return lambda ex: ex.headers.get(lower, _MISSING)
    if root == "body":
        if not rest:
            return lambda ex: ex.body_view.text
        return lambda ex: _MISSING if ex.body_view.json is ex.body_view.INVALID else _dig(ex.body_view.json, rest)
    if root == "request" and name in ("method", "path", "url"):
        return {
            "method": lambda ex: ex.method,
            "path": lambda ex: ex.path,
            "url": lambda ex: ex.target.decode("latin-1"),
        }[name]
    if root == "now" and name in ("", "epoch", "epochMs", "date"):
        return {
            "": lambda ex: _now(ex).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "epoch": lambda ex: int(_now(ex).timestamp()),
            "epochMs": lambda ex: int(_now(ex).timestamp() * 1000),
            "date": lambda ex: _now(ex).date().isoformat(),
        }[name]
    if root == "uuid" and not rest:
        return lambda ex: str(uuid.uuid4())
    if root == "faker" and len(rest) == 1:
        provider = getattr(faker(), rest[0], None) if not rest[0].startswith("_") else None
        if not callable(provider):
            raise ValueError(f"unknown faker provider {rest[0]!r}")
        _probe_faker(rest[0])
        return lambda ex: provider()
    raise ValueError(f"unknown template expression {'.'.join([root, *rest])!r}")


_probe: list[Any] = []  # the throwaway Faker


def _probe_faker(name: str) -> None:
    """Call the provider once on a throwaway instance: one that needs arguments fails at load."""
    if not _probe:
        from faker import Faker

        _probe.append(Faker())
    try:
        getattr(_probe[0], name)()
    except Exception as exc:
        raise ValueError(f"faker provider {name!r} cannot be called without arguments: {exc}") from None


def _filter(text: str) -> Callable[[Any], Any]:
    text = text.strip()
    if text == "upper":
        return lambda v: str(v).upper() if v is not _MISSING else v
    if text == "lower":
        return lambda v: str(v).lower() if v is not _MISSING else v
    if text == "json":
        return lambda v: json.dumps(None if v is _MISSING else v)
    m = _DEFAULT.match(text)
    if m:
        fallback = next(g for g in m.groups() if g is not None)
        return lambda v: fallback if v is _MISSING or v == "" else v
    raise ValueError(f"unknown template filter {text!r}")


def _to_text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value)
    return str(value)


class Template:
    """A compiled template: literal strings and expression functions, rendered to text."""

    __slots__ = ("parts", "source")

    def __init__(self, source: str, faker: Callable[[], Any], escape: Callable[[str], str] | None = None):
        self.source = source
        parts: list[Any] = []
        pos = 0
        for m in TEMPLATE.finditer(source):
            if m.start() > pos:
                parts.append(source[pos:m.start()])
            expr, *filters = m.group(1).split("|")
            words = expr.strip().split(".")
            getter = _request_getter(words[0], words[1:], faker)
            chain = [_filter(f) for f in filters]
            parts.append(_compose(getter, chain, escape))
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        self.parts = parts

    def render(self, ex: Exchange) -> str:
        return "".join(p if isinstance(p, str) else p(ex) for p in self.parts)


def whole_expression(source: str, faker: Callable[[], Any]) -> Getter | None:
    """For a string that is one `{{expression | filters}}` and nothing else, a function exchange
    → the value itself (a number stays a number, a list a list; None when it is not there),
    where a JSON document is written from values (a gRPC stub's message); else None."""
    m = TEMPLATE.fullmatch(source.strip())
    if m is None or "{{" in m.group(1) or "}}" in m.group(1):  # (two expressions, or text between)
        return None
    expr, *filters = m.group(1).split("|")
    words = expr.strip().split(".")
    getter = _request_getter(words[0], words[1:], faker)
    chain = [_filter(f) for f in filters]

    def value(ex: Exchange) -> Any:
        found = getter(ex)
        for f in chain:
            found = f(found)
        return None if found is _MISSING else found
    return value


def _compose(getter: Getter, filters: list[Callable[[Any], Any]],
             escape: Callable[[str], str] | None) -> Callable[[Exchange], str]:
    def part(ex: Exchange) -> str:
        value = getter(ex)
        for f in filters:
            value = f(value)
        text = _to_text(value)
        return escape(text) if escape else text
    return part


def json_string_escape(text: str) -> str:
    """Escape text for use inside a JSON string literal."""
    return json.dumps(text)[1:-1]
