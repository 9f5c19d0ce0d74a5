"""Carrying out a Plan: delays, broken bodies (corrupt, truncate) and slow bodies (dribble,
bandwidth), on a `Response` and through a `Downstream`, whatever the protocol.

Deciding (`plan.decide`) is separate from doing (here), so every protocol gets the same faults.
Timers come from the event loop, one at a time per response: no sleeping threads, no task per byte.
"""
from __future__ import annotations

import gzip
import math
import random
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..response import Response, bodiless

if TYPE_CHECKING:
    import asyncio

    from ..downstream import Downstream
    from ..exchange import Exchange
    from .plan import Plan

HIGH_WATER = 64 * 1024  # paced bytes queued before the source (a proxied upstream) is paused


def after(loop: asyncio.AbstractEventLoop, seconds: float, callback: Callable[..., Any], *args: Any
          ) -> asyncio.TimerHandle:
    """call_later that never fires early. libuv keeps its clock in whole milliseconds, cached per
    loop iteration, and truncates delays to whole milliseconds: a deadline on the monotonic
    clock (which loop.time() follows), plus the millisecond truncation can take, cannot."""
    return loop.call_at(monotonic() + seconds + 0.001, callback, *args)


class Forever:
    """The pending step of a hang without for_ms: nothing to cancel."""

    @staticmethod
    def cancel() -> None:
        pass


def with_headers(response: Response, headers: list[tuple[bytes, bytes]]) -> Response:
    """The response with the plan's fields added (a copy: the original may be shared)."""
    shown = response.copy()
    shown.headers += headers
    return shown


def garble(body: bytes, rng: random.Random) -> bytes:
    """body with about one byte in 64 (at least one) changed, at places rng draws; same length."""
    garbled = bytearray(body)
    for _ in range(max(1, len(body) // 64) if body else 0):
        garbled[rng.randrange(len(body))] ^= rng.randrange(1, 256)
    return bytes(garbled)


def reshape(response: Response, plan: Plan, head_only: bool) -> tuple[Response, bool]:
    """Apply the plan's fields, corruption and truncation to a whole response: (a reshaped copy,
    close the connection afterwards)."""
    response = with_headers(response, plan.headers)
    close = False
    body = response.body or b""
    if plan.corrupt is not None and not head_only:
        mode, rng = plan.corrupt
        if mode == "bytes":
            response.body = garble(body, rng)
        elif mode == "gzip":
            packed = bytearray(gzip.compress(body, mtime=0))
            # a valid gzip header, then a deflate block of the reserved type 3: every inflater
            # stops at the first block ("invalid block type"), however short the body
            packed[10] |= 0b110
            response.set_header(b"content-encoding", b"gzip")
            response.body = bytes(packed)
            response.length = len(packed)
        else:  # chunking: the protocol frames the body wrongly (HTTP/1: a chunk size that is not hex)
            response.broken_framing = True
            close = True
    if plan.truncate is not None and not head_only:
        response.body = (response.body or b"")[:plan.truncate]  # the declared length stays
        close = True
    return response, close


class Pacer:
    """Writes body bytes to a downstream on a schedule: `piece` bytes, then wait piece/rate seconds.

    A proxied body streams through it: push() as chunks arrive; above HIGH_WATER queued bytes
    `pause()` is called (the upstream stops being read), `resume()` once the queue drains.
    """

    def __init__(self, down: Downstream, rate: float, piece: int,
                 pause: Callable[[], None] | None = None, resume: Callable[[], None] | None = None):
        self.down = down
        self.loop = down.loop
        self.rate, self.piece = rate, max(1, piece)
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.next_at = 0.0
        self.on_done: Callable[[], None] | None = None
        self.pause, self.resume = pause, resume
        self.paused = False

    @classmethod
    def for_plan(cls, down: Downstream, plan: Plan, body_size: int | None, **kw: Any) -> Pacer | None:
        if plan.dribble is not None and body_size:
            chunks, seconds = plan.dribble
            if seconds > 0:
                piece = math.ceil(body_size / chunks)
                return cls(down, piece / (seconds / chunks), piece, **kw)
        if plan.rate is not None:
            return cls(down, plan.rate, max(1, plan.rate // 20), **kw)  # ~20 writes a second
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

    def finish(self, on_done: Callable[[], None]) -> None:
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
        if self.down.closed:
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
        self.down.send_body(b"".join(out))
        self.down.flush()
        if self.paused and self.queued < HIGH_WATER // 2:
            self.paused = False
            if self.resume is not None:
                self.resume()
        if self.queued:
            self._schedule()
        elif self.on_done is not None:
            done, self.on_done = self.on_done, None
            done()


class Shaper:
    """Stands in front of the downstream for a response that streams (a proxied one): adds the
    plan's fields, holds the response for a response-stage delay (pausing the source), and paces
    a bandwidth limit. The source writes to it as it would to the downstream, and calls
    `end(ex, done)`: `done` runs once everything has gone out."""

    def __init__(self, down: Downstream, plan: Plan, pause: Callable[[], None], resume: Callable[[], None]):
        self.down, self.plan = down, plan
        self.pause, self.resume = pause, resume
        self.holding = False
        self.head: Response | None = None
        self.held: list[bytes] = []
        self.held_end: Callable[[], None] | None = None
        self.pacer: Pacer | None = None

    def send_head(self, ex: Exchange, response: Response) -> None:
        plan = self.plan
        if plan.headers:
            response.headers += plan.headers
        if plan.rate is not None and not bodiless(ex.method, response.status):
            self.pacer = Pacer(self.down, plan.rate, max(1, plan.rate // 20), pause=self.pause, resume=self.resume)
        if plan.delay_response:
            self.holding = True
            self.head = response
            self.pause()
            ex.pending = after(self.down.loop, plan.delay_response, self._release, ex)
            return
        self.down.send_head(ex, response)
        if self.pacer is not None:  # the head unthrottled, the body paced
            self.down.flush()

    def send_body(self, data: bytes) -> None:
        if self.holding:
            self.held.append(data)
        elif self.pacer is not None:
            self.pacer.push(data)
        else:
            self.down.send_body(data)

    def flush(self) -> None:
        if not self.holding and self.pacer is None:
            self.down.flush()

    def end(self, ex: Exchange, done: Callable[[], None]) -> None:
        if self.holding:  # finish when the delay is over
            self.held_end = done
        elif self.pacer is not None:
            ex.pending = self.pacer
            self.pacer.finish(lambda: self._paced(ex, done))
        else:
            self.down.flush()
            done()

    @staticmethod
    def _paced(ex: Exchange, done: Callable[[], None]) -> None:
        ex.pending = None
        done()

    def _release(self, ex: Exchange) -> None:
        """The response-stage delay is over: let the response through."""
        ex.pending = None
        self.holding = False
        self.resume()
        assert self.head is not None
        self.down.send_head(ex, self.head)
        if self.pacer is not None:
            self.down.flush()
        for data in self.held:
            self.send_body(data)
        self.held.clear()
        if self.held_end is not None:
            self.end(ex, self.held_end)
        else:
            self.flush()
