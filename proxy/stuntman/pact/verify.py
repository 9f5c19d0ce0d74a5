"""Verifying a provider against a pact: each HTTP interaction's request is sent to a live service
and the answer is held to the interaction's response (stuntman.pact.compare.compare_response:
status, headers, body with its matching rules). What the pact's consumers rely on is exactly
what is checked; anything more the provider sends (headers, JSON keys) is allowed, as Pact says.

The request goes out as the pact writes it: the method, the path as written (not normalized:
`//a`, `/a/../b` and `%69` stay what they are), the query, the headers and the body bytes. Only
what cannot go on the wire is percent-encoded (a space, non-ASCII). aiohttp adds nothing of its
own beyond Host and the framing (no Accept, Accept-Encoding, User-Agent, default Content-Type),
does not decompress (the bytes compared are the bytes sent), does not follow redirects (a 3xx is
the answer judged) and keeps no cookies between interactions.

Provider states follow Pact's convention: for an interaction with states and a state URL, each
state is set up by POSTing `{"state", "params", "action": "setup"}` (JSON) before the request and
torn down (`"action": "teardown"`) after it. A setup call that fails fails the interaction: the
request is not sent, as its answer would mean nothing.

Not done (noted on the interactions concerned): request generators (Pact's verifier replaces
values in the request, a v4 ProviderState generator with values the state call returned); the
example values written in the pact are sent instead. Message interactions are skipped and
counted as such: they are not HTTP.
"""
from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from .compare import compare_response
from .document import Interaction, Pact, ProviderState, Request

# aiohttp's own request headers, left out so that only what the pact says is sent
SKIP_AUTO = frozenset(("Accept", "Accept-Encoding", "User-Agent", "Content-Type"))
# characters a request-target carries as they are (RFC 3986 pchar, '/', '?' in the query, and '%'
# so that escapes the pact wrote stay as written)
PATH_SAFE = "/:@!$&'()*+,;=-._~%"
QUERY_SAFE = PATH_SAFE + "?"
SHOWN_BYTES = 200  # of a failed state call's answer, in the message


@dataclass
class InteractionResult:
    """One interaction's verdict. `passed` only when the answer holds to the pact; `error` when
    there was no answer to judge (connection refused, timeout, a state call that failed)."""

    description: str
    pointer: str
    file: str
    states: list[str] = field(default_factory=list)
    passed: bool = False
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None
    status: int | None = None
    skipped: str | None = None      # why it was not verified (a message interaction)
    pending: bool = False           # v4 pending: its failure is reported but fails nothing
    notes: list[str] = field(default_factory=list)
    method: str = ""
    path: str = ""

    @property
    def failed(self) -> bool:
        """Whether this result fails the verification (a skipped or pending one never does)."""
        return not self.passed and self.skipped is None and not self.pending

    @property
    def outcome(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "passed" if self.passed else "failed"

    def as_json(self) -> dict[str, Any]:
        return {"description": self.description, "source": f"{self.file}#{self.pointer}", "pointer": self.pointer,
                "outcome": self.outcome, "passed": self.passed, "pending": self.pending, "states": self.states,
                "request": {"method": self.method, "path": self.path}, "status": self.status,
                "mismatches": self.mismatches, "error": self.error, "skipped": self.skipped, "notes": self.notes}


@dataclass(frozen=True)
class Sent:
    """A request as it goes on the wire."""

    method: str
    url: URL
    headers: CIMultiDict[str]
    body: bytes | None


async def verify(pact: Pact, against: str, state_url: str | None = None, timeout: float = 10,
                 headers: dict[str, str] | None = None) -> list[InteractionResult]:
    """Every interaction of the pact, in file order, verified one after another against the
    service at `against` (a base URL: its path, if any, prefixes each interaction's path).
    One after another because provider states are set up for one request at a time."""
    base = URL(against)
    extra = dict(headers or {})
    results: list[tuple[int, InteractionResult]] = []
    connector = aiohttp.TCPConnector(force_close=True)  # each request on a connection of its own
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     skip_auto_headers=SKIP_AUTO) as session:
        for interaction in pact.interactions:
            result = await _verify_one(session, pact, interaction, base, state_url, timeout, extra)
            results.append((interaction.index, result))
    results += [(m.index, _skipped(pact, m)) for m in pact.messages]
    return [result for _, result in sorted(results, key=lambda pair: pair[0])]


def _skipped(pact: Pact, message: Interaction) -> InteractionResult:
    return InteractionResult(message.description, message.pointer, pact.file, [s.name for s in message.states],
                             skipped=f"a message interaction ({message.type}): not verified over HTTP")


async def _verify_one(session: aiohttp.ClientSession, pact: Pact, interaction: Interaction, base: URL,
                      state_url: str | None, timeout: float, extra: dict[str, str]) -> InteractionResult:
    request = interaction.request
    result = InteractionResult(interaction.description, interaction.pointer, pact.file,
                               [s.name for s in interaction.states], pending=interaction.pending,
                               method=request.method, path=request.path)
    if request.generators:
        result.notes.append("the request has generators, which verify-pact does not apply: the pact's example "
                            "values were sent")
    if interaction.states and state_url is None:
        result.notes.append("no provider state URL: the provider states were not set up")
    states = interaction.states if state_url is not None else []
    error = await _set_states(session, state_url, states, "setup", timeout)
    if error is None:
        error = await _exchange(session, interaction, outgoing(request, base, extra), timeout, result)
    teardown = await _set_states(session, state_url, list(reversed(states)), "teardown", timeout)
    result.error = error or teardown
    result.passed = result.error is None and not result.mismatches
    return result


async def _exchange(session: aiohttp.ClientSession, interaction: Interaction, sent: Sent, timeout: float,
                    result: InteractionResult) -> str | None:
    """Send the request and judge the answer into `result`; the error when there is no answer."""
    try:
        status, headers, body = await _send(session, sent, timeout)
    except Exception as exc:  # whatever stopped the exchange is this interaction's error
        return _describe(exc, sent.url, timeout)
    result.status = status
    result.mismatches = [str(m) for m in compare_response(interaction.response, status, headers, body)]
    if result.mismatches and "content-encoding" in headers:
        result.notes.append(f"the body came with Content-Encoding: {headers['content-encoding']} and was compared "
                            "as sent (not decoded)")
    return None


def outgoing(request: Request, base: URL, extra: dict[str, str]) -> Sent:
    """The interaction's own request (as stuntman.contracts.pact.example builds it, for the
    wire): the base URL's path before the pact's path (a '/' between them if the pact's has
    none: a request-target starts with one), repeated headers joined with ", ", the
    body's declared type as Content-Type when the headers name none, `extra` headers last
    (replacing the pact's of the same name: an Authorization the pact cannot hold)."""
    query = request.query_string()
    path = base.raw_path.rstrip("/") + ("" if request.path.startswith("/") else "/") + request.path
    target = quote(path, safe=PATH_SAFE) + (f"?{quote(query, safe=QUERY_SAFE)}" if query else "")
    url = URL(f"{base.scheme}://{base.raw_authority}{target}", encoded=True)
    sent: CIMultiDict[str] = CIMultiDict(request.header_fields())
    body = request.body.content if request.body.state != "missing" else None
    if body and "content-type" not in sent and request.body.content_type:
        sent["Content-Type"] = request.body.content_type
    for name, value in extra.items():
        sent[name] = value
    return Sent(request.method, url, sent, body)


async def _send(session: aiohttp.ClientSession, sent: Sent, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """(status, headers by lower-case name with repeats joined by ", ", the body as sent)."""
    async with session.request(sent.method, sent.url, headers=sent.headers, data=sent.body, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        body = await response.read()
        headers: dict[str, str] = {}
        for name, value in response.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return response.status, headers, body


async def _set_states(session: aiohttp.ClientSession, url: str | None, states: list[ProviderState], action: str,
                      timeout: float) -> str | None:
    """POST each state's change to the state URL; the first failure's message (None: all done).
    A setup stops at its first failure; a teardown (in the reverse order) goes on past one, so
    that every state is offered its teardown."""
    failure = None
    for state in states:
        assert url is not None
        error = await _state_call(session, url, state, action, timeout)
        if error is not None:
            failure = failure or error
            if action == "setup":
                break
    return failure


async def _state_call(session: aiohttp.ClientSession, url: str, state: ProviderState, action: str,
                      timeout: float) -> str | None:
    body = json.dumps({"state": state.name, "params": state.params, "action": action}).encode()
    what = f"provider state {state.name!r} {action}: POST {url}"
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"},
                                allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            answer = await response.read()
            if not 200 <= response.status < 300:
                shown = answer[:SHOWN_BYTES].decode("utf-8", "replace").strip()
                return f"{what} answered {response.status}{': ' + shown if shown else ''}"
    except Exception as exc:  # the call's failure, whatever it is, is the message
        return f"{what}: {_describe(exc, URL(url), timeout)}"
    return None


def _describe(exc: BaseException, url: URL, timeout: float) -> str:
    """A failed exchange in a line a person can act on."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error  # (asyncio's strerror is "Connect call failed (…)": the errno says why)
        reason = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no response from {url.host}:{url.port} within {timeout:g} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{url.host}:{url.port} closed the connection without a response"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"unreadable response from {url.host}:{url.port}: {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def summary(results: list[InteractionResult]) -> dict[str, int]:
    """Counts by outcome (a pending failure is counted as failed and again as pending)."""
    return {"interactions": len(results), "passed": sum(r.passed for r in results),
            "failed": sum(r.outcome == "failed" for r in results),
            "skipped": sum(r.skipped is not None for r in results),
            "pending": sum(r.pending and r.outcome == "failed" for r in results)}
