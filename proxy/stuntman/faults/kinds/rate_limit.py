"""rate_limit: at most `limit` requests per `window_s`, counted by a key (global, session, client,
header:NAME); a request over it is answered 429 with `Retry-After` instead of the real response.
What third-party APIs do, and what a client's backoff must honour.

Three ways to count, all exact (no sampling):
- a fixed window (the default): it opens at the first request of a key and lasts `window_s`; the
  next opens at the first request after it ends;
- `sliding: true`: at most `limit` in any `window_s` (the times of the last `limit` admitted
  requests are kept);
- `burst: B`: a token bucket holding at most B tokens, full at first, refilled at
  limit/window_s tokens a second; each request takes one.

`ratelimit_headers: true` adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds; the IETF RateLimit header fields draft) to every response the limit applies to,
admitted or not. A request under the limit is let be: the fault does not fire on it (the journal
and the fault metrics show only the ones turned away). gRPC requests will be answered with
`grpcStatus` (default RESOURCE_EXHAUSTED).
"""
from __future__ import annotations

import math
from collections import deque
from time import monotonic
from typing import Any, Literal

from pydantic import Field

from ...config.base import FaultBase
from ...response import Response
from ..plan import Plan
from .base import Flow, register
from .error import GrpcStatus
from .limits import Limit, LimitKey, kept, key_reader, refusal


class RateLimitFault(FaultBase):
    """At most `limit` requests per `window_s` by `key`; the rest get 429 with Retry-After."""

    type: Literal["rate_limit"]
    limit: int = Field(ge=1, le=1_000_000, description="requests admitted per window (the bucket's refill per window)")
    window_s: float = Field(1.0, gt=0, le=86_400)
    key: LimitKey = "global"
    sliding: bool = Field(False, description="any window_s, not windows opened by a first request")
    burst: int = Field(0, ge=0, le=1_000_000, description="a token bucket of this many tokens instead of windows")
    status: int = Field(429, ge=400, le=599)
    grpc_status: GrpcStatus = Field(8, alias="grpcStatus", description="for gRPC requests (default RESOURCE_EXHAUSTED)")
    body: str | None = Field(None, description="default: a line naming the limit")
    ratelimit_headers: bool = Field(
        False, description="RateLimit-Limit, -Remaining and -Reset on every response it applies to")


class Window:
    """A fixed window: when it opened, and how many it admitted."""

    __slots__ = ("opened", "count")

    def __init__(self) -> None:
        self.opened = -math.inf
        self.count = 0


class Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float) -> None:
        self.tokens = tokens
        self.at = monotonic()


class RateLimit(Limit):
    type = "rate_limit"
    __slots__ = ("limit", "window", "capacity", "read_key", "keyed", "count", "status", "grpc_status", "body",
                 "headers_asked", "needs_session")

    def __init__(self, spec, fault_id, source, state):
        super().__init__(spec, fault_id, source, state)
        self.limit, self.window = spec.limit, spec.window_s
        self.read_key = key_reader(spec.key)
        self.needs_session = spec.key == "session"
        self.status, self.body = refusal(
            spec.status, spec.body, spec.name or fault_id,
            f"rate limit of {spec.limit} per {spec.window_s:g} s reached")
        self.grpc_status = spec.grpc_status
        self.headers_asked = spec.ratelimit_headers
        self.capacity = capacity = spec.burst
        if capacity:
            self.keyed = kept(self, state, lambda: Bucket(capacity), spec.key)
            self.count = self._bucket
        elif spec.sliding:
            self.keyed = kept(self, state, deque, spec.key)
            self.count = self._sliding
        else:
            self.keyed = kept(self, state, Window, spec.key)
            self.count = None  # a fixed window: counted in `admit` itself, the common case

    # each: (admitted, remaining after this request, seconds until a request would be admitted again)

    def _sliding(self, times: deque, now: float) -> tuple[bool, int, float]:
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False, 0, times[0] + self.window - now
        times.append(now)
        return True, self.limit - len(times), times[0] + self.window - now

    def _bucket(self, bucket: Bucket, now: float) -> tuple[bool, int, float]:
        rate = self.limit / self.window  # tokens a second
        capacity = self.capacity
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False, 0, (1 - bucket.tokens) / rate
        bucket.tokens -= 1
        return True, int(bucket.tokens), (capacity - bucket.tokens) / rate  # (until full again)

    def admit(self, ex: Any, session: str) -> tuple[bool, int, float] | None:
        """None for a request under the limit (when no RateLimit-* fields are asked for), else
        (admitted, remaining, seconds until the next would be admitted)."""
        keyed, read_key = self.keyed, self.read_key
        value = read_key(ex, session) if read_key is not None else ""
        state = keyed.by_value.get(value)
        if state is None:
            state = keyed.get(value)
        now = monotonic()
        if self.count is not None:
            ruling = self.count(state, now)
            return None if ruling[0] and not self.headers_asked else ruling
        if now - state.opened >= self.window:  # a fixed window: it opens at its first request
            state.opened, state.count = now, 0
        if state.count < self.limit:
            state.count += 1
            if not self.headers_asked:
                return None
            return True, self.limit - state.count, state.opened + self.window - now
        return False, 0, state.opened + self.window - now

    def rule(self, plan: Plan, ruling: tuple[bool, int, float], ex: Any) -> bool | None:
        admitted, remaining, reset = ruling
        if self.headers_asked:
            plan.headers += [(b"ratelimit-limit", b"%d" % self.limit), (b"ratelimit-remaining", b"%d" % remaining),
                             (b"ratelimit-reset", b"%d" % math.ceil(reset))]
        if admitted:
            return False
        plan.show(self, {"limit": self.limit, "remaining": 0, "retryAfterS": math.ceil(reset)})
        plan.turn_away(self)  # (the first answering fault decides, as for error, reset, close, hang)
        return None

    def answer(self, ex: Any, flow: Flow) -> None:
        """429 (or `status`) with Retry-After: whole seconds until a request would be admitted."""
        retry = (ex.plan.states or {}).get(self.id, {}).get("retryAfterS", 1)
        flow.deliver(ex, Response.text(self.status, self.body, headers=[("Retry-After", str(max(1, retry)))]))


register(RateLimitFault, RateLimit)
