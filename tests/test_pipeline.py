"""The pipeline below any protocol: Exchanges in, Responses out through a fake Downstream.

No sockets: a real Server is built (stubs loaded from files, as in production) but never started,
and each test drives `server.pipeline` the way a protocol does (begin, request_body,
request_complete, client_gone), then reads what the Downstream was asked to do. What the wire
looks like is the HTTP/1 connection's business, tested end to end elsewhere.
"""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from conftest import raw_exchange, write_stubs
from stuntman.exchange import Exchange
from stuntman.faults.enact import with_headers
from stuntman.response import Response
from stuntman.server import Server
from stuntman.settings import Settings


class FakeDownstream:
    """A Downstream that writes nothing anywhere: it keeps what it was asked, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.loop = loop or asyncio.new_event_loop()
        self.closed = False
        self.events: list[tuple] = []
        self.paused: set[str] = set()

    def send(self, ex: Exchange, response: Response) -> None:
        self.events.append(("send", response))

    def send_head(self, ex: Exchange, response: Response) -> None:
        self.events.append(("head", response))

    def send_body(self, data: bytes) -> None:
        self.events.append(("body", data))

    def send_trailers(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.events.append(("trailers", trailers))

    def flush(self) -> None:
        pass

    def end(self, ex: Exchange) -> None:
        self.events.append(("end",))

    def abort(self, ex: Exchange, reset: bool = False) -> None:
        self.events.append(("abort", reset))
        self.closed = True

    def pause_reading(self, reason: str) -> None:
        self.paused.add(reason)

    def resume_reading(self, reason: str) -> None:
        self.paused.discard(reason)

    # what tests read
    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]

    def response(self) -> Response:
        [response] = [e[1] for e in self.events if e[0] in ("send", "head")]
        return response


STUBS = """
- name: hello
  request: {method: GET, path: /hello}
  response: {body: hi, headers: {X-Kind: static}}
- name: echo
  request: {method: POST, path: /echo, body: {json: {ok: true}}}
  response: {status: 201, body: "got {{body}}"}
- name: turns
  request: {path: /turns}
  responses: [{body: one}, {body: two}]
- name: broken
  request: {path: /broken}
  response: {body: "{{body.x}}"}
- name: down
  request: {path: /down}
  response: {body: never}
  faults: [{type: error, status: 503, body: "down\\n"}]
- name: reset
  request: {path: /reset}
  response: {body: never}
  faults: [{type: reset}]
- name: cut
  request: {path: /cut}
  response: {body: "0123456789"}
  faults: [{type: truncate, after_bytes: 4}]
- name: slow
  request: {path: /slow}
  response: {body: late}
  faults: [{type: latency, fixed_ms: 30}]
- name: drip
  request: {path: /drip}
  response: {body: "abcdefgh"}
  faults: [{type: dribble, chunks: 4, duration_ms: 40}]
"""


@pytest.fixture
def server(tmp_path):
    stubs = write_stubs(tmp_path / "stubs", {"s.yaml": STUBS})
    server = Server(replace(Settings(), stubs=stubs, port=0, admin_port=None, watch=False, seed=1))
    server.load()
    return server


def exchange(down: FakeDownstream, method: str, target: str, body: bytes | None = None,
             headers: list[tuple[bytes, bytes]] = ()) -> Exchange:
    """What a protocol builds from a request head; the body, if any, still to come."""
    ex = Exchange()
    ex.down = down
    ex.method = method
    ex.set_target(target.encode())
    ex.raw_headers = list(headers)
    ex.has_body = body is not None
    ex.body = [] if ex.has_body else None
    ex.complete = not ex.has_body
    return ex


def run(server: Server, ex: Exchange, body: bytes | None = None) -> None:
    """The protocol's calls for one request: head, then body, then its end."""
    pipeline = server.pipeline
    pipeline.begin(ex)
    if body is not None:
        pipeline.request_body(ex, body)
        ex.complete = True
        pipeline.request_complete(ex)


def test_a_static_stub_is_one_shared_response_and_the_exchange_is_journaled(server):
    down = FakeDownstream()
    for _ in range(2):
        run(server, exchange(down, "GET", "/hello"))
    first, second = (e[1] for e in down.events if e[0] == "send")
    assert first is second  # built once at load: each protocol renders it once into its cache
    assert first.status == 200 and first.body == b"hi" and (b"X-Kind", b"static") in first.headers
    assert first.dated and first.cache is not None
    assert down.kinds() == ["send", "end", "send", "end"]
    [(_, last)] = server.journal.newest_first()[:1]
    assert last.action == "stub" and last.status == 200 and last.route.name == "hello"


def test_matching_on_the_body_waits_for_it_and_templates_read_it(server):
    down = FakeDownstream()
    ex = exchange(down, "POST", "/echo", body=b'{"ok": true}')
    server.pipeline.begin(ex)
    assert down.events == [] and ex.phase == "route"  # nothing decided before the body is in
    server.pipeline.request_body(ex, b'{"ok": true}')
    ex.complete = True
    server.pipeline.request_complete(ex)
    response = down.response()
    assert response.status == 201 and response.body == b'got {"ok": true}' and response.cache is None


def test_a_sequence_answers_in_turn_then_repeats_the_last(server):
    down = FakeDownstream()
    for _ in range(3):
        run(server, exchange(down, "GET", "/turns"))
    assert [e[1].body for e in down.events if e[0] == "send"] == [b"one", b"two", b"two"]


def test_nothing_matched_and_no_upstream_is_a_404_naming_the_nearest_stub(server):
    down = FakeDownstream()
    run(server, exchange(down, "GET", "/helo", headers=[(b"Accept", b"application/json")]))
    response = down.response()
    assert response.status == 404 and (b"X-Stuntman-Match", b"none") in response.headers
    assert b'"name": "hello"' in response.body and b"path: expected /hello, got /helo" in response.body
    assert server.journal.newest_first()[0][1].action == "none"


def test_a_template_that_fails_is_a_500_naming_the_stub_and_the_connection_closes(server):
    down = FakeDownstream()
    ex = exchange(down, "GET", "/broken")
    route = next(r for r in server.table.routes if r.name == "broken")

    class Exploding:
        action, streams, delegates, needs_body = "stub", False, False, False

        def resolve(self, ex, state):
            return self

        def respond(self, ex, state):
            raise RuntimeError("boom")

    route.action = Exploding()
    run(server, ex)
    response = down.response()
    assert response.status == 500 and b"stub broken failed to render" in response.body and b"boom" in response.body
    assert ex.keep_alive is False


def test_an_error_fault_answers_for_the_stub_and_says_so(server):
    down = FakeDownstream()
    run(server, exchange(down, "GET", "/down"))
    response = down.response()
    assert response.status == 503 and response.body == b"down\n"
    assert (b"x-stuntman-fault", b"error") in response.headers
    ex = server.journal.newest_first()[0][1]
    assert ex.action == "fault" and [f["type"] for f in ex.plan.describe()] == ["error"]


def test_a_reset_fault_sends_nothing_and_cuts_with_a_reset(server):
    down = FakeDownstream()
    run(server, exchange(down, "GET", "/reset"))
    assert down.events == [("abort", True)]
    assert server.journal.newest_first()[0][1].route.name == "reset"  # journaled all the same


def test_truncate_declares_the_whole_length_sends_part_then_closes(server):
    down = FakeDownstream()
    run(server, exchange(down, "GET", "/cut"))
    assert down.kinds() == ["send", "abort"] and down.events[1] == ("abort", False)
    response = down.response()
    assert response.length == 10 and response.body == b"0123"


def test_fault_fields_never_touch_the_shared_static_response(server):
    shared = next(r for r in server.table.routes if r.name == "hello").action.response.response
    before = list(shared.headers)
    shown = with_headers(shared, [(b"x-stuntman-fault", b"latency")])
    assert shared.headers == before and shown.headers == [*before, (b"x-stuntman-fault", b"latency")]
    assert shown.cache is None  # a copy is rendered afresh, not from the shared cache


async def test_a_latency_fault_holds_the_answer_until_its_timer(server):
    down = FakeDownstream(asyncio.get_running_loop())
    ex = exchange(down, "GET", "/slow")
    run(server, ex)
    assert down.events == [] and ex.pending is not None  # decided, waiting on the loop's timer
    for _ in range(100):
        await asyncio.sleep(0.01)
        if down.events:
            break
    assert down.kinds() == ["send", "end"] and down.response().body == b"late"
    assert (b"x-stuntman-fault", b"latency") in down.response().headers


async def test_a_client_that_leaves_during_a_delay_is_journaled_and_nothing_is_sent(server):
    down = FakeDownstream(asyncio.get_running_loop())
    ex = exchange(down, "GET", "/slow")
    run(server, ex)
    down.closed = True
    server.pipeline.client_gone(ex)
    await asyncio.sleep(0.06)
    assert down.events == [] and ex.pending is None
    assert server.journal.newest_first()[0][1] is ex


async def test_dribble_sends_the_head_then_the_body_in_pieces(server):
    down = FakeDownstream(asyncio.get_running_loop())
    run(server, exchange(down, "GET", "/drip"))
    assert down.kinds() == ["head"]  # the head goes at once, the body on the pacer's timer
    for _ in range(200):
        await asyncio.sleep(0.01)
        if down.events[-1][0] == "end":
            break
    assert down.kinds() == ["head", "body", "body", "body", "body", "end"]
    assert b"".join(e[1] for e in down.events if e[0] == "body") == b"abcdefgh"
    assert down.response().length == 8


def test_a_body_over_the_limit_on_a_route_that_needs_it_is_413(server):
    server.pipeline.settings = replace(server.settings, max_body_bytes=4)
    down = FakeDownstream()
    ex = exchange(down, "POST", "/echo", body=b"x" * 10)
    run(server, ex, b"x" * 10)
    response = down.response()
    assert response.status == 413 and ex.keep_alive is False


class Streaming:
    """A whole-response source whose body comes later, with trailers (as a gRPC stub's will)."""

    action, streams, delegates, needs_body = "stub", False, False, False

    def __init__(self, fail: bool = False):
        self.fail = fail

    def resolve(self, ex, state):
        return self

    def respond(self, ex, state):
        async def parts():
            for part in (b"one ", b"two"):
                await asyncio.sleep(0)
                yield part
            if self.fail:
                raise RuntimeError("the source broke")
        return Response(200, [(b"content-type", b"text/plain")], None, length=None, stream=parts(),
                        trailers=[(b"x-checksum", b"abc")])


@pytest.mark.parametrize("fail", [False, True])
async def test_a_streamed_body_is_pumped_through_the_downstream_with_its_trailers(server, fail):
    down = FakeDownstream(asyncio.get_running_loop())
    next(r for r in server.table.routes if r.name == "hello").action = Streaming(fail)
    ex = exchange(down, "GET", "/hello")
    run(server, ex)
    assert down.kinds() == ["head"] and down.response().length is None
    for _ in range(100):
        await asyncio.sleep(0.01)
        if down.events[-1][0] in ("end", "abort"):
            break
    if fail:  # what is out stays out, then the cut: the client sees a truncated body
        assert down.kinds() == ["head", "body", "body", "abort"]
    else:
        assert down.kinds() == ["head", "body", "body", "trailers", "end"]
        assert down.events[3] == ("trailers", [(b"x-checksum", b"abc")])
    assert server.journal.newest_first()[0][1] is ex


def test_the_http1_edge_frames_a_streamed_body_in_chunks_and_its_trailers_in_the_last(stuntman):
    """The same source over a real socket: HTTP/1.1 has a place for trailers (the last chunk),
    HTTP/1.0 has none (the body ends with the connection)."""
    st = stuntman({"s.yaml": STUBS})
    next(r for r in st.server.table.routes if r.name == "hello").action = Streaming()
    data = raw_exchange(st.port, b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower() and b"content-length" not in head.lower()
    assert body == b"4\r\none \r\n3\r\ntwo\r\n0\r\nx-checksum: abc\r\n\r\n"
    data = raw_exchange(st.port, b"GET /hello HTTP/1.0\r\nHost: t\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower() and body == b"one two"
