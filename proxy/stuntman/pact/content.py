"""Content types as Pact compares bodies by them: what kind of body a type names (JSON, XML, form,
text, binary), and, with no Content-Type, what the bytes look like (the specification's "magic
number test", as the reference implementation does it: the first 32 bytes)."""
from __future__ import annotations

import re

_XML_DECL = re.compile(rb"^\s*<\?xml\s*version", re.IGNORECASE)
_HTML = re.compile(rb"^\s*(<!DOCTYPE)|(<HTML>)")
_XML = re.compile(rb"^\s*<\w+")
_JSON = re.compile(rb'^\s*(true|false|null|[0-9]+|"\w*|\{\s*(}|"\w+)|\[\s*)')
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"), (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"), (b"RIFF", "application/octet-stream"),
)


def essence(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def kind(content_type: str | None) -> str:
    """json | xml | form | multipart | binary | text (how two bodies of this type are compared)."""
    base = essence(content_type)
    main, _, sub = base.partition("/")
    if (main == "application" and "json" in sub) or sub.endswith("+json") or base == "application/graphql":
        return "json"
    if main in ("application", "text") and (sub == "xml" or sub.endswith("+xml")):
        return "xml"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if main == "multipart":
        return "multipart"
    if main in ("image", "audio", "video") or base in ("application/octet-stream", "application/pdf",
                                                      "application/zip", "application/gzip"):
        return "binary"
    return "text"


def sniff(data: bytes) -> str:
    """The type the bytes look like, when nothing declares one."""
    for magic, found in _MAGIC:
        if data.startswith(magic):
            return found
    head = data[:32]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # (not only a character cut at the 32nd byte)
            return "application/octet-stream"
    if _XML_DECL.match(head):
        return "application/xml"
    if _HTML.match(head.upper()):
        return "text/html"
    if _XML.match(head):
        return "application/xml"
    if _JSON.match(head):
        return "application/json"
    return "text/plain"


def same_type(expected: str, actual: str) -> bool:
    """The body types agree: the same media type (parameters are the header comparison's)."""
    e, a = essence(expected), essence(actual)
    return e == a or kind(e) == kind(a) != "text" and kind(e) in ("json", "xml")
