"""Broken and slow bodies: how a response is reshaped (corrupt, truncate) and paced (dribble,
bandwidth) on its way to the client. Timers come from the event loop, one at a time per response:
no sleeping threads, no task per byte."""
from __future__ import annotations

import gzip
import math
from collections import deque
from time import monotonic

HIGH_WATER = 64 * 1024  # paced bytes queued before the source (a proxied upstream) is paused


def after(loop, seconds: float, callback, *args):
    """call_later that never fires early. libuv keeps its clock in whole milliseconds, cached per
    loop iteration, and truncates delays to whole milliseconds: a deadline on the monotonic
    clock (which loop.time() follows), plus the millisecond truncation can take, cannot."""
    return loop.call_at(monotonic() + seconds + 0.001, callback, *args)


def split(data: bytes) -> tuple[bytes, bytes]:
    """A rendered response → (head including its blank line, body)."""
    end = data.find(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def with_header(head: bytes, name: bytes, value: bytes | None) -> bytes:
    """head with every `name` field removed, then `name: value` added (if value is not None)."""
    lines = head[:-4].split(b"\r\n")
    lname = name.lower()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() != lname]
    if value is not None:
        kept.append(name + b": " + value)
    return b"\r\n".join(kept) + b"\r\n\r\n"


def reshape(head: bytes, body: bytes, plan, head_only: bool) -> tuple[bytes, bytes, bool]:
    """Apply the plan's header, corruption and truncation: (head, body, close afterwards)."""
    close = False
    if plan.header is not None:
        head = head[:-2] + plan.header + b"\r\n"
    if plan.corrupt is not None and not head_only:
        mode, rng = plan.corrupt
        if mode == "bytes":
            garbled = bytearray(body)
            for _ in range(max(1, len(body) // 64) if body else 0):
                garbled[rng.randrange(len(body))] ^= rng.randrange(1, 256)
            body = bytes(garbled)
        elif mode == "gzip":
            packed = bytearray(gzip.compress(body, mtime=0))
            # a valid gzip header, then a deflate block of the reserved type 3: every inflater
            # stops at the first block ("invalid block type"), however short the body
            packed[10] |= 0b110
            head = with_header(head, b"content-encoding", b"gzip")
            head = with_header(head, b"content-length", b"%d" % len(packed))
            body = bytes(packed)
        else:  # chunking: a chunk-size line that is not hex, then the body
            head = with_header(with_header(head, b"content-length", None), b"transfer-encoding", b"chunked")
            body = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
            close = True
    if plan.truncate is not None and not head_only:
        body = body[:plan.truncate]
        close = True
    return head, body, close


class Pacer:
    """Writes bytes to a connection on a schedule: `piece` bytes, then wait piece/rate seconds.

    A proxied body streams through it: push() as chunks arrive; above HIGH_WATER queued bytes
    `pause()` is called (the upstream stops being read), `resume()` once the queue drains.
    """

    def __init__(self, conn, rate: float, piece: int, pause=None, resume=None):
        self.conn = conn
        self.loop = conn.loop
        self.rate, self.piece = rate, max(1, piece)
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.timer = None
        self.next_at = 0.0
        self.on_done = None
        self.pause, self.resume = pause, resume
        self.paused = False

    @classmethod
    def for_plan(cls, conn, plan, body_size: int | None, **kw) -> Pacer | None:
        if plan.dribble is not None and body_size:
            chunks, seconds = plan.dribble
            if seconds > 0:
                piece = math.ceil(body_size / chunks)
                return cls(conn, piece / (seconds / chunks), piece, **kw)
        if plan.rate is not None:
            return cls(conn, plan.rate, max(1, plan.rate // 20), **kw)  # ~20 writes a second
        return None

    def push(self, data: bytes) -> None:
        if not data:
            return
        self.queue.append(data)
        self.queued += len(data)
        if self.timer is None:
            self.next_at = max(self.next_at, self.loop.time())
            self._schedule()
        if self.queued > HIGH_WATER and self.pause is not None and not self.paused:
            self.paused = True
            self.pause()

    def finish(self, on_done) -> None:
        """Call on_done once everything pushed has been written."""
        if self.queued:
            self.on_done = on_done
        else:
            on_done()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.on_done = None

    def _schedule(self) -> None:
        size = min(self.piece, self.queued)
        self.next_at += size / self.rate
        self.timer = self.loop.call_at(self.next_at, self._write, size)

    def _write(self, size: int) -> None:
        self.timer = None
        if self.conn.closed:
            return self.cancel()
        out = []
        while size:
            chunk = self.queue.popleft()
            if len(chunk) > size:
                self.queue.appendleft(chunk[size:])
                chunk = chunk[:size]
            out.append(chunk)
            size -= len(chunk)
            self.queued -= len(chunk)
        self.conn.write(b"".join(out))
        if self.paused and self.queued < HIGH_WATER // 2:
            self.paused = False
            self.resume()
        if self.queued:
            self._schedule()
        elif self.on_done is not None:
            done, self.on_done = self.on_done, None
            done()
