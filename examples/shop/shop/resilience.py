"""Calling a dependency without letting it take the caller down: a timeout on every call, retries
with exponential backoff and full jitter (tenacity), a circuit breaker per dependency (purgatory),
all inside the caller's time budget.

    deps = Dependencies(session, Policy(call_timeout=0.5, attempts=3, breaker_cooldown=10))
    inventory = deps.client("inventory", "http://inventory:8080")
    status, body = await inventory.call("GET", "/api/inventory/beans", deadline=loop.time() + 2)

A call either returns (status, body: parsed JSON, or text) for any status below 500 — a 404 or a
402 is an answer, not a failure — or raises `CallFailed` naming the dependency and the reason.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Policy:
    call_timeout: float = 0.5       # seconds for one HTTP call, connect to last byte
    attempts: int = 3               # tries per call, the first included
    backoff_base: float = 0.1       # full jitter: sleep U(0, min(backoff_max, backoff_base * 2**(n-1)))
    backoff_max: float = 1.0
    min_attempt: float = 0.05       # no new attempt with less budget than this left
    breaker_threshold: int = 5      # consecutive failures that open a dependency's circuit
    breaker_cooldown: float = 10.0  # seconds open before one call is let through (half-open)


class CallFailed(Exception):
    """A dependency call that failed: `dependency`, `reason` (one of the constants above),
    `detail` for humans, `attempts` made, `retry_after` seconds for an open circuit."""

    def __init__(self, dependency: str, reason: str, detail: str, *, retry_after: float | None = None):
        super().__init__(f"{dependency}: {reason}: {detail}")
        self.dependency, self.reason, self.detail = dependency, reason, detail
        self.retry_after = retry_after
        self.attempts = 0

    @property
    def retryable(self) -> bool:
        # an open circuit is the breaker's verdict: retrying it only burns the budget
        return self.reason != CIRCUIT_OPEN


class _out_of_budget(stop_base):
    """Stop when the next attempt would start with less than `min_attempt` of the budget left."""

    def __init__(self, deadline: float, min_attempt: float):
        self.deadline, self.min_attempt = deadline, min_attempt

    def __call__(self, retry_state) -> bool:
        left = self.deadline - asyncio.get_running_loop().time() - retry_state.upcoming_sleep
        return left < self.min_attempt


class Dependencies:
    """One HTTP session and one breaker per dependency, shared by every request of a service."""

    def __init__(self, session: aiohttp.ClientSession, policy: Policy):
        self.session, self.policy = session, policy
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=policy.breaker_threshold, default_ttl=policy.breaker_cooldown)
        self.breakers.add_listener(self._log_breaker)
        self.clients: dict[str, Client] = {}

    def client(self, name: str, base_url: str) -> Client:
        self.clients[name] = Client(name, base_url.rstrip("/"), self)
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

    @staticmethod
    def _log_breaker(name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            log.warning("circuit %s is now %s", name, event.state)


class Client:
    """Calls to one dependency."""

    def __init__(self, name: str, base_url: str, deps: Dependencies):
        self.name, self.base_url, self.deps = name, base_url, deps

    async def call(self, method: str, path: str, *, deadline: float, json_body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, body) of the first attempt that is not a failure; CallFailed otherwise.
        Only retry what is safe to repeat: the caller makes a POST idempotent (Idempotency-Key)."""
        policy = self.deps.policy
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | _out_of_budget(deadline, policy.min_attempt),
            wait=wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max),
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
                return await self._request(method, path, timeout, json_body, headers)
        except OpenedState as exc:
            exc.__traceback__ = None  # purgatory raises the same object each time: don't let it grow
            retry_after = max(0.0, exc.opened_at + breaker.context.ttl - time.time())
            raise CallFailed(self.name, CIRCUIT_OPEN,
                             f"{breaker.context.threshold} consecutive failures, "
                             f"next try in {retry_after:.1f}s", retry_after=retry_after) from None

    async def _request(self, method: str, path: str, timeout: float, json_body: Any,
                       headers: dict[str, str] | None) -> tuple[int, Any]:
        try:
            async with self.deps.session.request(
                    method, self.base_url + path, json=json_body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                status, data = resp.status, await resp.read()
        except TimeoutError:  # aiohttp's timeouts are TimeoutErrors (and some also ClientErrors)
            raise CallFailed(self.name, TIMEOUT, f"no answer within {timeout:.2f}s") from None
        except aiohttp.ClientError as exc:
            raise CallFailed(self.name, CONNECTION, f"{type(exc).__name__}: {exc}") from None
        if status >= 500:
            raise CallFailed(self.name, BAD_STATUS, f"answered {status}")
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            if status < 300:  # a success that does not parse: broken on the way, worth another try
                raise CallFailed(self.name, BAD_RESPONSE, f"{status} with a body that is not JSON") from None
            return status, data.decode("utf-8", "replace")  # a 4xx is an answer, whatever its body
