"""The request journal: every answered exchange, newest last, in a bounded ring.

Recording is one small object appended to a deque (the hot path pays for nothing else); turning
entries into JSON, and matching them for find/count, happens when the admin API asks.
"""
from __future__ import annotations

import base64
import itertools
from collections import deque
from datetime import datetime, timezone
from time import monotonic, time

from .exchange import Exchange


class Entry:
    __slots__ = ("id", "at", "method", "target", "version", "headers", "body", "body_size",
                 "route", "action", "status", "seconds", "error", "client")


class Journal:
    def __init__(self, size: int, body_bytes: int):
        self.entries: deque[Entry] = deque(maxlen=size)
        self.body_bytes = body_bytes
        self._ids = itertools.count(1)

    def record(self, ex: Exchange) -> None:
        e = Entry()
        e.id = next(self._ids)
        e.at = time()
        e.seconds = monotonic() - ex.started
        e.method, e.target, e.version, e.headers = ex.method, ex.target, ex.version, ex.raw_headers
        e.body = ex.body_bytes[:self.body_bytes] if ex.body else b""
        e.body_size = ex.body_size
        e.route, e.action, e.status, e.error, e.client = ex.route, ex.action, ex.status, ex.error, ex.client
        self.entries.append(e)

    def clear(self) -> None:
        self.entries.clear()


def as_exchange(e: Entry) -> Exchange:
    """Rebuild the request of an entry, to run matchers (find, count) over it."""
    ex = Exchange()
    ex.method, ex.version, ex.raw_headers = e.method, e.version, e.headers
    ex.set_target(e.target)
    ex.body = [e.body] if e.body else None
    return ex


def entry_json(e: Entry) -> dict:
    try:
        body, encoding = e.body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(e.body).decode(), "base64"
    route = e.route
    return {
        "id": e.id,
        "loggedDate": datetime.fromtimestamp(e.at, timezone.utc).isoformat(timespec="milliseconds"),
        "request": {
            "method": e.method, "url": e.target.decode("latin-1"), "httpVersion": e.version,
            "clientIp": e.client,
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in e.headers],
            "body": body, "bodyEncoding": encoding, "bodySize": e.body_size,
            "bodyTruncated": e.body_size > len(e.body),
        },
        "response": {"status": e.status},
        "action": e.action,  # stub | proxy | none (unmatched, no upstream) | error (upstream failed)
        "matched": None if route is None else {"id": route.id, "name": route.name, "source": route.source},
        "timing": {"totalMs": round(e.seconds * 1000, 3)},
        "error": e.error,
    }
