"""Contracts as monitors, end to end over real sockets: stuntman in front of a real aiohttp
upstream checks the traffic against an OpenAPI spec (`--openapi-monitor`, a stub file's
`contract: {monitor: true}`) and reports what breaks it (the journal entry, the
stuntman_contract_violations_total metric, an optional X-Stuntman-Contract header) without
blocking it, unless enforcing (400 for a request, 502 for a response). Proxied, recorded,
replayed and stubbed answers are all judged; stuntman's own answers (faults, errors) are not."""
from __future__ import annotations

import asyncio
import gzip
import json
import socket
import textwrap
import time

import pytest
from aiohttp import web

from conftest import call, serving
from test_admin import api

SPEC = textwrap.dedent("""\
    openapi: 3.0.3
    info: {title: Shop, version: "1"}
    servers: [{url: /api}]
    paths:
      /items/{itemId}:
        get:
          operationId: getItem
          parameters:
            - {name: itemId, in: path, required: true, schema: {type: integer, minimum: 1}}
            - {name: fields, in: query, schema: {type: string, enum: [short, long]}}
          responses:
            "200":
              description: an item
              headers:
                X-Rate-Limit: {required: true, schema: {type: integer}}
              content:
                application/json: {schema: {$ref: "#/components/schemas/Item"}}
            "404": {description: no such item}
      /items:
        post:
          operationId: addItem
          requestBody:
            required: true
            content:
              application/json: {schema: {$ref: "#/components/schemas/NewItem"}}
          responses:
            "201":
              description: added
              content:
                application/json: {schema: {$ref: "#/components/schemas/Item"}}
    components:
      schemas:
        NewItem:
          type: object
          required: [sku, qty]
          properties:
            sku: {type: string, pattern: "^[A-Z]{3}-[0-9]+$"}
            qty: {type: integer, minimum: 1}
            note: {type: string}
        Item:
          allOf:
            - $ref: "#/components/schemas/NewItem"
            - type: object
              required: [id]
              properties:
                id: {type: integer}
    """)

GOOD = {"id": 7, "sku": "ABC-1", "qty": 2}


async def _item(request: web.Request) -> web.Response:
    """/api/items/{n}: 1 is a good item; 2 lacks `id` and has qty 0; 3 forgets its header; 4 is a
    good item sent gzip-compressed; 5 answers an undeclared 500."""
    n = request.match_info["n"]
    if n == "2":
        return web.json_response({"sku": "ABC-1", "qty": 0}, headers={"X-Rate-Limit": "10"})
    if n == "3":
        return web.json_response(GOOD)
    if n == "4":
        return web.Response(body=gzip.compress(json.dumps(GOOD).encode()), content_type="application/json",
                            headers={"Content-Encoding": "gzip", "X-Rate-Limit": "10"})
    if n == "5":
        return web.Response(status=500, text="boom")
    return web.json_response(GOOD, headers={"X-Rate-Limit": "10"})


SEEN: list[str] = []


async def _add(request: web.Request) -> web.Response:
    body = await request.json()
    SEEN.append(json.dumps(body))
    return web.json_response({"id": 9, **body}, status=201)


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.3)
    return web.Response(text="slow")


@pytest.fixture
def shop_upstream():
    SEEN.clear()
    with serving(("GET", "/api/items/{n}", _item), ("POST", "/api/items", _add), ("GET", "/api/slow", _slow)) as url:
        yield url


@pytest.fixture
def monitored(stuntman, tmp_path, shop_upstream):
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC)

    def start(files: dict | None = None, **settings):
        settings = {"upstream": shop_upstream, "admin_port": 0, "openapi_monitor": (spec,), **settings}
        return stuntman(files, **settings)
    return start


def last_entry(st) -> dict:
    return api(st, "GET", "/__admin/requests?limit=1")[1]["requests"][0]


def violations(st) -> dict[tuple[str, str, str], float]:
    """The stuntman_contract_violations_total samples, by labels."""
    text = call(st.server.admin_port, "GET", "/metrics")[2].decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("stuntman_contract_violations_total{"):
            labels, value = line[len("stuntman_contract_violations_total{"):].rsplit("} ", 1)
            parts = dict(part.split("=", 1) for part in labels.split('",'))
            out[tuple(parts[k].strip('"') for k in ("contract", "operation", "direction"))] = float(value)
    return out


def pointers(found: list[dict]) -> list[tuple[str, str]]:
    return sorted((v["location"], v["pointer"]) for v in found)


# -- reported, not blocked -------------------------------------------------------------------------

def test_a_bad_upstream_response_is_reported_in_the_journal_and_metrics_but_passes_unchanged(monitored):
    st = monitored()
    status, head, body = call(st.port, "GET", "/api/items/2")
    assert (status, json.loads(body)) == (200, {"sku": "ABC-1", "qty": 0})  # as the upstream sent it
    assert "x-stuntman-contract" not in head  # no header unless asked
    entry = last_entry(st)
    assert entry["action"] == "proxy"
    report = entry["contract"]
    assert (report["contract"], report["operation"], report["operationId"]) == ("shop", "GET /items/{itemId}",
                                                                                "getItem")
    assert report["valid"] is False and report["request"] == []
    assert pointers(report["response"]) == [("body", ""), ("body", "/qty")]
    qty = next(v for v in report["response"] if v["pointer"] == "/qty")
    assert qty["schema"].endswith("shop.yaml#/components/schemas/NewItem/properties/qty/minimum")
    assert "id" in next(v for v in report["response"] if v["pointer"] == "")["message"]
    assert violations(st) == {("shop", "GET /items/{itemId}", "response"): 2.0}


def test_a_good_exchange_is_valid_and_counts_nothing(monitored):
    st = monitored()
    assert call(st.port, "GET", "/api/items/1?fields=short")[0] == 200
    report = last_entry(st)["contract"]
    assert report["valid"] is True and report["request"] == [] and report["response"] == []
    assert violations(st) == {}


def test_a_missing_response_header_and_an_undeclared_status_are_violations(monitored):
    st = monitored()
    call(st.port, "GET", "/api/items/3")
    assert pointers(last_entry(st)["contract"]["response"]) == [("header.X-Rate-Limit", "")]
    assert call(st.port, "GET", "/api/items/5")[0] == 500
    [undeclared] = last_entry(st)["contract"]["response"]
    assert undeclared["location"] == "status" and "500 is not a declared response" in undeclared["message"]


def test_a_compressed_response_is_checked_after_decoding(monitored):
    st = monitored()
    status, head, _ = call(st.port, "GET", "/api/items/4")
    assert status == 200 and head["content-encoding"] == "gzip"
    report = last_entry(st)["contract"]
    assert report["valid"] is True and report["notes"] == []


def test_a_bad_request_is_forwarded_and_reported(monitored):
    st = monitored()
    assert call(st.port, "GET", "/api/items/0?fields=all")[0] == 200  # the upstream answered it
    report = last_entry(st)["contract"]
    assert pointers(report["request"]) == [("path.itemId", ""), ("query.fields", "")]
    assert report["response"] == []
    assert violations(st) == {("shop", "GET /items/{itemId}", "request"): 2.0}


def test_a_streamed_request_body_is_checked_whole_not_just_what_the_journal_keeps(monitored):
    st = monitored(journal_body_bytes=8)
    item = {"sku": "ABC-1", "qty": 0, "note": "x" * 5000}
    status, _, body = call(st.port, "POST", "/api/items", body=json.dumps(item),
                           headers={"Content-Type": "application/json"})
    assert status == 201 and [json.dumps(item)] == SEEN
    entry = last_entry(st)
    assert entry["request"]["bodyTruncated"] is True
    assert pointers(entry["contract"]["request"]) == [("body", "/qty")]
    # the upstream echoed the bad qty: the response breaks the contract too
    assert pointers(entry["contract"]["response"]) == [("body", "/qty")]


def test_a_pipelined_body_that_began_before_its_turn_is_checked_whole(monitored):
    """The second request's body starts arriving while the first is answered (so it is held),
    and ends once its own call streams: the check sees both parts, not only the streamed tail."""
    st = monitored(journal_body_bytes=8)
    item = json.dumps({"sku": "ABC-1", "qty": 3, "note": "y" * 300}).encode()
    head = (b"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(item))
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"GET /api/slow HTTP/1.1\r\nHost: x\r\n\r\n" + head + item[:100])
        time.sleep(0.6)  # the first is answered, the second has begun streaming what it has
        sock.sendall(item[100:])
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"}"):
            received += sock.recv(65536)
    assert b"HTTP/1.1 201" in received and [item.decode()] == SEEN
    report = last_entry(st)["contract"]
    assert report["request"] == [] and report["valid"] is True


def test_wrong_content_type_and_missing_body_are_request_violations(monitored):
    st = monitored()
    call(st.port, "POST", "/api/items", body=b"sku=ABC-1", headers={"Content-Type": "text/plain"})
    assert pointers(last_entry(st)["contract"]["request"]) == [("content-type", "")]


def test_paths_outside_the_contract_are_not_judged(monitored):
    st = monitored()
    assert call(st.port, "GET", "/api/other")[0] == 404  # the upstream's 404
    assert "contract" not in last_entry(st)
    assert call(st.port, "DELETE", "/api/items/1")[0] == 405  # an operation the spec does not have
    assert "contract" not in last_entry(st)


# -- the header ------------------------------------------------------------------------------------

def test_the_header_says_ok_or_the_violations(monitored):
    st = monitored(contract_header=True)
    status, head, _ = call(st.port, "GET", "/api/items/1")
    assert (status, head["x-stuntman-contract"]) == (200, "ok")
    status, head, body = call(st.port, "GET", "/api/items/2")
    assert status == 200 and json.loads(body) == {"sku": "ABC-1", "qty": 0}
    said = head["x-stuntman-contract"]
    assert said.startswith("2 violations: ") and "response body/qty: must be >= 1, got 0" in said
    assert 'response body: missing required property "id"' in said
    status, head, _ = call(st.port, "GET", "/api/items/0")
    assert head["x-stuntman-contract"].startswith("1 violation: request path.itemId: ")


# -- enforcing -------------------------------------------------------------------------------------

def test_enforcing_refuses_a_bad_request_before_the_upstream_sees_it(monitored):
    st = monitored(contract_enforce=True)
    status, head, body = call(st.port, "POST", "/api/items", body=json.dumps({"sku": "nope", "qty": 1}),
                              headers={"Content-Type": "application/json"})
    assert status == 400 and head["content-type"] == "application/problem+json"
    assert head["x-stuntman-error"] == "contract-violation"
    problem = json.loads(body)
    assert problem["title"] == "Request does not match the contract"
    assert [(e["location"], e["pointer"]) for e in problem["errors"]] == [("body", "/sku")]
    assert SEEN == []
    entry = last_entry(st)
    assert (entry["action"], entry["error"], entry["response"]["status"]) == ("error", "contract-violation", 400)
    # a good one goes through
    status, _, _ = call(st.port, "POST", "/api/items", body=json.dumps({"sku": "ABC-1", "qty": 1}),
                        headers={"Content-Type": "application/json"})
    assert status == 201 and len(SEEN) == 1


def test_enforcing_replaces_a_bad_response_with_a_502(monitored):
    st = monitored(contract_enforce=True)
    status, head, body = call(st.port, "GET", "/api/items/2")
    assert status == 502 and head["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["title"] == "Response does not match the contract" and problem["status"] == 502
    assert sorted(e["pointer"] for e in problem["errors"]) == ["", "/qty"]
    assert call(st.port, "GET", "/api/items/1")[0] == 200
    assert violations(st) == {("shop", "GET /items/{itemId}", "response"): 2.0}


# -- every source is judged; stuntman's own answers are not ----------------------------------------

def test_a_hand_written_stub_that_drifts_from_the_contract_is_reported(monitored):
    st = monitored({"items.yaml": """
        - request: {method: GET, path: /api/items/42}
          response: {status: 200, headers: {X-Rate-Limit: "1"}, json: {id: "forty-two", sku: ABC-1, qty: 1}}
        """})
    status, _, body = call(st.port, "GET", "/api/items/42")
    assert status == 200 and json.loads(body)["id"] == "forty-two"
    entry = last_entry(st)
    assert entry["action"] == "stub" and pointers(entry["contract"]["response"]) == [("body", "/id")]


def test_a_fault_answer_is_not_judged(monitored):
    st = monitored(fault=("path=/api/items/1,type=error,status=503",))
    assert call(st.port, "GET", "/api/items/1")[0] == 503
    entry = last_entry(st)
    assert entry["action"] == "fault" and entry["contract"]["response"] is None
    assert violations(st) == {}


def test_recording_and_replay_are_monitored_too(monitored, tmp_path):
    st = monitored(recordings=tmp_path / "rec", record_to="shop")
    assert call(st.port, "GET", "/api/items/2")[0] == 200
    assert pointers(last_entry(st)["contract"]["response"]) == [("body", ""), ("body", "/qty")]
    spec = tmp_path / "shop.yaml"
    replay = monitored(upstream=None, recordings=tmp_path / "rec", replay=("shop",), openapi_monitor=(spec,))
    status, _, body = call(replay.port, "GET", "/api/items/2")
    assert status == 200 and json.loads(body) == {"sku": "ABC-1", "qty": 0}
    entry = last_entry(replay)
    assert entry["action"] == "stub" and pointers(entry["contract"]["response"]) == [("body", ""), ("body", "/qty")]


# -- a stub file's entry, the admin API, bad options ---------------------------------------------

def test_a_stub_file_entry_monitors_and_the_admin_api_lists_it(stuntman, shop_upstream):
    st = stuntman({"shop.yaml": SPEC, "contracts.yaml": """
        - contract: {openapi: shop.yaml, monitor: true, enforce: true, violationHeader: true, name: shop-v1}
        """}, upstream=shop_upstream, admin_port=0)
    status, head, _ = call(st.port, "GET", "/api/items/1")
    assert (status, head["x-stuntman-contract"]) == (200, "ok")
    assert call(st.port, "GET", "/api/items/0")[0] == 400
    [contract] = api(st, "GET", "/__admin/contracts")[1]["contracts"]
    assert (contract["name"], contract["mode"], contract["enforce"], contract["violationHeader"]) == \
        ("shop-v1", "monitor", True, True)
    get_item = next(op for op in contract["operations"] if op["operationId"] == "getItem")
    assert sorted(get_item["monitoredAt"]) == ["/api/items/{itemId}", "/items/{itemId}"]
    assert api(st, "GET", "/__admin/mappings")[1]["meta"]["total"] == 0  # it serves nothing


def test_enforce_without_monitor_is_a_clear_error(stuntman):
    from stuntman.config.loader import ConfigErrors

    with pytest.raises(ConfigErrors) as caught:
        stuntman({"shop.yaml": SPEC, "contracts.yaml": """
            - contract: {openapi: shop.yaml, enforce: true}
            """})
    [error] = [e for e in caught.value.errors if e.file == "contracts.yaml"]
    assert error.field == "[0].contract" and "monitor: true" in error.message


def test_a_monitor_created_through_the_admin_api_watches_until_deleted(stuntman, shop_upstream):
    import yaml

    st = stuntman({}, upstream=shop_upstream, admin_port=0)
    call(st.port, "GET", "/api/items/2")
    assert "contract" not in last_entry(st)
    status, created = api(st, "POST", "/__admin/contracts", {"spec": yaml.safe_load(SPEC), "name": "shop-api",
                                                             "monitor": True})
    assert status == 201 and created["mode"] == "monitor" and created["origin"] == "api"
    call(st.port, "GET", "/api/items/2")
    report = last_entry(st)["contract"]
    assert report["contract"] == "shop-api" and pointers(report["response"]) == [("body", ""), ("body", "/qty")]
    assert api(st, "DELETE", f"/__admin/contracts/{created['id']}")[0] == 200
    call(st.port, "GET", "/api/items/2")
    assert "contract" not in last_entry(st)
