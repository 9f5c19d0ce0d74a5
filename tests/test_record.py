"""Record and replay, end to end: record through the reverse proxy from a real aiohttp upstream,
stop it, replay; redaction proved on disk; crash safety under kill -9; the replay modes."""
from __future__ import annotations

import gzip
import json
import signal
import socket
import time
from pathlib import Path

import pytest

from conftest import Upstream, call, free_port, serving, wait_port, write_stubs
from stuntman.record.format import RecordedExchange
from stuntman.record.recorder import read_exchanges

SECRET = "hunter2-very-secret"


def recorded(directory: Path) -> list[dict]:
    """The exchanges of a recording, each checked against the documented format."""
    exchanges = [record for _, record in read_exchanges(directory)]
    for exchange in exchanges:
        RecordedExchange.model_validate(exchange)
    return exchanges


def test_record_then_replay_with_the_upstream_stopped(stuntman, tmp_path):
    up = Upstream()
    rec = stuntman({}, upstream=up.url, recordings=tmp_path / "rec", record_to="shop")
    cases = [
        ("GET", "/items?page=2", None, {}),                              # JSON
        ("POST", "/orders", b'{"item": 7, "qty": 2}', {"Content-Type": "application/json"}),
        ("GET", "/download?size=70000", None, {}),                        # chunked, binary, > 64 KiB: a side file
        ("GET", "/download?size=10000000&length=1", None, {}),            # 10 MB
        ("GET", "/status/404", None, {}),
    ]
    originals = [call(rec.port, method, path, body=body, headers=headers) for method, path, body, headers in cases]
    assert [status for status, _, _ in originals] == [200, 200, 200, 200, 404]
    up.stop()  # from here on, only the recording answers
    files = recorded(tmp_path / "rec" / "shop")
    assert [f["request"]["url"] for f in files] == [path for _, path, _, _ in cases]
    assert files[2]["response"]["body"]["file"].startswith("bodies/") and files[0]["response"]["body"]["jsonStyle"]
    assert files[1]["request"]["body"]["json"] == {"item": 7, "qty": 2}
    replay = stuntman({}, recordings=tmp_path / "rec", replay=("shop",))
    for (method, path, body, headers), (status, _, original) in zip(cases, originals, strict=True):
        # the request body's key order does not matter to a replay
        body = b'{"qty": 2, "item": 7}' if body else None
        got_status, got_headers, got = call(replay.port, method, path, body=body, headers=headers)
        assert (got_status, got) == (status, original), path
    status, headers, _ = call(replay.port, "GET", "/items?page=3")  # never recorded
    assert status == 404 and headers["x-stuntman-match"] == "none"


def test_gzip_is_stored_decoded_and_sent_encoded_again(stuntman, tmp_path):
    from aiohttp import web

    async def zipped(request):
        return web.Response(body=gzip.compress(b'{"zipped": true}'), headers={"Content-Encoding": "gzip"},
                            content_type="application/json")
    with serving(("GET", "/z", zipped)) as url:
        rec = stuntman({}, upstream=url, recordings=tmp_path, record_to="z")
        call(rec.port, "GET", "/z")
    [exchange] = recorded(tmp_path / "z")
    assert exchange["response"]["body"]["json"] == {"zipped": True}  # readable in the file
    assert exchange["response"]["body"]["contentEncoding"] == "gzip"
    replay = stuntman({}, recordings=tmp_path, replay=("z",))
    status, headers, body = call(replay.port, "GET", "/z")
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == b'{"zipped": true}'


def test_secrets_are_redacted_before_they_touch_disk(stuntman, tmp_path, upstream):
    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="r",
                   redact=("X-Internal",), redact_json=("$.card.number",))
    call(rec.port, "POST", f"/login?api_key={SECRET}&page=1",
         body=json.dumps({"user": "ada", "password": SECRET, "card": {"number": SECRET, "brand": "visa"}}).encode(),
         headers={"Authorization": f"Bearer {SECRET}", "Cookie": f"session={SECRET}", "X-Api-Key": SECRET,
                  "X-Internal": SECRET, "Content-Type": "application/json"})
    files = list((tmp_path / "r").rglob("*"))
    assert files and not any(SECRET.encode() in f.read_bytes() for f in files if f.is_file())
    [exchange] = recorded(tmp_path / "r")
    request = exchange["request"]
    assert "Authorization: [REDACTED]" in request["headers"] and "X-Internal: [REDACTED]" in request["headers"]
    assert request["url"] == "/login?api_key=[REDACTED]&page=1"
    assert request["body"]["json"]["card"] == {"number": "[REDACTED]", "brand": "visa"}
    # the upstream echoed the request: its response was redacted too
    assert SECRET not in json.dumps(exchange["response"])
    # a replay matches the redacted request whatever the secret is now
    replay = stuntman({}, recordings=tmp_path, replay=("r",))
    assert call(replay.port, "POST", "/login?api_key=other&page=1", body=json.dumps(
        {"user": "ada", "password": "x", "card": {"number": "y", "brand": "visa"}}).encode())[0] == 200
    # and --no-redact must be explicit
    raw = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="raw", no_redact=True)
    call(raw.port, "GET", "/x", headers={"Authorization": SECRET})
    assert SECRET in json.dumps(recorded(tmp_path / "raw"))


def test_repeated_requests_replay_in_recorded_order_then_repeat_the_last(stuntman, tmp_path):
    from aiohttp import web

    count = {"n": 0}

    async def counter(request):
        count["n"] += 1
        return web.Response(text=str(count["n"]))
    with serving(("GET", "/next", counter)) as url:
        rec = stuntman({}, upstream=url, recordings=tmp_path, record_to="c")
        assert [call(rec.port, "GET", "/next")[2] for _ in range(3)] == [b"1", b"2", b"3"]
    replay = stuntman({}, recordings=tmp_path, replay=("c",))
    assert [call(replay.port, "GET", "/next")[2] for _ in range(5)] == [b"1", b"2", b"3", b"3", b"3"]


def test_replay_modes_strict_spy_and_record_missing(stuntman, tmp_path, upstream):
    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="m")
    call(rec.port, "GET", "/known")
    before = upstream.requests
    strict = stuntman({}, upstream=upstream.url, recordings=tmp_path, replay=("m",), replay_mode="strict")
    assert call(strict.port, "GET", "/known")[0] == 200
    assert call(strict.port, "GET", "/unknown")[0] == 404
    spy = stuntman({}, upstream=upstream.url, recordings=tmp_path, replay=("m",), replay_mode="spy")
    assert call(spy.port, "GET", "/unknown")[0] == 200  # from the upstream
    assert upstream.requests == before + 1 and len(recorded(tmp_path / "m")) == 1  # not recorded
    missing = stuntman({}, upstream=upstream.url, recordings=tmp_path, replay=("m",), replay_mode="record-missing")
    status, _, first = call(missing.port, "GET", "/new")
    assert status == 200 and len(recorded(tmp_path / "m")) == 2 and upstream.requests == before + 2
    assert call(missing.port, "GET", "/new")[2] == first and upstream.requests == before + 2  # now replayed


def test_a_route_can_record_its_own_traffic(stuntman, tmp_path, upstream):
    st = stuntman({"s.yaml": f"""
        - name: payments
          request: {{pathPrefix: /api/payments}}
          proxy: {{upstream: "{upstream.url}", record: payments}}
        - name: other things
          request: {{path: /other}}
          proxy: {{upstream: "{upstream.url}", record: true}}
        - request: {{path: /not-recorded}}
          proxy: {{upstream: "{upstream.url}"}}
    """}, recordings=tmp_path)
    call(st.port, "POST", "/api/payments", body=b'{"amount": 5}')
    call(st.port, "GET", "/other")
    call(st.port, "GET", "/not-recorded")
    assert [e["request"]["url"] for e in recorded(tmp_path / "other-things")] == ["/other"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "stubs0") == ["other-things", "payments"]
    [exchange] = recorded(tmp_path / "payments")
    assert exchange["route"] == "payments" and exchange["request"]["body"]["json"] == {"amount": 5}


def test_recorded_latency_is_replayed_when_asked(stuntman, tmp_path, upstream):
    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="slow")
    call(rec.port, "GET", "/slow?s=0.3")
    replay = stuntman({}, recordings=tmp_path, replay=("slow",), replay_latency="recorded")
    start = time.monotonic()
    assert call(replay.port, "GET", "/slow?s=0.3")[2] == b"finally"
    assert time.monotonic() - start >= 0.3


def test_kill_9_mid_recording_loses_no_answered_exchange(tmp_path, upstream):
    """1,000 exchanges through `stuntman record`, killed with SIGKILL part way: every exchange
    whose response the client received is on disk, complete, and parses."""
    import subprocess

    from conftest import STUNTMAN

    port = free_port()
    proc = subprocess.Popen([*STUNTMAN, "record", "--upstream", upstream.url, "--to", "crash", "--recordings",
                             str(tmp_path), "--port", str(port), "--admin-port", str(free_port())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc=proc)
    received = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for i in range(1000):
            if i == 300:
                proc.send_signal(signal.SIGKILL)  # while requests keep coming
            try:
                sock.sendall(b"GET /item/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
                data = b""
                while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + int(
                        data.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0]):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                received += 1
            except OSError:
                break
    proc.wait(10)
    assert 250 <= received < 1000
    files = recorded(tmp_path / "crash")  # every index line points at a complete, parseable file
    assert len(files) >= received
    assert [f["request"]["url"] for f in files[:received]] == [f"/item/{i}" for i in range(received)]
    on_disk = sorted((tmp_path / "crash" / "exchanges").glob("*.json"))
    for path in on_disk:
        json.loads(path.read_text())


@pytest.mark.parametrize("args, message", [
    (["record", "--to", "x"], "record needs --upstream"),
    (["replay", "nothing-here", "--mode", "spy"], "--mode spy needs --upstream"),
])
def test_cli_errors(args, message, tmp_path):
    from conftest import run_cli

    result = run_cli(*args, "--recordings", str(tmp_path), "--port", str(free_port()))
    assert result.returncode == 2 and message in result.stderr


def test_a_missing_recording_is_a_config_error(tmp_path):
    from conftest import run_cli

    result = run_cli("replay", "nope", "--recordings", str(tmp_path), "--port", str(free_port()),
                     "--admin-port", str(free_port()))
    assert result.returncode == 2 and "nope: no recording at" in result.stderr


def test_the_recording_schema_is_committed_and_current():
    from conftest import ROOT, run_cli

    result = run_cli("schema", "--recording")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((ROOT / "recordings.schema.json").read_text())


def test_recording_at_runtime_through_the_admin_api(stuntman, tmp_path, upstream):
    from test_admin import api

    st = stuntman({"s.yaml": "- {request: {path: /stubbed}, response: {body: stub}}\n"}, admin_port=0,
                  recordings=tmp_path)
    assert api(st, "POST", "/__admin/recordings/start", {"name": "rt"})[0] == 400  # no upstream anywhere
    status, started = api(st, "POST", "/__admin/recordings/start", {"name": "rt", "upstream": upstream.url})
    assert status == 200 and started["recording"] is True and started["name"] == "rt" and started["exchanges"] == 0
    assert api(st, "POST", "/__admin/recordings/start", {"name": "again", "upstream": upstream.url})[0] == 409
    assert call(st.port, "GET", "/stubbed")[2] == b"stub"   # stubs still answer, and are not recorded
    assert call(st.port, "GET", "/live")[0] == 200          # the rest goes upstream, recorded
    stopped = api(st, "POST", "/__admin/recordings/stop")[1]
    assert stopped["recording"] is False and (stopped["name"], stopped["exchanges"]) == ("rt", 1)  # the state after
    assert api(st, "GET", "/__admin/recordings/status")[1] == {"recording": False}
    assert call(st.port, "GET", "/live")[0] == 404          # stopped: nothing passes any more
    assert [e["request"]["url"] for e in recorded(tmp_path / "rt")] == ["/live"]


def test_recording_at_runtime_into_a_recording_that_holds_exchanges_needs_a_mode(stuntman, tmp_path, upstream):
    """As `record --to` needs --append or --overwrite, recordings/start and snapshot into a
    recording that holds exchanges need `mode`: they appended silently before."""
    from test_admin import api

    st = stuntman({}, admin_port=0, recordings=tmp_path, journal_responses=4096)
    start = {"name": "rt", "upstream": upstream.url}

    def record(path: str, **extra) -> tuple[int, dict]:
        status, answer = api(st, "POST", "/__admin/recordings/start", {**start, **extra})
        if status == 200:
            assert call(st.port, "GET", path)[0] == 200
            api(st, "POST", "/__admin/recordings/stop")
        return status, answer

    assert record("/one")[0] == 200  # a new recording: no mode needed
    status, answer = record("/two")
    assert status == 409 and answer["exchanges"] == 1 and '"mode": "append"' in answer["error"], answer
    assert api(st, "POST", "/__admin/recordings/start", {**start, "mode": "sideways"})[0] == 400
    assert record("/two", mode="append")[0] == 200
    assert [e["request"]["url"] for e in recorded(tmp_path / "rt")] == ["/one", "/two"]
    assert record("/three", mode="overwrite")[0] == 200
    [only] = recorded(tmp_path / "rt")
    assert only["request"]["url"] == "/three" and only["seq"] == 1  # numbered afresh
    # snapshot: the same rule (the journal holds the three proxied exchanges)
    assert api(st, "POST", "/__admin/recordings/snapshot", {"name": "rt"})[0] == 409
    status, snap = api(st, "POST", "/__admin/recordings/snapshot", {"name": "rt", "mode": "overwrite"})
    assert status == 200 and snap["exchanges"] == 3
    assert [e["request"]["url"] for e in recorded(tmp_path / "rt")] == ["/one", "/two", "/three"]


def test_on_the_command_line_a_recording_may_be_a_path(stuntman, tmp_path, upstream):
    import subprocess

    from conftest import STUNTMAN

    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path / "somewhere", record_to="p")
    call(rec.port, "GET", "/from-a-path")
    port = free_port()
    proc = subprocess.Popen([*STUNTMAN, "replay", str(tmp_path / "somewhere" / "p"), "--port", str(port),
                             "--admin-port", str(free_port()), "--stubs", str(write_stubs(tmp_path / "none", {}))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        assert call(port, "GET", "/from-a-path")[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_upstream_that_answers_before_reading_the_body_is_recorded_whole(stuntman, tmp_path):
    """aiohttp answers a handler that never reads the body at once: the response can beat the
    request body through stuntman. The recording waits for the whole request."""
    from aiohttp import web

    async def eager(request):
        return web.json_response({"ok": True}, status=201)
    with serving(("POST", "/orders", eager)) as url:
        rec = stuntman({}, upstream=url, recordings=tmp_path, record_to="eager")
        for i in range(20):
            assert call(rec.port, "POST", "/orders", body=b'{"n": %d}' % i)[0] == 201
    assert [e["request"]["body"]["json"] for e in recorded(tmp_path / "eager")] == [{"n": i} for i in range(20)]


def test_replay_matching_can_ignore_query_parameters_and_body_fields(stuntman, tmp_path, upstream):
    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="i")
    call(rec.port, "POST", "/search?q=lamp&ts=111", body=b'{"term": "lamp", "requestId": "r-1"}')
    strict = stuntman({}, recordings=tmp_path, replay=("i",))
    assert call(strict.port, "POST", "/search?q=lamp&ts=222", body=b'{"term": "lamp", "requestId": "r-2"}')[0] == 404
    lenient = stuntman({}, recordings=tmp_path, replay=("i",), replay_ignore_query=("ts",),
                       replay_ignore_body=("$.requestId",))
    assert call(lenient.port, "POST", "/search?q=lamp&ts=222", body=b'{"term": "lamp", "requestId": "r-2"}')[0] == 200
    assert call(lenient.port, "POST", "/search?q=desk&ts=222", body=b'{"term": "lamp"}')[0] == 404  # q still counts
    # faults apply to replayed routes like to any other (one table)
    faulty = stuntman({"f.yaml": "faults:\n  - {type: error, status: 503, request: {path: /search}}\n"},
                      recordings=tmp_path, replay=("i",), replay_ignore_query=("ts",),
                      replay_ignore_body=("$.requestId",))
    assert call(faulty.port, "POST", "/search?q=lamp", body=b'{"term": "lamp"}')[0] == 503


def test_a_stub_can_replay_a_recording_for_its_requests(stuntman, tmp_path, upstream):
    rec = stuntman({}, upstream=upstream.url, recordings=tmp_path, record_to="pay")
    call(rec.port, "GET", "/api/payments/1")
    st = stuntman({"s.yaml": f"""
        - name: payments from the recording
          request: {{pathPrefix: /api/payments}}
          replay: {{recording: pay}}
        - name: payments, spying
          request: {{pathPrefix: /spy/api/payments}}
          replay: {{recording: pay, mode: spy, upstream: "{upstream.url}"}}
        - request: {{path: /other}}
          response: {{body: stub}}
    """}, recordings=tmp_path)
    status, _, body = call(st.port, "GET", "/api/payments/1")
    assert status == 200 and json.loads(body)["path"] == "/api/payments/1"  # recorded: the echo upstream's answer
    status, headers, _ = call(st.port, "GET", "/api/payments/2")
    assert status == 404 and headers["x-stuntman-match"] == "none"  # strict: not recorded
    before = upstream.requests
    assert call(st.port, "GET", "/spy/api/payments/9")[0] == 200 and upstream.requests == before + 1
    assert call(st.port, "GET", "/other")[2] == b"stub"
    from conftest import run_cli

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.yaml").write_text("- {request: {path: /x}, replay: {recording: nope}}\n")
    (bad / "b.yaml").write_text("- {request: {path: /y}, replay: {recording: pay, mode: spy}}\n")
    result = run_cli("validate", str(bad))
    assert result.returncode == 1
    assert "a.yaml:1: [0].replay.recording: nope: no recording at" in result.stdout
    assert "b.yaml:1: [0].replay: spy mode needs an upstream" in result.stdout


def test_a_snapshot_writes_the_journals_proxied_exchanges_into_a_recording(stuntman, tmp_path, upstream):
    from test_admin import api

    st = stuntman({"s.yaml": "- {request: {path: /stubbed}, response: {body: stub}}\n"}, admin_port=0,
                  upstream=upstream.url, recordings=tmp_path, journal_responses=1000)
    assert api(stuntman({}, admin_port=0), "POST", "/__admin/recordings/snapshot", {"name": "x"})[0] == 409
    call(st.port, "GET", "/api/one")
    call(st.port, "POST", "/api/two", body=b'{"n": 2}')
    call(st.port, "GET", "/stubbed")                      # a stub's answer: not an upstream exchange
    call(st.port, "GET", "/download?size=5000")           # over --journal-responses: not kept whole
    status, snap = api(st, "POST", "/__admin/recordings/snapshot", {"name": "snap"})
    assert status == 200 and snap == {"name": "snap", "exchanges": 2, "skipped": 2}
    assert [e["request"]["url"] for e in recorded(tmp_path / "snap")] == ["/api/one", "/api/two"]
    replay = stuntman({}, recordings=tmp_path, replay=("snap",))
    assert json.loads(call(replay.port, "POST", "/api/two", body=b'{"n": 2}')[2])["path"] == "/api/two"
    status, only = api(st, "POST", "/__admin/recordings/snapshot", {"name": "only", "filter": {"method": "POST"}})
    assert only["exchanges"] == 1


@pytest.mark.parametrize("name", ["a\x00b", "new\nline", "x" * 256, "a/../b", ""])
def test_a_recording_name_no_file_could_have_is_refused_before_anything_is_proxied(stuntman, tmp_path, upstream,
                                                                                   name):
    """A name with a NUL was accepted, then every proxied request answered 500 (the OS refused the
    path each time): names follow the rules of file names, and a bad one is a 400 naming the field."""
    from test_admin import api

    st = stuntman({}, admin_port=0, recordings=tmp_path, upstream=upstream.url)
    status, error = api(st, "POST", "/__admin/recordings/start", {"name": name, "upstream": upstream.url})
    assert status == 400 and error["errors"][0]["field"] == "name", error
    assert api(st, "GET", "/__admin/recordings/status")[1] == {"recording": False}
    assert call(st.port, "GET", "/live")[0] == 200  # passes through, unrecorded


def test_json_nested_past_what_python_parses_is_recorded_as_text(stuntman, tmp_path):
    """A body of 20,000 nested arrays is JSON, but json.loads gives up on it (RecursionError),
    which used to fail the recording of the exchange. It is stored as text and replays byte for byte."""
    from aiohttp import web

    deep = b"[" * 20_000 + b"]" * 20_000  # 40 KB: kept in the exchange file, not a side file

    async def nested(request):
        await request.read()
        return web.Response(body=deep, content_type="application/json")
    with serving(("POST", "/deep", nested)) as url:
        rec = stuntman({}, upstream=url, recordings=tmp_path, record_to="deep")
        status, _, body = call(rec.port, "POST", "/deep", body=deep, headers={"Content-Type": "application/json"})
        assert status == 200 and body == deep
    [exchange] = recorded(tmp_path / "deep")
    assert "json" not in exchange["response"]["body"] and "json" not in exchange["request"]["body"]
    replay = stuntman({}, recordings=tmp_path, replay=("deep",))
    assert call(replay.port, "POST", "/deep", body=deep, headers={"Content-Type": "application/json"})[2] == deep
