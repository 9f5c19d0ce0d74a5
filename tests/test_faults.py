"""Fault injection end to end: each fault observed the way a real client sees it (aiohttp, and
raw sockets below it), on stubs and on proxied traffic; selection, seeds, composition, runtime
control through /__admin/faults, the CLI flag, journal and metrics."""
from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
import urllib.request

import aiohttp
import pytest
from multidict import CIMultiDict

from conftest import call, free_port, raw_exchange, run_cli, wait_port
from test_admin import api

BODY = "0123456789" * 100  # 1,000 bytes


def stub(name: str, path: str, faults: str, body: str = BODY, **extra: str) -> str:
    """One stub file entry with its faults (YAML flow/block text indented under `faults:`)."""
    lines = [f"- name: {name}", f"  request: {{path: {path}}}", f"  response: {{body: {json.dumps(body)}}}"]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    lines.append("  faults:")
    lines += ["    " + line for line in faults.strip().splitlines()]
    return "\n".join(lines) + "\n"


async def _get(url: str, timeout: float = 5, **kw) -> tuple[int, dict, bytes]:
    async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.get(url, **kw) as resp):
        return resp.status, CIMultiDict(resp.headers), await resp.read()


def get(url: str, timeout: float = 5, **kw) -> tuple[int, dict, bytes]:
    return asyncio.run(_get(url, timeout, **kw))


def timed_many(url: str, n: int, concurrency: int, **kw) -> list[float]:
    """n GETs, `concurrency` at a time over keep-alive connections: each one's seconds."""
    async def run() -> list[float]:
        limit = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            async def one() -> float:
                async with limit:
                    start = time.perf_counter()
                    async with session.get(url, **kw) as resp:
                        await resp.read()
                        assert resp.status == 200
                    return time.perf_counter() - start
            return await asyncio.gather(*(one() for _ in range(n)))
    return asyncio.run(run())


def statuses(port: int, path: str, n: int, headers: str = "") -> list[int]:
    """n pipelined GETs on one raw connection, in batches: their statuses in order."""
    import httptools

    out: list[int] = []

    class Collector:
        def on_headers_complete(self) -> None:
            out.append(parser.get_status_code())

    parser = httptools.HttpResponseParser(Collector())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode()
        for start in range(0, n, 500):
            count = min(500, n - start)
            sock.sendall(request * count)
            while len(out) < start + count:
                parser.feed_data(sock.recv(1 << 20))
    return out


# -- each fault as a client sees it ------------------------------------------------------------

def test_reset_close_and_hang_as_aiohttp_sees_them(stuntman):
    st = stuntman({"s.yaml": stub("reset", "/reset", "- type: reset") + stub("close", "/close", "- type: close")
                   + stub("hang", "/hang", "- type: hang")
                   + stub("hang-for", "/hang-for", "- {type: hang, for_ms: 300}")})
    with pytest.raises(aiohttp.ClientOSError) as reset:
        get(st.url + "/reset")
    assert "reset" in str(reset.value).lower()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        get(st.url + "/close")
    start = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        get(st.url + "/hang", timeout=0.5)  # the client's own timeout is what ends it
    assert time.monotonic() - start >= 0.5
    start = time.monotonic()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        get(st.url + "/hang-for")
    assert 0.3 <= time.monotonic() - start < 2


def test_reset_close_and_hang_below_the_http_library(stuntman):
    st = stuntman({"s.yaml": stub("reset", "/reset", "- type: reset") + stub("close", "/close", "- type: close")
                   + stub("hang", "/hang", "- {type: hang, for_ms: 400}")})
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /reset HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(ConnectionResetError):  # RST: recv fails, it does not return b""
            sock.recv(100)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(100) == b""  # FIN, not a byte of response
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):  # nothing while it hangs...
            sock.recv(100)
        sock.settimeout(5)
        assert sock.recv(100) == b""  # ...then a close without a response
    # a request body is read before the fault acts: the reset comes after the whole request
    data = raw_exchange(st.port, b"POST /close HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    assert data == b""


def test_truncate_and_corrupt_break_the_body_the_way_clients_notice(stuntman):
    st = stuntman({"s.yaml": stub("truncate", "/truncate", "- {type: truncate, after_bytes: 100}")
                   + stub("gzip", "/gzip", "- {type: corrupt, mode: gzip}")
                   + stub("chunking", "/chunking", "- {type: corrupt, mode: chunking}")
                   + stub("bytes", "/bytes", "- {type: corrupt, mode: bytes, seed: 3}")})
    with pytest.raises(aiohttp.ClientPayloadError):
        get(st.url + "/truncate")
    head, _, body = raw_exchange(st.port, b"GET /truncate HTTP/1.1\r\nHost: t\r\n\r\n").partition(b"\r\n\r\n")
    assert b"content-length: 1000" in head and body == BODY[:100].encode()  # full length declared, 100 sent
    with pytest.raises(aiohttp.ClientPayloadError) as gz:
        get(st.url + "/gzip")
    assert "encod" in repr(gz.value).lower() or "compress" in repr(gz.value).lower()
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientResponseError)) as chunking:
        get(st.url + "/chunking")  # aiohttp parses eagerly: the bad chunk size may come with the head
    assert "chunk" in str(chunking.value).lower()
    status, headers, body = get(st.url + "/bytes")
    assert status == 200 and len(body) == 1000 and body != BODY.encode()
    assert headers["X-Stuntman-Fault"] == "corrupt"


def test_bandwidth_and_dribble_pace_the_body(stuntman):
    st = stuntman({"s.yaml": stub("bw", "/bw", "- {type: bandwidth, bytes_per_s: 2000}", body="x" * 3000)
                   + stub("dribble", "/dribble", "- {type: dribble, chunks: 4, duration_ms: 800}", body="y" * 400)})

    async def arrivals(path: str) -> tuple[float, list[tuple[float, int]]]:
        start = time.perf_counter()
        seen = []
        async with aiohttp.ClientSession() as session, session.get(st.url + path) as resp:
            head_at = time.perf_counter() - start
            async for chunk in resp.content.iter_any():
                seen.append((time.perf_counter() - start, len(chunk)))
        return head_at, seen

    head_at, seen = asyncio.run(arrivals("/bw"))
    elapsed = seen[-1][0]
    assert sum(n for _, n in seen) == 3000
    assert 1.5 * 0.8 <= elapsed <= 1.5 * 1.2  # 3,000 bytes at 2,000 B/s, within 20%
    assert head_at < 0.3 and len(seen) > 5  # the head at once, the body in many small writes
    head_at, seen = asyncio.run(arrivals("/dribble"))
    assert sum(n for _, n in seen) == 400 and len(seen) == 4
    assert [round(t, 1) for t, _ in seen] == [0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize("dist, check", [
    ("fixed_ms: 25", lambda s: set(s) == {25}),
    ("uniform: {min_ms: 20, max_ms: 40}", lambda s: 29 <= statistics.mean(s) <= 31 and min(s) >= 20
     and max(s) <= 40 and sorted(s)[len(s) // 10] < 23 and sorted(s)[-len(s) // 10] > 37),
    ("normal: {mean_ms: 30, stddev_ms: 5}", lambda s: 29 <= statistics.median(s) <= 31
     and 4.5 <= statistics.stdev(s) <= 5.5),
    ("lognormal: {median_ms: 20, sigma: 0.5}", lambda s: 19 <= statistics.median(s) <= 21
     and statistics.mean(s) > statistics.median(s) + 1),  # right-skewed
])
def test_latency_distributions_over_2000_requests(cli_server, tmp_path, dist, check):
    """The delays drawn follow the distribution (the journal shows each request's), and none is
    cut short: each request took at least its own delay as the client measured it (stuntman in
    its own process). The shape is checked on what was drawn, the clock only as a lower bound, so
    a loaded machine cannot fail it (measured medians used to, by 40 ms)."""
    from conftest import write_stubs

    stubs = write_stubs(tmp_path / "s", {"s.yaml": stub("slow", "/slow", f"- {{type: latency, {dist}}}")})
    admin = free_port()
    _, port = cli_server("--stubs", str(stubs), "--admin-port", str(admin))

    async def numbered() -> dict[int, float]:
        limit = asyncio.Semaphore(50)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
            async def one(n: int) -> tuple[int, float]:
                async with limit:
                    start = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{port}/slow", headers={"X-N": str(n)}) as resp:
                        await resp.read()
                        assert resp.status == 200
                    return n, time.perf_counter() - start
            return dict(await asyncio.gather(*(one(n) for n in range(2000))))
    elapsed = asyncio.run(numbered())
    entries = json.loads(call(admin, "GET", "/__admin/requests?limit=2000")[2])["requests"]
    drawn = {int(dict(e["request"]["headers"])["X-N"]): e["faults"][0]["state"]["delayMs"] for e in entries}
    assert sorted(drawn) == list(range(2000))
    # (uvloop's timers count whole milliseconds: a delay may end up to 1 ms before its fraction)
    short = [(n, ms, elapsed[n] * 1000) for n, ms in drawn.items() if elapsed[n] * 1000 < ms - 1]
    assert not short, short[:5]
    delays = list(drawn.values())
    assert check(delays), (dist, min(delays), statistics.median(delays), statistics.mean(delays), max(delays))


def test_probabilities_are_honest_and_a_seed_repeats_the_sequence(stuntman):
    st = stuntman({"s.yaml": stub("flaky", "/flaky", "- {type: error, status: 503, probability: 0.2, seed: 7}")},
                  admin_port=0)
    first = statuses(st.port, "/flaky", 10_000)
    errors = first.count(503)
    assert set(first) == {200, 503}
    assert abs(errors - 2000) <= 3 * (10_000 * 0.2 * 0.8) ** 0.5  # 2,000 ± 3σ (σ = 40)
    assert api(st, "POST", "/__admin/faults/reset")[0] == 200  # counters and generators afresh
    assert statuses(st.port, "/flaky", 10_000) == first


def test_the_run_seed_is_printed_and_repeats_decisions(cli_server, tmp_path):
    from conftest import write_stubs

    stubs = write_stubs(tmp_path / "s", {"s.yaml": stub("flaky", "/flaky", "- {type: error, probability: 0.5}")})
    seen = []
    for _ in range(2):
        proc, port = cli_server("--stubs", str(stubs), "--seed", "1234")
        assert "fault seed 1234" in proc.stdout.readline()
        seen.append(statuses(port, "/flaky", 200))
        proc.terminate()
        proc.wait(10)
    assert seen[0] == seen[1] and 60 < seen[0].count(503) < 140
    proc, port = cli_server("--stubs", str(stubs))
    assert "--seed " in proc.stdout.readline()  # a random seed, and how to repeat it


def test_selection_first_n_after_n_every_nth_and_sessions(stuntman):
    st = stuntman({"s.yaml": stub("first", "/first", "- {type: error, first_n: 2}")
                   + stub("after", "/after", "- {type: error, after_n: 3}")
                   + stub("every", "/every", "- {type: error, every_nth: 3}")})
    assert statuses(st.port, "/first", 5) == [503, 503, 200, 200, 200]
    assert statuses(st.port, "/after", 5) == [200, 200, 200, 503, 503]
    assert statuses(st.port, "/every", 7) == [200, 200, 503, 200, 200, 503, 200]
    # counters are per X-Stuntman-Session: a parallel test starts its own count
    assert statuses(st.port, "/first", 3, "X-Stuntman-Session: t2\r\n") == [503, 503, 200]


def test_when_header_faults_only_tagged_requests(stuntman):
    st = stuntman({"s.yaml": stub("pay", "/pay", "- {type: error, status: 502, name: pay-down, "
                                                 "when_header: {X-Stuntman-Fault: pay-down}}")})
    assert statuses(st.port, "/pay", 3) == [200, 200, 200]
    assert statuses(st.port, "/pay", 3, "X-Stuntman-Fault: pay-down\r\n") == [502, 502, 502]
    assert statuses(st.port, "/pay", 2, "X-Stuntman-Fault: other\r\n") == [200, 200]


def test_a_window_turns_a_fault_on_and_off(stuntman):
    """The window opens 1.5 s after the fault is loaded, for 1.5 s. The load happens between
    `before` and `started`, so the window surely covers [started + 1.5, before + 3.0] and surely
    excludes what ends before `before + 1.5` or starts after `started + 3.0`: each call is made in
    such a span (the spans are about a second wide, for a loaded machine), and checked to be."""
    before = time.monotonic()
    st = stuntman({"s.yaml": stub("w", "/w", "- {type: error, window: {after_ms: 1500, for_ms: 1500}}")})
    started = time.monotonic()

    def at(earliest: float, latest: float) -> int:
        time.sleep(max(0.0, earliest - time.monotonic()))
        status = call(st.port, "GET", "/w")[0]
        assert time.monotonic() <= latest, "the machine was too slow to call inside the span"
        return status
    assert at(started, before + 1.5) == 200
    assert at(started + 1.55, before + 3.0) == 503
    assert at(started + 3.05, float("inf")) == 200


def test_faults_compose_latency_then_error_and_hide_the_header(stuntman):
    st = stuntman({"s.yaml": stub("both", "/both", "- {type: latency, fixed_ms: 200}\n- {type: error, status: 429}")
                   + stub("quiet", "/quiet", "- {type: latency, fixed_ms: 1, header: false}")})
    start = time.monotonic()
    status, headers, body = get(st.url + "/both")
    assert status == 429 and time.monotonic() - start >= 0.2
    assert headers["X-Stuntman-Fault"] == "latency, error"
    status, headers, _ = get(st.url + "/quiet")
    assert status == 200 and "X-Stuntman-Fault" not in headers


# -- proxied traffic ---------------------------------------------------------------------------

def proxy_stub(name: str, path: str, faults: str, upstream) -> str:
    return (f"- name: {name}\n  request: {{pathPrefix: {path}}}\n  proxy: {{upstream: {upstream.url}}}\n"
            "  faults:\n" + "\n".join("    " + line for line in faults.strip().splitlines()) + "\n")


def test_on_proxied_routes_an_answering_fault_never_reaches_the_upstream(stuntman, upstream):
    st = stuntman({"s.yaml": proxy_stub("err", "/status", "- {type: error, status: 503}", upstream)
                   + proxy_stub("reset", "/echo", "- {type: reset}", upstream)
                   + proxy_stub("hang", "/download", "- {type: hang, for_ms: 100}", upstream)})
    before = upstream.requests
    assert get(st.url + "/status/200")[0] == 503
    with pytest.raises(aiohttp.ClientOSError):
        get(st.url + "/echo")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        get(st.url + "/download?size=10")
    assert upstream.requests == before


def test_upstream_timeout_answers_504_while_the_upstream_still_sleeps(stuntman, upstream):
    st = stuntman({"s.yaml": proxy_stub("slow", "/slow", "- {type: upstream_timeout, after_ms: 200}", upstream)})
    start = time.monotonic()
    status, headers, body = get(st.url + "/slow?s=3")
    assert status == 504 and time.monotonic() - start < 1.5  # the upstream sleeps 3 s
    assert headers["X-Stuntman-Error"] == "upstream-timeout" and headers["X-Stuntman-Fault"] == "upstream_timeout"


def test_latency_stages_on_proxied_routes(stuntman, upstream):
    st = stuntman({"s.yaml": proxy_stub("req", "/req", "- {type: latency, fixed_ms: 300, stage: request}", upstream)
                   + proxy_stub("resp", "/resp", "- {type: latency, fixed_ms: 300}", upstream)})
    for path, upstream_waits in (("/req", True), ("/resp", False)):
        before = upstream.requests
        start = time.monotonic()
        result = {}

        async def watch(path: str, before: int, result: dict) -> None:
            task = asyncio.ensure_future(_get(st.url + path))
            await asyncio.sleep(0.15)
            result["reached"] = upstream.requests > before  # has the upstream seen it yet?
            result["response"] = await task

        asyncio.run(watch(path, before, result))
        status, headers, _ = result["response"]
        assert status == 200 and headers["X-Stuntman-Fault"] == "latency"
        assert time.monotonic() - start >= 0.3
        assert result["reached"] is not upstream_waits, path


def test_a_held_or_paced_proxied_response_gives_its_upstream_connection_back_in_working_order(stuntman, upstream):
    """The response stage holds (latency) or paces (bandwidth) a proxied response after the
    upstream has finished sending it: the pooled connection it came on must still read the next
    response (it was paused while the response waited)."""
    st = stuntman({"s.yaml": proxy_stub("held", "/echo", "- {type: latency, fixed_ms: 100}", upstream)
                   + proxy_stub("paced", "/download", "- {type: bandwidth, bytes_per_s: 400000}", upstream)})
    for path in ("/echo/1", "/download?size=200000"):
        peers = set()
        for _ in range(3):  # one connection at a time to stuntman, so the pooled one is reused
            status, _, body = call(st.port, "GET", path)
            assert status == 200, (path, status, body[:200])
            if path.startswith("/echo"):
                peers.add(json.loads(body)["peer_port"])
            else:
                assert len(body) == 200000
        assert len(peers) <= 1, peers  # the same upstream connection every time


def test_bandwidth_on_a_proxied_body_streams_it(stuntman, upstream):
    st = stuntman({"s.yaml": proxy_stub("drip", "/drip", "- {type: bandwidth, bytes_per_s: 20000}", upstream)
                   + proxy_stub("big", "/download", "- {type: bandwidth, bytes_per_s: 100000}", upstream)})

    async def first_and_last(url: str) -> tuple[float, float, int]:
        start = time.perf_counter()
        first = None
        size = 0
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            async for chunk in resp.content.iter_any():
                first = first or time.perf_counter() - start
                size += len(chunk)
        return first, time.perf_counter() - start, size

    # the upstream sends 5 x 1 KB, 0.3 s apart: the first bytes arrive long before the last exist
    first, last, size = asyncio.run(first_and_last(st.url + "/drip?chunks=5&gap=0.3"))
    assert size == 5120 and first < 0.3 and last >= 1.2
    # 200,000 bytes at 100,000 B/s: 2 s, within 20%
    first, last, size = asyncio.run(first_and_last(st.url + "/download?size=200000"))
    assert size == 200_000 and 1.6 <= last <= 2.4 and first < 0.3


def test_truncate_and_corrupt_on_proxied_responses(stuntman, upstream):
    st = stuntman({"s.yaml": proxy_stub("t", "/download", "- {type: truncate, after_bytes: 1000}", upstream)
                   + proxy_stub("g", "/echo", "- {type: corrupt, mode: gzip}", upstream)})
    with pytest.raises(aiohttp.ClientPayloadError):
        get(st.url + "/download?size=5000")  # chunked upstream: stuntman declares 5,000, sends 1,000
    with pytest.raises(aiohttp.ClientPayloadError):
        get(st.url + "/echo")

    small = stuntman({"s.yaml": proxy_stub("t", "/download", "- {type: truncate, after_bytes: 10}", upstream)},
                     max_body_bytes=50_000)
    status, headers, body = get(small.url + "/download?size=60000")  # too big to hold whole: said so
    assert status == 502 and headers["X-Stuntman-Error"] == "response-too-large" and b"--max-body-bytes" in body


# -- configuration and runtime control -----------------------------------------------------------

def test_admin_api_creates_targets_disables_and_resets_faults(stuntman, upstream):
    st = stuntman({"s.yaml": "- name: users\n  request: {path: /users}\n  response: {body: ok}\n",
                   "f.yaml": "faults:\n"
                             "  - {name: file-fault, type: error, status: 500, route: users, enabled: false}\n"},
                  admin_port=0, upstream=upstream.url)
    assert call(st.port, "GET", "/users")[0] == 200
    status, created = api(st, "POST", "/__admin/faults", {"type": "error", "status": 503, "route": "users"})
    assert status == 201 and created["origin"] == "api"
    assert call(st.port, "GET", "/users")[0] == 503
    assert api(st, "PATCH", f"/__admin/faults/{created['id']}", {"enabled": False})[0] == 200
    assert call(st.port, "GET", "/users")[0] == 200  # the very next request
    # a matcher targets a subset of proxied traffic: POST /api/payments, not GET
    status, pay = api(st, "POST", "/__admin/faults", {"type": "error", "status": 402,
                                                       "request": {"method": "POST", "path": "/api/payments"}})
    assert status == 201
    assert call(st.port, "POST", "/api/payments", body=b"{}")[0] == 402
    assert call(st.port, "GET", "/api/payments")[0] == 200
    # the file's fault, listed, switched on at runtime
    faults = api(st, "GET", "/__admin/faults")[1]["faults"]
    [file_fault] = [f for f in faults if f.get("name") == "file-fault"]
    assert file_fault["origin"] == "file" and file_fault["source"] == "f.yaml:2"
    assert api(st, "PATCH", f"/__admin/faults/{file_fault['id']}", {"enabled": True})[0] == 200
    assert call(st.port, "GET", "/users")[0] == 500
    assert api(st, "DELETE", f"/__admin/faults/{pay['id']}") == (200, {"deleted": pay["id"]})
    assert call(st.port, "POST", "/api/payments", body=b"{}")[0] == 200
    assert api(st, "GET", "/__admin/faults/nope")[0] == 404
    status, reset = api(st, "POST", "/__admin/faults/reset")  # back to the file: disabled again
    assert status == 200 and [f["name"] for f in reset["faults"]] == ["file-fault"]
    assert call(st.port, "GET", "/users")[0] == 200


def test_bad_fault_definitions_are_rejected_naming_the_field_and_nothing_changes(stuntman):
    st = stuntman({"s.yaml": stub("a", "/a", "- {type: error, status: 418}")}, admin_port=0)
    for body, field, words in (
        ({"type": "explode"}, "", "unknown fault type 'explode'"),
        ({"type": "error", "probability": 1.5}, "probability", "less than or equal to 1"),
        ({"type": "latency", "fixed_ms": -5}, "fixed_ms", "greater than or equal to 0"),
        ({"type": "latency"}, "", "exactly one of fixed_ms, uniform, normal, lognormal"),
        ({"type": "bandwidth", "bytes_per_s": 10, "colour": 1}, "colour", "unknown field"),
    ):
        status, answer = api(st, "POST", "/__admin/faults", body)
        assert status == 400 and answer["error"] == "invalid fault", body
        assert answer["errors"][0]["field"] == field and words in answer["errors"][0]["message"], answer
    assert call(st.port, "GET", "/a")[0] == 418  # the existing fault keeps working
    own = [f for f in api(st, "GET", "/__admin/faults")[1]["faults"] if f["origin"] == "stub"]
    assert len(own) == 1 and api(st, "PATCH", f"/__admin/faults/{own[0]['id']}", {"enabled": False})[0] == 409


def test_bad_fault_files_name_file_line_and_field_and_the_last_good_set_serves(stuntman, tmp_path):
    st = stuntman({"s.yaml": stub("a", "/a", "- {type: error, status: 418}")}, admin_port=0)
    (st.stubs / "f.yaml").write_text("faults:\n  - type: latency\n    fixed_ms: -1\n  - {type: nope}\n")
    status, answer = api(st, "POST", "/__admin/mappings/reload")
    assert status == 422
    assert [(e["file"], e["line"], e["field"]) for e in answer["configErrors"]] == [
        ("f.yaml", 3, "faults[0].fixed_ms"), ("f.yaml", 4, "faults[1]")]
    assert call(st.port, "GET", "/a")[0] == 418
    result = run_cli("validate", str(st.stubs))
    assert result.returncode == 1
    assert "f.yaml:3: faults[0].fixed_ms: Input should be greater than or equal to 0" in result.stdout


def test_fault_files_apply_to_every_request_or_a_matcher(stuntman, upstream):
    st = stuntman({"f.yaml": "faults:\n  - {type: latency, fixed_ms: 150}\n"
                             "  - {type: error, status: 503, request: {path: /only}}\n"}, upstream=upstream.url)
    start = time.monotonic()
    assert call(st.port, "GET", "/anything")[0] == 200  # proxied, and delayed by the global fault
    assert time.monotonic() - start >= 0.15
    status, headers, _ = call(st.port, "GET", "/only")
    assert status == 503 and headers["x-stuntman-fault"] == "latency, error"


def test_the_fault_flag_of_stuntman_run(cli_server, tmp_path):
    from conftest import write_stubs

    stubs = write_stubs(tmp_path / "s", {"s.yaml": "- request: {path: /api/payments}\n  response: {body: paid}\n"})
    _, port = cli_server("--stubs", str(stubs), "--fault", "path=/api/payments,type=error,status=503,"
                         "headers.Retry-After=2,first_n=1")
    status, headers, _ = call(port, "GET", "/api/payments")
    assert status == 503 and headers["retry-after"] == "2"
    assert call(port, "GET", "/api/payments")[0] == 200
    result = run_cli("run", "--stubs", str(stubs), "--port", "0", "--fault", "path=/x,type=error,probability=2")
    assert result.returncode == 2 and "--fault #1" in result.stderr and "probability" in result.stderr


def test_fault_headers_let_a_request_ask_for_a_delay_or_an_error(stuntman):
    st = stuntman({"s.yaml": "- {request: {path: /on}, response: {body: x}, faultHeaders: true}\n"
                             "- {request: {path: /off}, response: {body: x}}\n"})
    start = time.monotonic()
    assert call(st.port, "GET", "/on", headers={"X-Stuntman-Delay-Ms": "200"})[0] == 200
    assert time.monotonic() - start >= 0.2
    assert call(st.port, "GET", "/on", headers={"X-Stuntman-Abort": "503"})[0] == 503
    assert call(st.port, "GET", "/off", headers={"X-Stuntman-Abort": "503"})[0] == 200  # off by default
    assert call(st.port, "GET", "/on", headers={"X-Stuntman-Abort": "nonsense"})[0] == 200


def test_injected_faults_are_journaled_and_counted(stuntman):
    st = stuntman({"s.yaml": stub("flaky", "/flaky", "- {type: error, status: 503, name: boom}")
                   + stub("cut", "/cut", "- {type: reset}")}, admin_port=0)
    call(st.port, "GET", "/flaky")
    with pytest.raises(OSError):
        call(st.port, "GET", "/cut")
    requests = api(st, "GET", "/__admin/requests")[1]["requests"]
    cut, flaky = requests
    assert flaky["action"] == "fault" and flaky["response"]["status"] == 503
    assert flaky["faults"] == [{"id": flaky["faults"][0]["id"], "name": "boom", "type": "error",
                                "params": {"status": 503, "headers": {}}}]
    assert cut["faults"][0]["type"] == "reset" and cut["response"]["status"] == 0
    with urllib.request.urlopen(st.admin_url + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'stuntman_faults_injected_total{route="flaky",type="error"} 1.0' in metrics
    assert 'stuntman_faults_injected_total{route="cut",type="reset"} 1.0' in metrics


def test_a_client_that_leaves_during_a_delay_is_journaled_and_nothing_leaks(stuntman):
    st = stuntman({"s.yaml": stub("slow", "/slow", "- {type: latency, fixed_ms: 5000}")}, admin_port=0)
    with pytest.raises(asyncio.TimeoutError):
        get(st.url + "/slow", timeout=0.2)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not api(st, "GET", "/__admin/requests")[1]["requests"]:
        time.sleep(0.05)
    [entry] = api(st, "GET", "/__admin/requests")[1]["requests"]
    assert entry["response"]["status"] == 0 and entry["faults"][0]["type"] == "latency"
    assert not st.server.connections
    wait_port(st.port)


def test_the_demo_faults_fire_only_when_asked(cli_server, tmp_path):
    import shutil

    from conftest import ROOT

    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    _, port = cli_server("--stubs", str(tmp_path / "stubs"))
    session_a = {"X-Stuntman-Session": "a"}
    assert call(port, "POST", "/api/payments", body=b"{}", headers=session_a)[0] == 503  # its sequence
    status, headers, body = call(port, "POST", "/api/payments", body=b"{}",
                                 headers={"X-Stuntman-Fault": "payments-down", "X-Stuntman-Session": "b"})
    assert status == 503 and headers["retry-after"] == "2" and b"injected" in body
    start = time.monotonic()
    status, headers, _ = call(port, "GET", "/api/products/1", headers={"X-Stuntman-Fault": "slow"})
    assert status == 200 and headers["x-stuntman-fault"] == "latency" and time.monotonic() - start >= 0.2
    assert "x-stuntman-fault" not in call(port, "GET", "/api/products/1")[1]
    with pytest.raises(OSError):
        call(port, "GET", "/api/users/7", headers={"X-Stuntman-Fault": "reset"})


def test_a_fault_file_naming_a_missing_stub_is_an_error(tmp_path):
    from conftest import write_stubs

    stubs = write_stubs(tmp_path / "s", {"f.yaml": "faults:\n  - {type: reset, route: nobody}\n"})
    result = run_cli("validate", str(stubs))
    assert result.returncode == 1 and "f.yaml:2: faults[0].route: no stub is named 'nobody'" in result.stdout


def test_fault_files_are_hot_reloaded(stuntman):
    from test_reload import eventually

    st = stuntman({"s.yaml": "- {name: users, request: {path: /users}, response: {body: ok}}\n"}, watch=True)
    assert call(st.port, "GET", "/users")[0] == 200
    (st.stubs / "f.yaml").write_text("faults:\n  - {type: error, status: 503, route: users}\n")
    eventually(lambda: call(st.port, "GET", "/users")[0] == 503)
    (st.stubs / "f.yaml").unlink()
    eventually(lambda: call(st.port, "GET", "/users")[0] == 200)


def test_a_stub_created_through_the_api_takes_its_fault_decisions_from_the_run_seed(stuntman):
    stub_body = {"id": "flaky", "request": {"path": "/flaky"}, "response": {"body": "ok"},
                 "faults": [{"type": "error", "probability": 0.5}]}
    runs = []
    for seed in (5, 5, 6):
        st = stuntman({}, admin_port=0, seed=seed)
        assert api(st, "POST", "/__admin/mappings", stub_body)[0] == 201
        runs.append(statuses(st.port, "/flaky", 100))
    assert runs[0] == runs[1] != runs[2] and 25 < runs[0].count(503) < 75


def test_a_fault_for_every_request_reaches_unmatched_requests_with_no_stubs_at_all(stuntman, upstream):
    st = stuntman({"f.yaml": "faults:\n  - {type: error, status: 418}\n"}, upstream=upstream.url)
    assert call(st.port, "GET", "/anything")[0] == 418
    assert upstream.requests == 0


# -- a fault's `route:` must name a stub, wherever the fault comes from ------------------------

USERS_STUB = "- {name: users, request: {path: /users}, response: {body: ok}}\n"


def test_the_admin_api_refuses_a_fault_whose_route_names_no_stub(stuntman):
    st = stuntman({"s.yaml": USERS_STUB}, admin_port=0)
    status, answer = api(st, "POST", "/__admin/faults", {"type": "error", "status": 503, "route": "nosuchstub"})
    assert status == 400 and answer["errors"] == [{"field": "route", "message": "no stub is named 'nosuchstub'"}]
    assert api(st, "GET", "/__admin/faults")[1]["faults"] == []  # nothing created
    # a route naming an existing stub still works, and PUT/PATCH may not point it at nothing
    status, created = api(st, "POST", "/__admin/faults", {"type": "error", "status": 503, "route": "users"})
    assert status == 201 and call(st.port, "GET", "/users")[0] == 503
    status, answer = api(st, "PUT", f"/__admin/faults/{created['id']}", {"type": "error", "route": "typo"})
    assert status == 400 and answer["errors"][0]["field"] == "route"
    status, answer = api(st, "PATCH", f"/__admin/faults/{created['id']}", {"route": "typo"})
    assert status == 400 and answer["errors"][0]["field"] == "route"
    assert call(st.port, "GET", "/users")[0] == 503  # the fault in place keeps working
    assert api(st, "GET", "/__admin/health")[1]["orphanFaults"] == []


def test_stuntman_run_refuses_a_fault_flag_whose_route_names_no_stub(cli_server, tmp_path):
    from conftest import write_stubs

    stubs = write_stubs(tmp_path / "s", {"s.yaml": USERS_STUB})
    result = run_cli("run", "--stubs", str(stubs), "--port", "0", "--admin-port", "0",
                     "--fault", "route=typo,type=error")
    assert result.returncode == 2, result.stderr
    assert "--fault #1: route: no stub is named 'typo'" in result.stderr.splitlines()
    _, port = cli_server("--stubs", str(stubs), "--fault", "route=users,type=error,status=502")
    assert call(port, "GET", "/users")[0] == 502


def test_a_fault_whose_stub_goes_away_is_reported_by_health_and_waits_for_it(stuntman):
    st = stuntman({"s.yaml": USERS_STUB}, admin_port=0)
    status, fault = api(st, "POST", "/__admin/faults", {"type": "error", "status": 503, "route": "users"})
    assert status == 201 and api(st, "GET", "/__admin/health")[1]["status"] == "ok"
    [stub] = api(st, "GET", "/__admin/mappings")[1]["mappings"]
    assert api(st, "DELETE", f"/__admin/mappings/{stub['id']}")[0] == 200
    health = api(st, "GET", "/__admin/health")[1]
    assert health["status"] == "degraded" and health["configErrors"] == []
    assert health["orphanFaults"] == [{"id": fault["id"], "route": "users", "source": "admin-api"}]
    assert [f["id"] for f in api(st, "GET", "/__admin/faults")[1]["faults"]] == [fault["id"]]  # not dropped
    status, patched = api(st, "PATCH", f"/__admin/faults/{fault['id']}", {"status": 502})  # still editable
    assert status == 200 and patched["status"] == 502
    # the stub comes back: the fault fires again and health is clear
    assert api(st, "POST", "/__admin/mappings/reset")[0] == 200
    assert call(st.port, "GET", "/users")[0] == 502
    assert api(st, "GET", "/__admin/health")[1]["orphanFaults"] == []
    # a reload whose files no longer define the name orphans it the same way
    (st.stubs / "s.yaml").write_text(USERS_STUB.replace("name: users", "name: people"))
    assert api(st, "POST", "/__admin/mappings/reload")[0] == 200
    health = api(st, "GET", "/__admin/health")[1]
    assert health["status"] == "degraded" and [o["route"] for o in health["orphanFaults"]] == ["users"]
    assert call(st.port, "GET", "/users")[0] == 200
