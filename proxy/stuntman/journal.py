"""The request journal: every answered exchange, newest last, in a bounded ring.

The ring holds the Exchange objects themselves: recording costs one append (and the first bytes
of a body, cut once), not a copy of every field. JSON, and matching entries for find/count,
happen only when the admin API asks.
"""
from __future__ import annotations

import base64
from collections import deque
from datetime import UTC, datetime
from time import monotonic, time

from .exchange import Exchange


class Journal:
    def __init__(self, size: int, body_bytes: int):
        self.entries: deque[Exchange] = deque(maxlen=size)
        self.body_bytes = body_bytes
        self.appended = 0  # ever; an entry's id is its rank in this count

    def record(self, ex: Exchange) -> None:
        if ex.body:
            ex.cut_body(self.body_bytes)
        ex.release()
        self.entries.append(ex)
        self.appended += 1

    def newest_first(self) -> list[tuple[int, Exchange]]:
        """(id, exchange) pairs; ids count from 1 and never repeat."""
        last = self.appended
        return [(last - i, ex) for i, ex in enumerate(reversed(self.entries))]

    def clear(self) -> None:
        self.entries.clear()


class Captured:
    """A proxied response as the journal keeps it for snapshots (--journal-responses): whole, or
    marked truncated."""

    __slots__ = ("status", "reason", "headers", "chunks", "size", "truncated")

    def __init__(self, status: int, reason: str, headers: list[tuple[bytes, bytes]]):
        self.status, self.reason, self.headers = status, reason, headers
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes, limit: int) -> None:
        if self.size + len(data) > limit:
            self.truncated = True
            self.chunks.clear()  # useless for a snapshot: let it go
        elif not self.truncated:
            self.chunks.append(data)
        self.size += len(data)


def entry_json(entry_id: int, ex: Exchange) -> dict:
    raw = ex.body_bytes
    try:
        body, encoding = raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(raw).decode(), "base64"
    route = ex.route
    at = ex.ended + (time() - monotonic())  # monotonic → wall clock
    entry = {
        "id": entry_id,
        "loggedDate": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
        "request": {
            "method": ex.method, "url": ex.target.decode("latin-1"), "httpVersion": ex.version,
            "clientIp": ex.client,
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in ex.fields()],
            "headersDamaged": ex.raw_index < 0,  # kept bytes that no longer parse (Exchange.fields)
            "body": body, "bodyEncoding": encoding, "bodySize": ex.body_size,
            # (a gRPC call's messages are under grpc, each on its own)
            "bodyTruncated": ex.body_size > len(raw) and ex.grpc is None,
        },
        "response": {"status": ex.status},
        # stub | proxy | none (unmatched, no upstream) | error (upstream failed) | fault (a fault answered)
        "action": ex.action,
        "matched": None if route is None else {"id": route.id, "name": route.name, "source": route.source},
        "timing": {"totalMs": round((ex.ended - ex.started) * 1000, 3)},
        "error": ex.error,
        "faults": ex.plan.describe() if ex.plan is not None else [],
    }
    if ex.watch is not None:  # checked against a monitored contract (stuntman.monitor)
        entry["contract"] = ex.watch.as_json()
    if ex.grpc is not None:  # a gRPC call: its status, details and messages (stuntman.grpc.call)
        entry["grpc"] = ex.grpc.as_json()
    return entry
