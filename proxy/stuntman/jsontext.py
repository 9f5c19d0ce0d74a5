"""JSON text read the quick way where it can be: a request body is usually one UTF-8 document
with nothing around it, and then json's C scanner reads it directly, skipping what json.loads
does around the scanner (the encoding guess of a bytes argument, the white-space skipping, the
Python frames): about a third of the read of a small body. Anything else goes to json.loads,
which reads it the same way or explains what is wrong."""
from __future__ import annotations

import json
from typing import Any

scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads ends in
_BOMS = (b"\xef", b"\xfe", b"\xff")


def loads_text(text: str) -> Any:
    """json.loads(text): the same value, or the same error."""
    try:
        value, end = scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def loads(data: bytes) -> Any:
    """json.loads(data): the same value, or the same error (a BOM or UTF-16/32 body included,
    which json.loads detects)."""
    if data[:1] in _BOMS or b"\x00" in data[:4]:
        return json.loads(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return json.loads(data)  # (it raises what json.loads raises)
    return loads_text(text)
