"""rate_limit and concurrency_limit end to end: real clients (aiohttp, http.client, raw sockets)
against stubs, a real upstream that counts what it serves at once, and unmatched requests;
selection, runtime control through /__admin/faults, reloads, the journal and metrics.

Timing is asserted only as lower bounds (a queue timeout waited at least so long, a held line
took at least so long); windows are long enough that a burst lands inside one on a loaded
machine. Where a test must wait for the server to hold or queue a request before the next step,
it polls the limit's own count (`line`), never sleeps and hopes.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import math
import random
import socket
import time
import urllib.request

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from conftest import leave, send, until
from stuntman.testing import LoopThread
from test_admin import api
from test_faults import stub

# -- clients --------------------------------------------------------------------------------------


async def _burst(url: str, headers: list[dict], local_addr: tuple[str, int] | None = None
                 ) -> list[tuple[int, CIMultiDict, bytes]]:
    """One GET per entry of `headers`, all at once, each on a connection of its own."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True, local_addr=local_addr)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(h: dict) -> tuple[int, CIMultiDict, bytes]:
            async with session.get(url, headers=h) as resp:
                return resp.status, CIMultiDict(resp.headers), await resp.read()
        return await asyncio.gather(*(one(h) for h in headers))


def burst(url: str, n: int, headers: dict | None = None, **kw) -> list[tuple[int, CIMultiDict, bytes]]:
    return asyncio.run(_burst(url, [headers or {}] * n, **kw))


def statuses(url: str, n: int, headers: dict | None = None, **kw) -> list[int]:
    return [status for status, _, _ in burst(url, n, headers, **kw)]


def one(url: str, headers: dict | None = None, **kw) -> tuple[int, CIMultiDict, bytes]:
    [answer] = burst(url, 1, headers, **kw)
    return answer





def answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
        body = resp.read()
    finally:
        sock.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def answered_yet(sock: socket.socket) -> bool:
    """Has anything of an answer come on sock? (without waiting, without consuming it)"""
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)
        sock.settimeout(30)


def lines(st) -> list:
    """Every concurrency limit's count for each key (in flight, waiting), as the server keeps it."""
    return [line for keyed in list(st.server.fault_state.kept.values())
            for line in list(keyed.by_value.values()) if hasattr(line, "waiting")]


def held(st, in_flight: int, queued: int = 0) -> None:
    """Wait until the server's one concurrency line holds exactly this many."""
    until(lambda: [(x.in_flight, len(x.waiting)) for x in lines(st)] == [(in_flight, queued)],
          f"{in_flight} in flight and {queued} queued")


def journal(st) -> list[dict]:
    return api(st, "GET", "/__admin/requests")[1]["requests"]


def injected(st) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(st.admin_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("stuntman_faults_injected_total{"):
            labels, value = line[len("stuntman_faults_injected_total{"):].split("} ")
            parts = dict(p.split("=", 1) for p in labels.split(","))
            out[(parts["route"].strip('"'), parts["type"].strip('"'))] = float(value)
    return out


class Bulkhead:
    """An upstream that counts the requests it is serving at once (the peak is what a limit in
    front of it must bound), and the order they reached it in (X-Seq). It sleeps ?s= seconds;
    ?gate=1 waits instead until the test opens the gate (open_gate), and then answers."""

    def __init__(self, thread: LoopThread) -> None:
        self.now = self.peak = 0
        self.url = ""
        self.seen: list[str] = []
        self.done: list[str] = []
        self.thread = thread
        self.gate = asyncio.Event()

    def open_gate(self) -> None:
        self.thread.loop.call_soon_threadsafe(self.gate.set)

    async def handle(self, request: web.Request) -> web.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        seq = request.headers.get("X-Seq", "")
        self.seen.append(seq)
        try:
            if request.query.get("gate"):
                await self.gate.wait()
            else:
                await asyncio.sleep(float(request.query.get("s", "0.2")))
        finally:
            self.now -= 1
        self.done.append(seq)
        return web.Response(text=f"served {seq}")


@pytest.fixture
def bulkhead():
    """A Bulkhead serving on its own loop; a request whose connection stuntman drops (its client
    left) stops being served at once, as a server that notices its client gone does."""
    thread = LoopThread()
    counting = Bulkhead(thread)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counting.handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1)
    thread.call(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    thread.call(site.start())
    counting.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield counting
    thread.call(runner.cleanup())
    thread.stop()


def proxied(name: str, path: str, faults: str, url: str) -> str:
    return (f"- name: {name}\n  request: {{pathPrefix: {path}}}\n  proxy: {{upstream: {url}}}\n"
            "  faults:\n" + "\n".join("    " + line for line in faults.strip().splitlines()) + "\n")


# -- rate_limit -----------------------------------------------------------------------------------

def test_100_concurrent_clients_get_exactly_the_limit_in_each_window(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 10, window_s: 4, name: q}")},
                  admin_port=0)
    first = burst(st.url + "/quota", 100)
    ok = [h for s, h, _ in first if s == 200]
    refused = [(h, b) for s, h, b in first if s == 429]
    assert len(ok) == 10 and len(refused) == 90
    for headers, body in refused:
        assert 1 <= int(headers["Retry-After"]) <= 4 and headers["X-Stuntman-Fault"] == "rate_limit"
        assert body == b"stuntman: rate limit of 10 per 4 s reached (fault q)\n"
        assert "RateLimit-Limit" not in headers  # only when asked
    assert all("X-Stuntman-Fault" not in h and "RateLimit-Remaining" not in h for h in ok)
    # the next window: a client that waits Retry-After gets in, and again exactly 10 do
    time.sleep(max(int(h["Retry-After"]) for h, _ in refused) + 0.2)
    assert statuses(st.url + "/quota", 100).count(200) == 10
    # the journal and the metrics count the refusals only (an admitted request is not a fired fault)
    entries = journal(st)
    assert len(entries) == 200 and sum(1 for e in entries if e["faults"]) == 180
    assert injected(st)[("quota", "rate_limit")] == 180


def test_a_fixed_window_opens_at_the_first_request_of_its_key(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 2, window_s: 3}")})
    time.sleep(1.5)  # loaded half a window ago: a window counted from the load would end in 1.5 s
    assert statuses(st.url + "/quota", 2) == [200, 200]
    status, headers, _ = one(st.url + "/quota")
    assert status == 429 and headers["Retry-After"] == "3"  # ceil(3 s - the moments since the first)


def test_ratelimit_headers_remaining_and_reset_on_every_response_it_applies_to(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 3, window_s: 30, "
                                                     "ratelimit_headers: true}")
                   + stub("other", "/other", "- {type: latency, fixed_ms: 1}")})
    seen = []
    for _ in range(5):
        status, headers, _ = one(st.url + "/quota")
        seen.append((status, headers["RateLimit-Limit"], headers["RateLimit-Remaining"]))
        assert 1 <= int(headers["RateLimit-Reset"]) <= 30
        if status == 429:
            assert headers["Retry-After"] == headers["RateLimit-Reset"]
    assert seen == [(200, "3", "2"), (200, "3", "1"), (200, "3", "0"), (429, "3", "0"), (429, "3", "0")]
    assert "RateLimit-Limit" not in one(st.url + "/other")[1]  # a route it does not apply to


def test_status_and_body_overrides(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 1, window_s: 60, status: 503, "
                                                     "body: 'slow down', header: false}")})
    assert statuses(st.url + "/quota", 1) == [200]
    status, headers, body = one(st.url + "/quota")
    assert (status, body) == (503, b"slow down") and "X-Stuntman-Fault" not in headers
    assert 50 <= int(headers["Retry-After"]) <= 60


@pytest.mark.parametrize("key", ["session", "header:X-Api-Key", "client", "global"])
def test_each_key_counts_apart(stuntman, key):
    st = stuntman({"s.yaml": stub("quota", "/quota", f"- {{type: rate_limit, limit: 2, window_s: 60, key: '{key}'}}")})
    url = st.url + "/quota"
    if key == "session":
        a, b, c = ({"headers": {"X-Stuntman-Session": s}} for s in ("a", "b", ""))
    elif key == "client":  # two client addresses: 127.0.0.1 and 127.0.0.2 (both loopback on Linux)
        a, b, c = {"local_addr": ("127.0.0.1", 0)}, {"local_addr": ("127.0.0.2", 0)}, {"local_addr": ("127.0.0.3", 0)}
    else:  # an API key; global ignores it (and sessions) and counts everything once
        a, b, c = ({"headers": {"X-Api-Key": k, "X-Stuntman-Session": k}} for k in ("key-a", "key-b", ""))
    assert statuses(url, 5, **a).count(200) == 2
    if key == "global":
        assert statuses(url, 3, **b) == [429] * 3 and statuses(url, 3, **c) == [429] * 3
        return
    assert statuses(url, 5, **b).count(200) == 2  # its own count, untouched by a's
    assert statuses(url, 5, **c).count(200) == 2  # no session / no key / another address: one more count
    assert statuses(url, 1, **a) == [429]


def test_a_sliding_window_admits_at_most_the_limit_in_any_window(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 2, window_s: 4, sliding: true}")})
    url = st.url + "/quota"
    assert statuses(url, 1) == [200]
    first = time.monotonic()  # the first admitted request was at or before this
    time.sleep(2)
    assert statuses(url, 1) == [200]
    status, headers, _ = one(url)
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 2  # when the first leaves the window
    time.sleep(max(0.0, first + 4.3 - time.monotonic()))
    # the first is out of the window, the second is not (a fixed window would admit two here)
    assert sorted(statuses(url, 3)) == [200, 429, 429]
    status, headers, _ = one(url)
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 4


def test_a_token_bucket_admits_its_burst_at_once_then_refills_at_limit_per_window(stuntman):
    # a refill of 2 per 6 s: one token each 3 s (1 per window_s would be one each 6 s)
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 2, window_s: 6, burst: 5, "
                                                     "ratelimit_headers: true}")})
    url = st.url + "/quota"
    answers = burst(url, 20)
    done = time.monotonic()
    assert [s for s, _, _ in answers].count(200) == 5
    assert sorted(int(h["RateLimit-Remaining"]) for s, h, _ in answers if s == 200) == [0, 1, 2, 3, 4]
    assert all(1 <= int(h["Retry-After"]) <= 3 for s, h, _ in answers if s == 429)
    time.sleep(3.3)  # one token back (two would take 6 s)
    assert sorted(statuses(url, 3)) == [200, 429, 429]
    assert time.monotonic() - done < 6, "too slow a machine for this test's refill window"


def test_a_limit_composes_with_when_header_first_n_and_a_seeded_probability(stuntman):
    st = stuntman({"s.yaml": stub("tagged", "/tagged", "- {type: rate_limit, limit: 1, window_s: 60, "
                                                       "when_header: {X-Limit: 'on'}}")
                   + stub("first", "/first", "- {type: rate_limit, limit: 1, window_s: 60, first_n: 3}")
                   + stub("some", "/some", "- {type: rate_limit, limit: 1, window_s: 60, probability: 0.5, seed: 7}")})
    assert [one(st.url + "/tagged")[0] for _ in range(4)] == [200] * 4  # untagged: never counted
    assert [one(st.url + "/tagged", {"X-Limit": "on"})[0] for _ in range(2)] == [200, 429]
    assert one(st.url + "/tagged")[0] == 200
    # first_n: the first 3 requests are under the limit (1 admitted, 2 refused), the rest are not
    assert [one(st.url + "/first")[0] for _ in range(6)] == [200, 429, 429, 200, 200, 200]
    # probability: the requests the seeded generator picks are under the limit; the first of them
    # gets in, the rest are refused; the others pass
    draws = random.Random(7)
    picked = [draws.random() < 0.5 for _ in range(30)]
    expected = [429 if p and picked.index(True) < i else 200 for i, p in enumerate(picked)]
    assert [one(st.url + "/some")[0] for _ in range(30)] == expected and 5 < expected.count(429) < 25


def test_runtime_control_create_disable_delete_and_reset_clears_counts(stuntman):
    st = stuntman({"s.yaml": "- {name: users, request: {path: /users}, response: {body: ok}}\n"
                             "- {name: orders, request: {path: /orders}, response: {body: ok}}\n",
                   "f.yaml": "faults:\n  - {type: rate_limit, limit: 2, window_s: 600, route: orders}\n"},
                  admin_port=0)
    status, created = api(st, "POST", "/__admin/faults", {"type": "rate_limit", "limit": 2, "window_s": 600,
                                                          "route": "users"})
    assert status == 201
    assert [one(st.url + "/users")[0] for _ in range(3)] == [200, 200, 429]
    assert api(st, "PATCH", f"/__admin/faults/{created['id']}", {"enabled": False})[0] == 200
    assert [one(st.url + "/users")[0] for _ in range(3)] == [200] * 3
    # on again: the same definition, so the same count (state belongs to a fault's id and definition)
    assert api(st, "PATCH", f"/__admin/faults/{created['id']}", {"enabled": True})[0] == 200
    assert one(st.url + "/users")[0] == 429
    assert api(st, "PATCH", f"/__admin/faults/{created['id']}", {"limit": 3})[0] == 200
    assert [one(st.url + "/users")[0] for _ in range(4)] == [200, 200, 200, 429]  # an edit starts afresh
    assert api(st, "DELETE", f"/__admin/faults/{created['id']}")[0] == 200
    assert [one(st.url + "/users")[0] for _ in range(3)] == [200] * 3
    # reset: the file's limit keeps its definition, and its count starts again
    assert [one(st.url + "/orders")[0] for _ in range(3)] == [200, 200, 429]
    assert api(st, "POST", "/__admin/faults/reset")[0] == 200
    assert [one(st.url + "/orders")[0] for _ in range(3)] == [200, 200, 429]


def test_on_a_proxied_route_the_upstream_never_sees_a_refused_request(stuntman, upstream):
    st = stuntman({"s.yaml": proxied("api", "/api", "- {type: rate_limit, limit: 5, window_s: 60, "
                                                    "ratelimit_headers: true}", upstream.url)})
    before = upstream.requests
    answers = burst(st.url + "/api/things", 30)
    assert [s for s, _, _ in answers].count(200) == 5 and upstream.requests - before == 5
    for status, headers, body in answers:  # the fields go on the upstream's answer too
        assert headers["RateLimit-Limit"] == "5"
        if status == 200:
            assert json.loads(body)["path"] == "/api/things"


def test_a_standalone_limit_applies_to_unmatched_requests(stuntman):
    st = stuntman({"s.yaml": "- {name: users, request: {path: /users}, response: {body: ok}}\n",
                   "f.yaml": "faults:\n  - {type: rate_limit, limit: 3, window_s: 60}\n"}, admin_port=0)
    codes = statuses(st.url + "/nowhere", 8)
    assert sorted(codes) == [404] * 3 + [429] * 5  # the near-miss 404 is what gets through
    assert one(st.url + "/users")[0] == 429  # one count for every request it applies to
    refused = [e for e in journal(st) if e["response"]["status"] == 429]
    assert len(refused) == 6 and all(e["action"] == "fault" for e in refused)
    [fault] = refused[0]["faults"]
    assert fault["type"] == "rate_limit" and fault["state"]["limit"] == 3 and fault["state"]["remaining"] == 0
    assert 1 <= fault["state"]["retryAfterS"] <= 60
    assert all(e["faults"] == [] for e in journal(st) if e["response"]["status"] == 404)


# -- concurrency_limit ----------------------------------------------------------------------------

LIMIT_BODY = b"stuntman: concurrency limit of 1 in flight reached (fault bulkhead)\n"


def test_the_upstream_never_serves_more_than_max_at_once(stuntman, bulkhead):
    st = stuntman({"s.yaml": proxied("api", "/api", "- {type: concurrency_limit, max: 3, queue: 100, "
                                                    "queue_timeout_ms: 60000}", bulkhead.url)})
    answers = burst(st.url + "/api/work?s=0.3", 20)
    assert [s for s, _, _ in answers] == [200] * 20 and len(bulkhead.done) == 20
    assert bulkhead.peak == 3  # reached, never passed
    assert lines(st)[0].in_flight == 0 and not lines(st)[0].waiting


def test_on_stubs_a_held_line_takes_as_long_as_max_at_a_time_allows(stuntman):
    st = stuntman({"s.yaml": stub("slow", "/slow", "- {type: concurrency_limit, max: 2, queue: 20, "
                                                   "queue_timeout_ms: 60000}\n"
                                                   "- {type: latency, fixed_ms: 500}")}, admin_port=0)
    start = time.monotonic()

    async def run() -> list[float]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
            async def timed() -> float:
                async with session.get(st.url + "/slow") as resp:
                    assert resp.status == 200 and await resp.read() == b"0123456789" * 100
                return time.monotonic() - start
            return sorted(await asyncio.gather(*(timed() for _ in range(8))))
    ended = asyncio.run(run())
    # two at a time, 500 ms each: the k-th answer (from 1) cannot be out before ceil(k/2) × 500 ms
    for k, at in enumerate(ended, 1):
        assert at >= math.ceil(k / 2) * 0.5 * 0.98, (k, ended)
    # the ones that waited are in the journal with what they met; the two let in at once are not
    waited = [e["faults"][0] for e in journal(st) if any(f["type"] == "concurrency_limit" for f in e["faults"])]
    assert len(waited) == 6 and sorted(f["state"]["queued"] for f in waited) == [1, 2, 3, 4, 5, 6]
    assert all(f["state"]["max"] == 2 and f["state"]["inFlight"] == 2 for f in waited)


def test_queued_requests_are_admitted_first_come_first_served(stuntman, bulkhead):
    st = stuntman({"s.yaml": proxied("api", "/api", "- {type: concurrency_limit, max: 1, queue: 20, "
                                                    "queue_timeout_ms: 60000}", bulkhead.url)})
    # The holder ends with an answer, not by leaving: when a client leaves, its place is free at
    # once but the upstream notices the dropped connection only when its own loop gets to it, so
    # it may briefly see two at once though stuntman never had more than one in flight.
    holder = send(st.port, "/api/hold?gate=1", {"X-Seq": "0"})
    held(st, 1)
    waiting = []
    for seq in range(1, 11):  # each in line before the next is sent
        waiting.append(send(st.port, "/api/x?s=0.05", {"X-Seq": str(seq)}))
        held(st, 1, seq)
    bulkhead.open_gate()
    assert answer(holder)[2] == b"served 0"
    assert [answer(sock)[2] for sock in waiting] == [f"served {i}".encode() for i in range(1, 11)]
    assert bulkhead.seen == [str(i) for i in range(11)] and bulkhead.peak == 1


def test_a_stubs_line_lets_them_in_first_come_first_served(stuntman):
    # one standalone limit over two stubs: /hold keeps its place until its client leaves
    st = stuntman({"s.yaml": stub("hold", "/stubbed/hold", "- {type: latency, fixed_ms: 60000}")
                   + stub("next", "/stubbed/next", "- {type: latency, fixed_ms: 20}"),
                   "f.yaml": "faults:\n  - {type: concurrency_limit, max: 1, queue: 20, queue_timeout_ms: 60000,"
                             " request: {pathPrefix: /stubbed}}\n"}, admin_port=0)
    holder = send(st.port, "/stubbed/hold")
    held(st, 1)
    socks = []
    for seq in range(1, 9):
        socks.append(send(st.port, "/stubbed/next", {"X-Seq": str(seq)}))
        held(st, 1, seq)
    leave(holder)
    assert [answer(sock)[0] for sock in socks] == [200] * 8
    # the journal, newest first: in the order they were let in (one at a time, each answered first)
    order = [dict(e["request"]["headers"])["X-Seq"] for e in reversed(journal(st))
             if e["request"]["url"] == "/stubbed/next"]
    assert order == [str(i) for i in range(1, 9)]


def test_a_queue_timeout_is_a_503_after_waiting_at_least_queue_timeout_ms(stuntman):
    st = stuntman({"s.yaml": stub("slow", "/slow", "- {type: concurrency_limit, max: 1, queue: 5, "
                                                   "queue_timeout_ms: 400, name: bulkhead}\n"
                                                   "- {type: latency, fixed_ms: 4000}")}, admin_port=0)
    holder = send(st.port, "/slow")
    held(st, 1)
    start = time.monotonic()
    status, headers, body = answer(send(st.port, "/slow"))
    assert time.monotonic() - start >= 0.38  # (a lower bound only: the machine may be slow)
    assert (status, body) == (503, LIMIT_BODY) and "concurrency_limit" in headers["x-stuntman-fault"]
    assert not answered_yet(holder)
    [refused] = [e for e in journal(st) if e["response"]["status"] == 503]
    assert refused["action"] == "fault"
    assert refused["faults"][0]["state"] == {"max": 1, "inFlight": 1, "queued": 0, "refused": "queue timeout"}
    leave(holder)
    held(st, 0)
    assert injected(st)[("slow", "concurrency_limit")] == 1  # the holder was let in: not a fired fault


def test_a_full_queue_or_no_queue_is_a_503_at_once(stuntman):
    st = stuntman({"s.yaml": stub("queued", "/queued", "- {type: concurrency_limit, max: 1, queue: 2, "
                                                       "queue_timeout_ms: 60000, name: bulkhead}\n"
                                                       "- {type: latency, fixed_ms: 60000}")
                   + stub("bare", "/bare", "- {type: concurrency_limit, max: 1, status: 429, body: busy}\n"
                                           "- {type: latency, fixed_ms: 60000}")}, admin_port=0)
    holder, first, second = send(st.port, "/queued"), None, None
    held(st, 1)
    first = send(st.port, "/queued")
    held(st, 1, 1)
    second = send(st.port, "/queued")
    held(st, 1, 2)
    status, _, body = answer(send(st.port, "/queued"))  # long before anyone in line gets a place
    assert (status, body) == (503, LIMIT_BODY)
    assert not any(answered_yet(s) for s in (holder, first, second))
    bare = send(st.port, "/bare")
    until(lambda: len(lines(st)) == 2 and sorted(x.in_flight for x in lines(st)) == [1, 1], "the bare one held")
    assert answer(send(st.port, "/bare"))[:3:2] == (429, b"busy")
    states = [e["faults"][0]["state"] for e in journal(st)]
    assert states == [{"max": 1, "inFlight": 1, "queued": 0, "refused": "no place"},
                      {"max": 1, "inFlight": 1, "queued": 2, "refused": "queue full"}]
    for sock in (holder, first, second, bare):
        leave(sock)
    until(lambda: all(x.in_flight == 0 and not x.waiting for x in lines(st)), "everyone gone")


def test_clients_that_leave_mid_queue_or_mid_flight_take_no_place_with_them(stuntman, bulkhead):
    st = stuntman({"s.yaml": proxied("api", "/api", "- {type: concurrency_limit, max: 2, queue: 10, "
                                                    "queue_timeout_ms: 60000}", bulkhead.url)}, admin_port=0)
    a, b = send(st.port, "/api?s=30", {"X-Seq": "a"}), send(st.port, "/api?s=30", {"X-Seq": "b"})
    held(st, 2)
    c, d, e = (send(st.port, "/api?s=30", {"X-Seq": seq}) for seq in "cde")
    held(st, 2, 3)
    leave(c)  # mid-queue: out of line, and no place taken
    leave(d)
    held(st, 2, 1)
    leave(a)  # mid-flight: its place goes to the first in line
    until(lambda: "e" in bulkhead.seen, "e let in")
    held(st, 2)
    for sock in (b, e):
        leave(sock)
    held(st, 0)
    assert sorted(bulkhead.seen) == ["a", "b", "e"]  # c and d never reached the upstream
    # max new requests are let in at once: both reach the upstream while both are still there
    news = [send(st.port, "/api?s=5", {"X-Seq": f"new{i}"}) for i in range(2)]
    until(lambda: {"new0", "new1"} <= set(bulkhead.seen), "both new requests at the upstream")
    assert not {"new0", "new1"} & set(bulkhead.done)
    for sock in news:
        leave(sock)
    held(st, 0)
    # the two that left the line are journaled with no answer and the place in line they had
    left_line = {dict(e["request"]["headers"])["X-Seq"]: e["faults"][0]["state"] for e in journal(st)
                 if e["response"]["status"] == 0 and e["faults"]}
    assert left_line == {"c": {"max": 2, "inFlight": 2, "queued": 1}, "d": {"max": 2, "inFlight": 2, "queued": 2}}


def test_a_client_that_leaves_a_stub_mid_flight_frees_its_place(stuntman):
    st = stuntman({"s.yaml": stub("slow", "/slow", "- {type: concurrency_limit, max: 1}\n"
                                                   "- {type: latency, fixed_ms: 800}")})
    leave(send(st.port, "/slow"))  # gone while its latency holds the answer (and the place)
    until(lambda: lines(st) and lines(st)[0].in_flight == 0, "its place given back")
    holder = send(st.port, "/slow")
    held(st, 1)
    assert answer(send(st.port, "/slow"))[0] == 503  # queue 0: one more is refused at once
    assert answer(holder)[0] == 200  # (a lost place would have refused this one)
    assert one(st.url + "/slow")[0] == 200


@pytest.mark.parametrize("key", ["session", "header:X-Tenant", "client"])
def test_each_key_has_its_own_places(stuntman, key):
    st = stuntman({"s.yaml": stub("slow", "/slow", f"- {{type: concurrency_limit, max: 1, key: '{key}'}}\n"
                                                   "- {type: latency, fixed_ms: 30000}")})
    if key == "client":
        def go(who: str) -> socket.socket:
            sock = socket.socket()
            sock.bind((f"127.0.0.{1 + 'ab'.index(who)}", 0))
            sock.connect(("127.0.0.1", st.port))
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            return sock
    else:
        name = "X-Stuntman-Session" if key == "session" else "X-Tenant"

        def go(who: str) -> socket.socket:
            return send(st.port, "/slow", {name: who})
    holder = go("a")
    until(lambda: [x.in_flight for x in lines(st)] == [1], "a's place held")
    other = go("b")
    until(lambda: sorted(x.in_flight for x in lines(st)) == [1, 1], "b let in beside a")
    assert answer(go("a"))[0] == 503 and not answered_yet(other)
    for sock in (holder, other):
        leave(sock)


def test_a_reload_that_keeps_a_limit_keeps_its_counts_and_an_edit_starts_afresh(stuntman):
    limits = ("- {{type: concurrency_limit, max: {max}}}\n"
              "- {{type: latency, fixed_ms: 30000}}")
    st = stuntman({"s.yaml": stub("slow", "/slow", limits.format(max=1))
                   + stub("quota", "/quota", "- {type: rate_limit, limit: 2, window_s: 600}")})
    holder = send(st.port, "/slow")
    held(st, 1)
    assert statuses(st.url + "/quota", 2) == [200, 200]
    (st.stubs / "more.yaml").write_text("- {request: {path: /more}, response: {body: more}}\n")
    st.reload()
    assert one(st.url + "/more")[0] == 200  # the new table serves ...
    assert answer(send(st.port, "/slow"))[0] == 503  # ... and the held place is still held
    assert one(st.url + "/quota")[0] == 429  # the window's count too
    (st.stubs / "s.yaml").write_text(stub("slow", "/slow", limits.format(max=2))
                                     + stub("quota", "/quota", "- {type: rate_limit, limit: 3, window_s: 600}"))
    st.reload()
    second = send(st.port, "/slow")  # an edited limit counts afresh: one more in flight
    until(lambda: sorted(x.in_flight for x in lines(st)) == [1, 1], "the edited limit's own count")
    assert not answered_yet(second)
    assert statuses(st.url + "/quota", 4).count(200) == 3
    for sock in (holder, second):
        leave(sock)
    until(lambda: all(x.in_flight == 0 for x in lines(st)), "both places given back")


# -- what a refusal is, and places that must come back however an exchange ends -------------------

def test_a_refusal_is_answered_at_once_whatever_delays_are_beside_the_limit(stuntman):
    st = stuntman({"s.yaml": stub("quota", "/quota", "- {type: rate_limit, limit: 1, window_s: 600}\n"
                                                     "- {type: latency, fixed_ms: 20000}")
                   + stub("bulk", "/bulk", "- {type: latency, fixed_ms: 20000}\n"
                                           "- {type: concurrency_limit, max: 1}")}, admin_port=0)
    admitted = send(st.port, "/quota")  # in, and slow: 20 s
    until(lambda: st.server.fault_state.kept, "the first request counted")
    status, headers, _ = answer(send(st.port, "/quota"))
    assert status == 429 and headers["x-stuntman-fault"] == "rate_limit"  # the latency did nothing to it
    assert not answered_yet(admitted)  # the refusal did not wait out a latency
    holder = send(st.port, "/bulk")
    held(st, 1)
    status, headers, _ = answer(send(st.port, "/bulk"))
    assert status == 503 and headers["x-stuntman-fault"] == "concurrency_limit"  # a latency before it too
    assert not answered_yet(holder)
    refused = [e for e in journal(st) if e["response"]["status"] in (429, 503)]
    assert sorted(f["type"] for e in refused for f in e["faults"]) == ["concurrency_limit", "rate_limit"]
    for sock in (admitted, holder):
        leave(sock)


def test_a_request_given_up_on_while_in_line_takes_no_place(stuntman):
    """A request whose body turns out malformed while it waits in line is given up on by the
    connection (400, close) without its client leaving first: it must leave the line too, or the
    place freed for it later is held by nobody, for ever."""
    st = stuntman({"s.yaml": stub("hold", "/x/hold", "- {type: latency, fixed_ms: 60000}")
                   + "- {name: post, request: {path: /x/post}, response: {body: posted}}\n",
                   "f.yaml": "faults:\n  - {type: concurrency_limit, max: 1, queue: 5, queue_timeout_ms: 60000,"
                             " request: {pathPrefix: /x}}\n"})
    holder = send(st.port, "/x/hold")
    held(st, 1)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"POST /x/post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        held(st, 1, 1)
        sock.sendall(b"zz\r\n")  # not a chunk size
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    held(st, 1, 0)
    leave(holder)
    held(st, 0)
    status, _, body = one(st.url + "/x/post")
    assert (status, body) == (200, b"posted")


async def test_a_client_that_leaves_as_its_turn_comes_never_reaches_the_upstream(tmp_path, upstream):
    """The place given to the first in line and that request's client leaving, in one turn of the
    loop: the request must not start afterwards (it would reach the upstream holding no place)."""
    from dataclasses import replace

    from conftest import write_stubs
    from stuntman.server import Server
    from stuntman.settings import Settings
    from test_pipeline import FakeDownstream, exchange

    stubs = write_stubs(tmp_path / "stubs", {"s.yaml": proxied(
        "api", "/api", "- {type: concurrency_limit, max: 1, queue: 5, queue_timeout_ms: 60000}", upstream.url)})
    server = Server(replace(Settings(), stubs=stubs, port=0, admin_port=None, watch=False, seed=1))
    server.load()
    loop = asyncio.get_running_loop()
    first, second = FakeDownstream(loop), FakeDownstream(loop)
    ex1, ex2 = exchange(first, "GET", "/api/slow?s=5"), exchange(second, "GET", "/api/slow?s=5")
    server.pipeline.begin(ex1)
    server.pipeline.begin(ex2)
    assert ex1.call is not None and ex2.phase == "queued"
    first.closed = second.closed = True
    server.pipeline.client_gone(ex1)  # its place goes to ex2 ...
    server.pipeline.client_gone(ex2)  # ... whose client leaves in the same turn
    await asyncio.sleep(0.2)
    assert ex2.call is None and ex2.phase == "queued"
    [line] = list(next(iter(server.fault_state.kept.values())).by_value.values())
    assert line.in_flight == 0 and not line.waiting


def test_faults_reset_for_one_session_clears_only_its_counts(stuntman):
    """POST /__admin/faults/reset?session=S: that session's limits and counters start afresh, the
    other sessions' and the faults themselves are left as they are (parallel tests stay apart)."""
    st = stuntman({"s.yaml": stub("quota", "/q", "- {type: rate_limit, limit: 2, window_s: 600, key: session}")
                   + stub("first", "/f", "- {type: error, status: 503, first_n: 1}")}, admin_port=0)
    a, b = {"X-Stuntman-Session": "a"}, {"X-Stuntman-Session": "b"}
    for session in (a, b):
        assert [one(st.url + "/q", session)[0] for _ in range(3)] == [200, 200, 429]
        assert [one(st.url + "/f", session)[0] for _ in range(2)] == [503, 200]
    status, answer = api(st, "POST", "/__admin/faults/reset?session=a")
    assert status == 200 and len(answer["faults"]) == 2
    assert [one(st.url + "/q", a)[0] for _ in range(3)] == [200, 200, 429]  # afresh
    assert one(st.url + "/f", a)[0] == 503                                  # first_n counts afresh too
    assert one(st.url + "/q", b)[0] == 429 and one(st.url + "/f", b)[0] == 200  # b: as it was


def test_key_values_a_client_invents_are_bounded_and_places_in_flight_are_never_forgotten(stuntman, monkeypatch):
    """A client that sends a new X-Api-Key every time made a limit keep state for each one, for
    ever. Past the bound (10,000; 20 here) the oldest idle values are forgotten; a line with a
    request in flight is kept, and its place is still given back when that request ends."""
    from stuntman.faults.kinds import limits

    monkeypatch.setattr(limits, "MAX_KEY_VALUES", 20)
    st = stuntman({"s.yaml": stub("quota", "/q", "- {type: rate_limit, limit: 1, window_s: 600, key: header:X-Key}")
                   + stub("bulk", "/b", "- {type: concurrency_limit, max: 1, key: header:X-Key}\n"
                                        "- {type: latency, fixed_ms: 60000}")}, admin_port=0)
    assert [one(st.url + "/q", {"X-Key": f"k{n}"})[0] for n in range(60)] == [200] * 60
    quota = next(k for k in st.server.fault_state.kept.values() if not lines_of(k))
    assert len(quota.by_value) <= 20
    assert one(st.url + "/q", {"X-Key": "k59"})[0] == 429  # the newest are still counted
    holders = [send(st.port, "/b", {"X-Key": f"held{n}"}) for n in range(3)]
    until(lambda: sum(x.in_flight for x in lines(st)) == 3, "three held")
    for n in range(40):  # new keys, each let in (and held) then its client gone: idle again
        passing = send(st.port, "/b", {"X-Key": f"passing{n}"})
        until(lambda: sum(x.in_flight for x in lines(st)) == 4, f"passing{n} in")
        leave(passing)
        until(lambda: sum(x.in_flight for x in lines(st)) == 3, f"passing{n} gone")
    assert len(lines(st)) <= 20 and sorted(x.in_flight for x in lines(st)) == [0] * (len(lines(st)) - 3) + [1] * 3
    assert one(st.url + "/b", {"X-Key": "held0"})[0] == 503  # its line was kept: still full
    for sock in holders:
        leave(sock)
    until(lambda: sum(x.in_flight for x in lines(st)) == 0, "every place given back")


def lines_of(keyed) -> list:
    return [x for x in keyed.by_value.values() if hasattr(x, "waiting")]
