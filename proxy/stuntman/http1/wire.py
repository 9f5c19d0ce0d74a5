"""HTTP/1.1 bytes on the wire: a `Response` serialized (status line, fields, framing), the cached
Date field, small responses of the connection's own (a malformed request), and fields parsed again
from bytes kept for the journal."""
from __future__ import annotations

from collections.abc import Sequence
from email.utils import formatdate
from http import HTTPStatus
from time import time
from typing import TYPE_CHECKING

import httptools

if TYPE_CHECKING:
    from ..response import Response

_STATUS_LINES = {
    s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus
}


def status_line(status: int, reason: bytes | None = None) -> bytes:
    if reason is not None:
        return b"HTTP/1.1 %d %s\r\n" % (status, reason)
    return _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status


class _DateCache:
    """`Date: ...` rendered at most once per second (it is in every response stuntman makes), with
    the end of the head after it: the Connection field each client needs and the blank line."""

    __slots__ = ("_second", "_line", "_end")

    def __init__(self) -> None:
        self._second = -1
        self._line = self._end = b""

    def line(self) -> bytes:
        now = int(time())
        if now != self._second:
            self._renew(now)
        return self._line

    def _renew(self, now: int) -> None:
        self._second = now
        self._line = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        self._end = self._line + b"\r\n"

    def end(self, keep_alive: bool, version: str) -> bytes:
        """Date, Connection and the blank line that ends a head."""
        now = int(time())
        if now != self._second:
            self._renew(now)
        if keep_alive and version == "1.1":  # most answers: no Connection field
            return self._end
        return self._line + connection_line(keep_alive, version) + b"\r\n"


date_cache = _DateCache()


def connection_line(keep_alive: bool, version: str) -> bytes:
    """What the response must say about the connection (HTTP/1.0 keep-alive must be explicit)."""
    if not keep_alive:
        return b"connection: close\r\n"
    return b"" if version == "1.1" else b"connection: keep-alive\r\n"


def simple_response(status: int, body: str | bytes, *, headers: Sequence[tuple[str, str]] = (),
                    content_type: str = "text/plain; charset=utf-8", keep_alive: bool = True,
                    version: str = "1.1", head_only: bool = False) -> bytes:
    """A complete response with a fixed body: errors, 404 near-miss, 100-continue aside."""
    data = body.encode() if isinstance(body, str) else body
    head = [status_line(status), date_cache.line(), b"server: stuntman\r\n",
            b"content-type: %s\r\n" % content_type.encode(),
            b"content-length: %d\r\n" % len(data), connection_line(keep_alive, version)]
    head.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
    head.append(b"\r\n")
    if not head_only:
        head.append(data)
    return b"".join(head)


def head_prefix(response: Response) -> bytes:
    """The status line, the fields and the Content-Length: the head but its Date, Connection and
    blank line (what stays the same from one request to the next)."""
    # (joins run in C: a Python loop over the fields costs more than the rest of the head)
    fields = b"\r\n".join(map(b": ".join, response.headers))
    head = status_line(response.status, response.reason) + fields + b"\r\n" if fields else \
        status_line(response.status, response.reason)
    if response.broken_framing:  # a corrupt fault: chunked, and the first chunk size is not hex
        return head + b"transfer-encoding: chunked\r\n"
    if response.length is not None:
        return head + b"content-length: %d\r\n" % response.length
    return head


BROKEN_CHUNK = b"zz\r\n"      # what a broken-framing body starts with
BROKEN_TAIL = b"\r\n0\r\n\r\n"  # and ends with, before the close


class _FieldCollector:
    def __init__(self) -> None:
        self.messages: list[list[tuple[bytes, bytes]]] = []
        self.heads = 0  # heads parsed to their end

    def on_message_begin(self) -> None:
        self.messages.append([])

    def on_header(self, name: bytes, value: bytes) -> None:
        self.messages[-1].append((name, value))

    def on_headers_complete(self) -> None:
        self.heads += 1


def header_fields(chunk: bytes, index: int) -> list[tuple[bytes, bytes]]:
    """The header fields of the index-th request in `chunk`, bytes as received that began
    between requests: how the journal gets back the fields it let go of. Every head the
    connection accepted parses again, an upgrade's included (llhttp stops after it, as the
    connection did); ValueError if the index-th head is not whole in `chunk`."""
    collector = _FieldCollector()
    try:
        httptools.HttpRequestParser(collector).feed_data(chunk)
    except httptools.HttpParserUpgrade:  # the upgrade's head is whole: nothing follows it
        pass
    except httptools.HttpParserError:  # the request after the one asked for, or bytes gone bad
        pass
    if index >= collector.heads:
        raise ValueError(f"request {index} has no whole head in the {len(chunk)} bytes kept")
    return collector.messages[index]
