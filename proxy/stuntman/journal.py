"""The request journal: every answered exchange, newest last, in a bounded ring.

Recording is one small object appended to a deque (the hot path pays for nothing else); turning
entries into JSON, and matching them for find/count, happens when the admin API asks.
"""
from __future__ import annotations

import base64
import itertools
from collections import deque
from datetime import datetime, timezone
from operator import itemgetter
from time import time

from .exchange import Exchange


class Entry(tuple):
    """One journaled exchange. A tuple subclass built by `Journal.record` with one tuple.__new__
    call (a class with attributes costs twice as much on every request); fields by name below."""

    __slots__ = ()
    id = property(itemgetter(0))
    at = property(itemgetter(1))          # wall-clock time the response was done
    seconds = property(itemgetter(2))     # from the request head to the end of the response
    method = property(itemgetter(3))
    target = property(itemgetter(4))
    version = property(itemgetter(5))
    headers = property(itemgetter(6))     # [(name, value)] as received
    body = property(itemgetter(7))        # the first journal_body_bytes
    body_size = property(itemgetter(8))
    route = property(itemgetter(9))       # the Route that matched, or None
    action = property(itemgetter(10))
    status = property(itemgetter(11))
    error = property(itemgetter(12))
    client = property(itemgetter(13))


class Journal:
    def __init__(self, size: int, body_bytes: int):
        self.entries: deque[Entry] = deque(maxlen=size)
        self.body_bytes = body_bytes
        self._ids = itertools.count(1)

    def record(self, ex: Exchange, seconds: float) -> None:
        self.entries.append(_new_entry(Entry, (
            next(self._ids), time(), seconds, ex.method, ex.target, ex.version, ex.raw_headers,
            ex.body_bytes[:self.body_bytes] if ex.body else b"", ex.body_size, ex.route, ex.action,
            ex.status, ex.error, ex.client)))

    def clear(self) -> None:
        self.entries.clear()


_new_entry = tuple.__new__


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
