"""The request journal (/__admin/requests, find, count, unmatched) and the near-miss API."""
from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace

from conftest import call, free_port, raw_exchange, wait_port, write_stubs
from stuntman.client import Stuntman
from stuntman.exchange import Exchange
from stuntman.http1.wire import header_fields
from stuntman.journal import entry_json
from test_admin import api

STUBS = {"s.yaml": """
    - name: get-user
      request: {method: GET, path: "/api/users/{id}", headers: {Accept: {contains: json}}}
      response: {json: {ok: true}}
    - name: create-order
      request: {method: POST, path: /api/orders}
      response: {status: 201}
"""}


def test_every_answered_request_is_journaled_newest_first(stuntman, upstream):
    st = stuntman(STUBS, admin_port=0, upstream=upstream.url)
    call(st.port, "GET", "/api/users/1", headers={"Accept": "application/json"})
    call(st.port, "POST", "/api/orders", body=b'{"item": 7}', headers={"Content-Type": "application/json"})
    call(st.port, "PUT", "/passes/through?x=1", body=b"up")
    status, journal = api(st, "GET", "/__admin/requests")
    assert status == 200 and journal["meta"]["total"] == 3
    newest, order, user = journal["requests"]
    assert newest["request"]["method"] == "PUT" and newest["request"]["url"] == "/passes/through?x=1"
    assert newest["action"] == "proxy" and newest["matched"] is None and newest["response"]["status"] == 200
    assert newest["request"]["body"] == "up"  # streamed upstream, and kept for the journal
    assert order["matched"]["name"] == "create-order" and order["response"]["status"] == 201
    assert order["request"]["body"] == '{"item": 7}'
    assert ["Content-Type", "application/json"] in order["request"]["headers"]
    assert user["action"] == "stub" and user["matched"]["source"] == "s.yaml:2"
    assert user["timing"]["totalMs"] >= 0 and user["loggedDate"].endswith("+00:00")
    assert api(st, "GET", "/__admin/requests?limit=1")[1]["meta"]["total"] == 1


def test_journaled_headers_are_exact_however_the_requests_were_read(stuntman):
    """The journal lets go of parsed fields and parses them again from the bytes as read: check
    it with pipelined requests in one read, requests split over reads, and a read too large to
    keep."""
    st = stuntman(STUBS, admin_port=0)

    def order(n: int, extra: bytes = b"") -> bytes:
        body = b'{"n": %d}' % n
        return (b"POST /api/orders HTTP/1.1\r\nHost: t\r\nX-N: %d\r\nX-Dup: a\r\nX-Dup: b\r\n%s"
                b"Content-Length: %d\r\n\r\n%s" % (n, extra, len(body), body))

    raw_exchange(st.port, order(0) + order(1) + order(2) + b"GET /api/users/1 HTTP/1.1\r\nHost: t\r\nAccept: json\r\n"
                 b"Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", st.port)) as sock:  # one request in three reads
        for part in (order(3)[:10], order(3)[10:40], order(3)[40:]):
            sock.sendall(part)
            time.sleep(0.05)
        assert sock.recv(4096).startswith(b"HTTP/1.1 201")
    raw_exchange(st.port,
                 order(4, b"X-Big: " + b"b" * 20000 + b"\r\n")
                 + b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", st.port)) as sock:  # answered (404) before its body arrives
        sock.sendall(b"POST /unmatched HTTP/1.1\r\nHost: t\r\nX-Late: body\r\nContent-Length: 4\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 404")
        sock.sendall(b"late")
        time.sleep(0.1)
    requests = api(st, "GET", "/__admin/requests")[1]["requests"]
    orders = [r["request"] for r in requests if r["request"]["url"] == "/api/orders"][::-1]
    assert len(orders) == 5
    for n, request in enumerate(orders):
        names = [name for name, _ in request["headers"]]
        assert names[:4] == ["Host", "X-N", "X-Dup", "X-Dup"] and ["X-N", str(n)] in request["headers"]
        assert json.loads(request["body"]) == {"n": n}
    assert ["X-Big", "b" * 20000] in orders[4]["headers"]
    [late] = [r["request"] for r in requests if r["request"]["url"] == "/unmatched"]
    assert ["X-Late", "body"] in late["headers"]
    [user] = [r["request"] for r in requests if r["request"]["url"] == "/api/users/1"]
    assert user["headers"] == [["Host", "t"], ["Accept", "json"], ["Connection", "close"]]
    assert api(st, "POST", "/__admin/requests/count", {"headers": {"X-N": "2"}}) == (200, {"count": 1})
    assert api(st, "POST", "/__admin/requests/count", {"headers": {"X-Dup": "a, b"}}) == (200, {"count": 5})


def test_an_upgrade_request_never_breaks_the_journal(stuntman):
    """An Upgrade head (curl --http2 against a stub, a WebSocket handshake) is journaled like any
    other: listing, find and a header-matching count keep answering, with its fields parsed again."""
    st = stuntman(STUBS, admin_port=0)
    h2c = (b"GET /api/users/1 HTTP/1.1\r\nHost: t\r\nAccept: json\r\nConnection: Upgrade, HTTP2-Settings\r\n"
           b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
    assert raw_exchange(st.port, h2c).startswith(b"HTTP/1.1 200")
    ws = (b"GET /chat HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert raw_exchange(st.port, ws).startswith(b"HTTP/1.1 404")
    call(st.port, "POST", "/api/orders", body=b"{}")
    for _ in range(2):  # and again: the first listing must not have broken anything
        status, journal = api(st, "GET", "/__admin/requests")
        assert status == 200 and journal["meta"]["total"] == 3
        order, chat, user = journal["requests"]
        assert ["Upgrade", "h2c"] in user["request"]["headers"] and ["Accept", "json"] in user["request"]["headers"]
        assert ["Sec-WebSocket-Version", "13"] in chat["request"]["headers"]
        assert not any(e["request"].get("headersDamaged") for e in journal["requests"])
    status, found = api(st, "POST", "/__admin/requests/find", {"headers": {"Upgrade": "h2c"}})
    assert status == 200 and [r["request"]["url"] for r in found["requests"]] == ["/api/users/1"]
    assert api(st, "POST", "/__admin/requests/count", {"headers": {"Upgrade": {"contains": ""}}}) == (200, {"count": 2})
    client = Stuntman(st.admin_url)
    assert [r["request"]["url"] for r in client.requests()] == ["/api/orders", "/chat", "/api/users/1"]


def test_an_entry_whose_head_cannot_be_parsed_again_is_shown_damaged():
    """The last resort: bytes that no longer give the request's fields make the entry say so,
    not the listing fail."""
    ex = Exchange()
    ex.method, ex.target, ex.complete = "GET", b"/x", True
    ex.raw, ex.raw_index, ex.reparse = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n", 3, header_fields  # no 4th request
    ex.release()
    assert ex.fields() == [] and ex.headers == {}
    entry = entry_json(1, ex)
    assert entry["request"]["headers"] == [] and entry["request"]["headersDamaged"] is True
    ex.raw, ex.raw_index, ex.reparse = b"\x00garbage", 0, header_fields
    ex.raw_headers = None  # type: ignore[assignment]
    assert ex.fields() == [] and entry_json(2, ex)["request"]["headersDamaged"] is True


def test_find_count_and_unmatched(stuntman):
    st = stuntman(STUBS, admin_port=0)
    for i in range(3):
        call(st.port, "POST", "/api/orders", body=json.dumps({"n": i}).encode())
    call(st.port, "GET", "/api/users/1")  # no Accept: json → unmatched, 404
    call(st.port, "GET", "/nowhere")
    assert api(st, "POST", "/__admin/requests/count", {"method": "POST", "path": "/api/orders"}) == (200, {"count": 3})
    status, found = api(st, "POST", "/__admin/requests/find",
                        {"path": "/api/orders",
                         "body": {"jsonPath": {"expression": "$.n", "matches": {"regex": "^[12]$"}}}})
    assert status == 200 and [json.loads(r["request"]["body"])["n"] for r in found["requests"]] == [2, 1]
    status, unmatched = api(st, "GET", "/__admin/requests/unmatched")
    assert [r["request"]["url"] for r in unmatched["requests"]] == ["/nowhere", "/api/users/1"]
    assert all(r["action"] == "none" and r["response"]["status"] == 404 for r in unmatched["requests"])
    status, errors = api(st, "POST", "/__admin/requests/count", {"methd": "GET"})
    assert status == 400 and errors["errors"][0] == {"field": "methd", "message": "unknown field"}
    assert api(st, "DELETE", "/__admin/requests")[0] == 200
    assert api(st, "GET", "/__admin/requests")[1]["meta"]["total"] == 0


def test_the_journal_is_a_bounded_ring_and_bodies_are_cut(stuntman):
    st = stuntman(STUBS, admin_port=0, journal_size=5, journal_body_bytes=10)
    for _ in range(12):
        call(st.port, "POST", "/api/orders", body=b"x" * 100)
    requests = api(st, "GET", "/__admin/requests")[1]["requests"]
    assert len(requests) == 5
    assert requests[0]["id"] - requests[-1]["id"] == 4  # the five newest
    body = requests[0]["request"]
    assert body["body"] == "x" * 10 and body["bodySize"] == 100 and body["bodyTruncated"] is True


def test_upstream_errors_are_journaled_with_their_cause(stuntman):
    st = stuntman({}, admin_port=0, upstream=f"http://127.0.0.1:{free_port()}")
    assert call(st.port, "GET", "/down")[0] == 502
    [entry] = api(st, "GET", "/__admin/requests")[1]["requests"]
    assert entry["action"] == "error" and entry["error"] == "upstream-refused" and entry["response"]["status"] == 502


def test_the_journal_can_be_turned_off(stuntman):
    st = stuntman(STUBS, admin_port=0, journal_size=0)
    call(st.port, "POST", "/api/orders")
    assert api(st, "GET", "/__admin/requests")[1]["meta"]["total"] == 0


def test_near_misses_for_a_described_request(stuntman):
    st = stuntman(STUBS, admin_port=0)
    status, report = api(st, "POST", "/__admin/near-misses",
                         {"method": "GET", "url": "/api/users/9", "headers": {"Accept": "text/html"}})
    assert status == 200 and report["error"] == "no stub matched"
    nearest = report["nearest"][0]
    assert nearest["name"] == "get-user"
    assert nearest["diff"] == ["headers.accept: expected contains 'json', got 'text/html'"]
    assert api(st, "POST", "/__admin/near-misses", ["not", "an", "object"])[0] == 400


def test_a_slow_admin_call_never_stalls_traffic(cli_server, tmp_path):
    """A journal search that takes about a second (a JSONPath filter over 600 JSON bodies of 1,000
    numbers each: linear, but Python) shares the event loop with the data plane: requests sent
    while it runs are all answered before it ends. (A server process of its own: in-process, the
    GIL would starve the test's client.)"""
    admin = free_port()
    _, port = cli_server("--stubs", str(write_stubs(tmp_path, STUBS)), "--admin-port", str(admin))
    wait_port(admin)
    st = SimpleNamespace(admin_url=f"http://127.0.0.1:{admin}")
    numbers = json.dumps(list(range(1000))).encode()  # 4.9 KB: kept whole by the journal
    for _ in range(600):
        call(port, "POST", "/api/orders", body=numbers)
    found = {}
    search = threading.Thread(target=lambda: found.update(result=api(
        st, "POST", "/__admin/requests/count", {"body": {"jsonPath": "$[?@ > 1000000]"}})))
    search.start()
    time.sleep(0.3)  # the search is under way
    assert search.is_alive()
    for _ in range(20):
        assert call(port, "POST", "/api/orders")[0] == 201
    assert search.is_alive(), "the data plane waited for the admin call"
    search.join()
    assert found["result"] == (200, {"count": 0})


def test_near_misses_for_a_request_a_stub_matches_name_that_stub_and_list_no_misses(stuntman):
    """A request that matches is not reported as a miss ("no stub matched", an empty diff): the
    answer names the stub that matches it, and asking moves no scenario on."""
    st = stuntman({**STUBS, "order.yaml": """
        - {name: order-pending, scenario: order, request: {path: /order}, response: {body: pending}}
        - {name: pay, scenario: order, newState: paid, request: {method: POST, path: /order/pay}, response: {}}
        - {name: order-paid, scenario: order, requiredState: paid, request: {path: /order}, response: {body: paid}}
    """}, admin_port=0)
    status, report = api(st, "POST", "/__admin/near-misses",
                         {"method": "GET", "url": "/api/users/9", "headers": {"Accept": "application/json"}})
    assert status == 200 and "error" not in report and report["nearest"] == []
    assert report["matched"]["name"] == "get-user" and report["matched"]["source"] == "s.yaml:2"
    assert report["matched"]["request"]["path"] == "/api/users/{id}" and report["matched"]["id"]
    assert "'get-user'" in report["message"] and report["request"] == {"method": "GET", "url": "/api/users/9"}
    status, report = api(st, "POST", "/__admin/near-misses", {"method": "POST", "url": "/order/pay"})
    assert status == 200 and report["matched"]["name"] == "pay"
    assert call(st.port, "GET", "/order")[2] == b"pending"  # the described request changed no state
    assert api(st, "POST", "/__admin/near-misses", {"method": "GET", "url": "/order"})[1]["matched"]["name"] \
        == "order-pending"
