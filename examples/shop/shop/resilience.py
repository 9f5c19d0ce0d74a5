"""Calling a dependency without letting it take the caller down: a timeout on every call, retries
with exponential backoff and full jitter (tenacity) that honour a 429's Retry-After, a circuit
breaker per dependency (purgatory), an optional bulkhead per dependency (at most so many calls in
flight), all inside the caller's time budget.

    deps = Dependencies(session, Policy(call_timeout=0.5, attempts=3, breaker_cooldown=10))
    inventory = deps.client("inventory", "http://inventory:8080", bulkhead=BulkheadPolicy(20))
    status, body = await inventory.call("GET", "/api/inventory/beans", deadline=loop.time() + 2)

A call either returns (status, body: parsed JSON, or text) for any status below 500 but 429 — a
404 or a 402 is an answer, not a failure — or raises `CallFailed` naming the dependency and the
reason.
"""
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import aiohttp
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

log = logging.getLogger("shop.resilience")

# reasons a call can fail; each maps to one HTTP status in the caller's answer
TIMEOUT = "timeout"                  # no answer within the call timeout or the remaining budget: 504
CIRCUIT_OPEN = "circuit open"        # the breaker refused the call: 503
CONNECTION = "connection error"      # refused, reset, closed before answering: 502
BAD_STATUS = "bad status"            # a 5xx answer: 502
BAD_RESPONSE = "bad response"        # a 2xx whose body is not JSON (orders: any unexpected answer): 502
BULKHEAD_FULL = "bulkhead full"      # as many calls to it in flight as its bulkhead allows: 503, nothing sent
RATE_LIMITED = "rate limited"        # 429, and its Retry-After does not fit in the budget (or no tries left): 503


@dataclass(frozen=True)
class Policy:
    call_timeout: float = 0.5       # seconds for one HTTP call, connect to last byte
    attempts: int = 3               # tries per call, the first included
    backoff_base: float = 0.1       # full jitter: sleep U(0, min(backoff_max, backoff_base * 2**(n-1)))
    backoff_max: float = 1.0
    min_attempt: float = 0.05       # no new attempt with less budget than this left
    breaker_threshold: int = 5      # consecutive failures that open a dependency's circuit
    breaker_cooldown: float = 10.0  # seconds open before one call is let through (half-open)


@dataclass(frozen=True)
class BulkheadPolicy:
    max_concurrent: int = 100       # calls to the dependency in flight at once (each with all its retries)
    max_wait: float = 0.0           # seconds a call beyond them may wait for a place (0: refused at once)


class CallFailed(Exception):
    """A dependency call that failed: `dependency`, `reason` (one of the constants above),
    `detail` for humans, `attempts` made, `retry_after` seconds for an open circuit or a rate limit."""

    def __init__(self, dependency: str, reason: str, detail: str, *, retry_after: float | None = None):
        super().__init__(f"{dependency}: {reason}: {detail}")
        self.dependency, self.reason, self.detail = dependency, reason, detail
        self.retry_after = retry_after
        self.attempts = 0

    @property
    def retryable(self) -> bool:
        # an open circuit is the breaker's verdict, a full bulkhead ours: retrying only burns the budget
        return self.reason not in (CIRCUIT_OPEN, BULKHEAD_FULL)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After field's wait in seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


def _backoff(policy: Policy):
    """The wait before the next attempt: what a 429 asked for in its Retry-After (sooner would be
    refused again), else exponential backoff with full jitter."""
    jitter = wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

    def wait(retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, CallFailed) and exc.reason == RATE_LIMITED and exc.retry_after is not None:
            return exc.retry_after
        return jitter(retry_state)

    return wait


class _out_of_budget(stop_base):
    """Stop when the next attempt would start with less than `min_attempt` of the budget left."""

    def __init__(self, deadline: float, min_attempt: float):
        self.deadline, self.min_attempt = deadline, min_attempt

    def __call__(self, retry_state) -> bool:
        left = self.deadline - asyncio.get_running_loop().time() - retry_state.upcoming_sleep
        return left < self.min_attempt


class Bulkhead:
    """At most `max_concurrent` calls to one dependency in flight (an asyncio.Semaphore): a
    dependency that slows down holds at most that many of the caller's requests and connections,
    so what the caller does without it (another dependency) keeps its share. A call beyond them
    waits up to `max_wait` (and never past its deadline) for a place, then fails fast with
    BULKHEAD_FULL instead of queueing behind the slow calls."""

    def __init__(self, name: str, policy: BulkheadPolicy):
        self.name, self.max_concurrent, self.max_wait = name, policy.max_concurrent, policy.max_wait
        self._places = asyncio.Semaphore(policy.max_concurrent)
        self.in_use = 0    # calls holding a place
        self.waiting = 0   # calls waiting for one
        self.rejected = 0  # calls refused since start

    @asynccontextmanager
    async def place(self, deadline: float) -> AsyncIterator[None]:
        await self._acquire(deadline)
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            self._places.release()

    async def _acquire(self, deadline: float) -> None:
        if not self._places.locked():  # a free place (and no one waiting for it): taken without a wait
            await self._places.acquire()
            return
        wait = min(self.max_wait, deadline - asyncio.get_running_loop().time())
        if wait > 0:
            self.waiting += 1
            try:
                async with asyncio.timeout(wait):
                    await self._places.acquire()  # (a place given as the wait ends is handed back)
                return
            except TimeoutError:
                pass
            finally:
                self.waiting -= 1
        self.rejected += 1
        waited = f", none free within {wait:.2f}s" if wait > 0 else ""
        raise CallFailed(self.name, BULKHEAD_FULL, f"{self.max_concurrent} calls in flight{waited}")

    def stats(self) -> dict[str, int]:
        return {"max": self.max_concurrent, "in_use": self.in_use, "waiting": self.waiting,
                "rejected": self.rejected}


class Dependencies:
    """One HTTP session, and one breaker (and optionally one bulkhead) per dependency, shared by
    every request of a service."""

    def __init__(self, session: aiohttp.ClientSession, policy: Policy):
        self.session, self.policy = session, policy
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=policy.breaker_threshold, default_ttl=policy.breaker_cooldown)
        self.breakers.add_listener(self._log_breaker)
        self.clients: dict[str, Client] = {}

    def client(self, name: str, base_url: str, bulkhead: BulkheadPolicy | None = None) -> Client:
        self.clients[name] = Client(name, base_url.rstrip("/"), self,
                                    Bulkhead(name, bulkhead) if bulkhead else None)
        return self.clients[name]

    async def start(self) -> None:
        for name in self.clients:  # create the breakers up front: two first calls never race
            await self.breakers.get_breaker(name)

    async def circuits(self) -> dict[str, str]:
        """Each dependency's circuit: closed, opened, or half-opened (cool-down over: the next
        call is the trial)."""
        states = {}
        for name in self.clients:
            ctx = (await self.breakers.get_breaker(name)).context
            state = ctx.state
            if state == "opened" and time.time() > (ctx.opened_at or 0) + ctx.ttl:
                state = "half-opened"
            states[name] = state
        return states

    def bulkheads(self) -> dict[str, dict[str, int]]:
        """Each bulkhead's limit, calls in flight and waiting, and calls refused."""
        return {name: client.bulkhead.stats() for name, client in self.clients.items() if client.bulkhead}

    @staticmethod
    def _log_breaker(name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            log.warning("circuit %s is now %s", name, event.state)


class Client:
    """Calls to one dependency."""

    def __init__(self, name: str, base_url: str, deps: Dependencies, bulkhead: Bulkhead | None = None):
        self.name, self.base_url, self.deps, self.bulkhead = name, base_url, deps, bulkhead

    async def call(self, method: str, path: str, *, deadline: float, json_body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, body) of the first attempt that is not a failure; CallFailed otherwise.
        Only retry what is safe to repeat: the caller makes a POST idempotent (Idempotency-Key).
        With a bulkhead, the call holds one place from its first attempt to its last."""
        if self.bulkhead is None:
            return await self._attempts(method, path, deadline, json_body, headers)
        async with self.bulkhead.place(deadline):
            return await self._attempts(method, path, deadline, json_body, headers)

    async def _attempts(self, method: str, path: str, deadline: float, json_body: Any,
                        headers: dict[str, str] | None) -> tuple[int, Any]:
        policy = self.deps.policy
        retrying = AsyncRetrying(
            # the budget stop sees the upcoming wait: a Retry-After past the budget ends the call at once
            stop=stop_after_attempt(policy.attempts) | _out_of_budget(deadline, policy.min_attempt),
            wait=_backoff(policy),
            retry=retry_if_exception(lambda exc: isinstance(exc, CallFailed) and exc.retryable),
            before_sleep=lambda state: log.info("retrying %s %s%s in %.3fs: %s", method, self.name, path,
                                                state.upcoming_sleep, state.outcome.exception()),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    result = await self._once(method, path, deadline, json_body, headers)
        except CallFailed as exc:
            exc.attempts = attempts
            if exc.reason == RATE_LIMITED and exc.retry_after is not None and attempts < policy.attempts:
                left = deadline - asyncio.get_running_loop().time()
                exc.detail += f"; not waited: {left:.2f}s of the budget left"
            raise
        return result

    async def _once(self, method: str, path: str, deadline: float, json_body: Any,
                    headers: dict[str, str] | None) -> tuple[int, Any]:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise CallFailed(self.name, TIMEOUT, "the time budget is spent")
        timeout = min(self.deps.policy.call_timeout, left)
        breaker = await self.deps.breakers.get_breaker(self.name)
        try:
            async with breaker:  # raises OpenedState while open; counts what raises inside
                status, body, retry_after = await self._request(method, path, timeout, json_body, headers)
        except OpenedState as exc:
            exc.__traceback__ = None  # purgatory raises the same object each time: don't let it grow
            retry_after = max(0.0, exc.opened_at + breaker.context.ttl - time.time())
            raise CallFailed(self.name, CIRCUIT_OPEN,
                             f"{breaker.context.threshold} consecutive failures, "
                             f"next try in {retry_after:.1f}s", retry_after=retry_after) from None
        if status == 429:  # raised outside the breaker: a dependency that rate-limits us is up
            after = "no Retry-After" if retry_after is None else f"Retry-After {retry_after:g}s"
            raise CallFailed(self.name, RATE_LIMITED, f"answered 429, {after}", retry_after=retry_after)
        return status, body

    async def _request(self, method: str, path: str, timeout: float, json_body: Any,
                       headers: dict[str, str] | None) -> tuple[int, Any, float | None]:
        """(status, body, Retry-After of a 429 in seconds)."""
        retry_after = None
        try:
            async with self.deps.session.request(
                    method, self.base_url + path, json=json_body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                status, data = resp.status, await resp.read()
                if status == 429:
                    retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and some also ClientErrors)
            raise CallFailed(self.name, TIMEOUT, f"no answer within {timeout:.2f}s") from None
        except aiohttp.ClientError as exc:
            raise CallFailed(self.name, CONNECTION, f"{type(exc).__name__}: {exc}") from None
        if status >= 500:
            raise CallFailed(self.name, BAD_STATUS, f"answered {status}")
        try:
            return status, json.loads(data) if data else None, retry_after
        except ValueError:
            if status < 300:  # a success that does not parse: broken on the way, worth another try
                raise CallFailed(self.name, BAD_RESPONSE, f"{status} with a body that is not JSON") from None
            return status, data.decode("utf-8", "replace"), retry_after  # a 4xx is an answer, whatever its body
