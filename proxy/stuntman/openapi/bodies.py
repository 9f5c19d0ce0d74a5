"""Bodies: the media type a message's Content-Type picks from a content object, and the body read
as the value its schema validates.

A `Content` is a content object (a request body's, a response's): the media type a Content-Type
picks (by exact type, then type/* ranges, including `*+json` suffix ranges, then */*), and the
body read by that media type's kind: JSON, a form (fields coerced by their properties' types,
coerce.Shape), or multipart (the parts by name, as text). A media type with no schema, or one that
is neither JSON, form nor multipart, is not read. The usual JSON body that keeps the contract is
read and judged in one go (violations.Schema.keeps), and a few small valid bodies are remembered
per content object, so the same body sent again is not judged again.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..jsontext import loads
from .coerce import Shape
from .document import escape
from .locate import locate
from .violations import TOO_LONG, Schema, Violation

if TYPE_CHECKING:
    from .document import Spec
    from .jsonschema import Compiled

MAX_PARTS = 1_000            # multipart parts looked at
VALID_BODIES = 8             # valid bodies remembered per content object (then it starts over)
VALID_BODY_BYTES = 1024      # the largest remembered (8 KB at most per content object)
_UNREAD = object()           # what _read returns for a body it cannot read


def _essence(content_type: str) -> str:
    """`Application/JSON; charset=utf-8` → `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(media_type: str) -> bool:
    essence = _essence(media_type)
    return essence == "application/json" or essence.endswith("+json") or essence == "*/*"


class _Media:
    """One declared media type of a body: its schema, and how a body of it is read."""

    __slots__ = ("name", "schema", "shape", "reader")

    def __init__(self, spec: Spec, name: str, entry: Any, at: str, schemas: Compiled):
        self.name = name
        node = entry.get("schema") if isinstance(entry, dict) else None
        self.schema = Schema(schemas, locate(spec, at, final=False)) if node is not None else None
        self.shape = Shape(spec, node)
        essence = _essence(name)
        self.reader = "form" if essence == "application/x-www-form-urlencoded" else \
            "multipart" if essence.startswith("multipart/") else "json" if is_json(name) else "none"


class Content:
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
        found = (media, media is not None and (media.reader != "json" or is_json(content_type)))
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
        if value is not _UNREAD and not media.schema.is_valid(value):
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
    """The body as the value its schema validates; _UNREAD (and a violation) if it cannot be read."""
    if media.reader == "json":
        try:
            return loads(body)  # (UTF-8 by the C scanner directly; a BOM or UTF-16/32 as json.loads reads it)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            out.append(Violation(location, "", f"is not valid JSON: {message}{where}", ""))
            return _UNREAD
        except RecursionError:
            out.append(Violation(location, "", "is not valid JSON: nested too deeply", ""))
            return _UNREAD
        except ValueError:  # an integer longer than int() reads (sys.get_int_max_str_digits)
            out.append(Violation(location, "", f"is not valid JSON: {TOO_LONG}", ""))
            return _UNREAD
    if media.reader == "form":
        from urllib.parse import parse_qs

        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return _form_object(media.shape, fields)
    parts = _multipart_fields(body, content_type)
    if parts is None:
        out.append(Violation(location, "", "is not a multipart body with the boundary its Content-Type names", ""))
        return _UNREAD
    return _form_object(media.shape, parts)


def _form_object(shape: Shape, fields: dict[str, list[str]]) -> dict[str, Any]:
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
