"""The request journal (/__admin/requests, find, count, unmatched) and the near-miss API."""
from __future__ import annotations

import json

from conftest import call, free_port
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
    assert order["request"]["body"] == '{"item": 7}' and ["Content-Type", "application/json"] in order["request"]["headers"]
    assert user["action"] == "stub" and user["matched"]["source"] == "s.yaml:2"
    assert user["timing"]["totalMs"] >= 0 and user["loggedDate"].endswith("+00:00")
    assert api(st, "GET", "/__admin/requests?limit=1")[1]["meta"]["total"] == 1


def test_find_count_and_unmatched(stuntman):
    st = stuntman(STUBS, admin_port=0)
    for i in range(3):
        call(st.port, "POST", "/api/orders", body=json.dumps({"n": i}).encode())
    call(st.port, "GET", "/api/users/1")  # no Accept: json → unmatched, 404
    call(st.port, "GET", "/nowhere")
    assert api(st, "POST", "/__admin/requests/count", {"method": "POST", "path": "/api/orders"}) == (200, {"count": 3})
    status, found = api(st, "POST", "/__admin/requests/find",
                        {"path": "/api/orders", "body": {"jsonPath": {"expression": "$.n", "matches": {"regex": "^[12]$"}}}})
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
    for i in range(12):
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
