"""stuntman diff: a recording against a live upstream that changed since — fields added, removed
and retyped are reported, ids and timestamps are not, the exit status says drift."""
from __future__ import annotations

import json
import socket
import threading

from aiohttp import web

from conftest import call, run_cli, serving
from stuntman.record.drift import compare_json, redacted_places

STATE = {"version": 1}


async def product(request):
    if STATE["version"] == 1:
        return web.json_response({"id": "a1", "name": "Lamp", "price": 10, "tags": ["home"],
                                  "createdAt": "2026-11-20T10:00:00Z"})
    return web.json_response({"id": "b2", "name": "Lamp", "price": "10.00", "currency": "EUR",
                              "createdAt": "2026-11-26T09:30:00Z"})


async def stable(request):
    return web.json_response({"ok": True, "requestId": STATE["version"]})


async def gone(request):
    return web.Response(status=200 if STATE["version"] == 1 else 410, text="gone")


def test_diff_reports_added_removed_and_retyped_fields_and_ignores_ids_and_times(stuntman, tmp_path):
    routes = (("GET", "/products/1", product), ("GET", "/stable", stable), ("GET", "/gone", gone))
    with serving(*routes) as upstream:
        try:
            rec = stuntman({}, upstream=upstream, recordings=tmp_path, record_to="shop")
            for path in ("/products/1", "/stable", "/gone"):
                assert call(rec.port, "GET", path)[0] == 200
            args = ("diff", "shop", "--upstream", upstream, "--recordings", str(tmp_path))
            same = run_cli(*args)
            assert same.returncode == 0 and "no drift: 3 exchange(s)" in same.stdout
            STATE["version"] = 2
            drift = run_cli(*args)
            assert drift.returncode == 1
            report = json.loads(run_cli(*args, "--json").stdout)
            by_url = {d["url"]: {(c["kind"], c["path"]) for c in d["changes"]} for d in report["drifted"]}
            assert by_url == {
                "/products/1": {("added", "$.currency"), ("removed", "$.tags"), ("type-changed", "$.price")},
                "/gone": {("status", "status")},
            }  # /stable: only its requestId moved, and ids are not drift
            assert "added          $.currency" in drift.stdout
            assert "type-changed   $.price \"number\" → \"string\"" in drift.stdout
            ignored = json.loads(run_cli(*args, "--json", "--ignore", "$.price", "--ignore", "$.tags",
                                         "--ignore", "$.currency").stdout)
            assert [d["url"] for d in ignored["drifted"]] == ["/gone"]
        finally:
            STATE["version"] = 1


def test_compare_json_values_and_lists():
    assert compare_json({"a": [1, 2], "b": {"c": "x"}}, {"a": [1, 3, 4], "b": {"c": "y"}}) == [
        {"kind": "length-changed", "path": "$.a", "recorded": 2, "live": 3},
        {"kind": "value-changed", "path": "$.a[1]", "recorded": 2, "live": 3},
        {"kind": "value-changed", "path": "$.b.c", "recorded": "x", "live": "y"},
    ]
    # UUIDs and ISO times are volatile values wherever they are; ids keep their type
    assert compare_json({"ref": "6f1c2a9e-0000-4000-8000-000000000001", "when": "2026-01-01"},
                        {"ref": "0e2c8a11-1111-4111-8111-111111111111", "when": "2026-11-26"}) == []
    assert compare_json({"userId": 1}, {"userId": "1"}) == [
        {"kind": "type-changed", "path": "$.userId", "recorded": "number", "live": "string"}]


def _recorded(stuntman, tmp_path, upstream_url, calls):
    """A recording 'shop' of `calls` ((method, path, body, headers)), made through stuntman."""
    rec = stuntman({}, upstream=upstream_url, recordings=tmp_path, record_to="shop")
    for method, path, body, headers in calls:
        assert call(rec.port, method, path, body=body, headers=headers)[0] == 200
    return ("diff", "shop", "--recordings", str(tmp_path))


def test_an_unreachable_upstream_exits_2_in_one_line_naming_it_and_the_cause(stuntman, tmp_path):
    with serving(("GET", "/stable", stable)) as upstream:
        args = _recorded(stuntman, tmp_path, upstream, [("GET", "/stable", None, {})] * 2)
    down = run_cli(*args, "--upstream", upstream)  # the upstream is gone: its port refuses
    assert (down.returncode, down.stdout) == (2, "")
    assert down.stderr.splitlines() == [f"stuntman: error: cannot reach {upstream}: connection refused"]
    bad = run_cli(*args, "--upstream", "localhost:8080")
    assert bad.returncode == 2 and bad.stderr.splitlines() == [
        "stuntman: error: --upstream 'localhost:8080': expected an http:// or https:// URL"]


def test_an_upstream_that_goes_away_mid_run_exits_2_in_one_line(stuntman, tmp_path):
    """One connection answered, then the listener closes: the next exchange cannot connect."""
    with serving(("GET", "/stable", stable)) as upstream:
        args = _recorded(stuntman, tmp_path, upstream, [("GET", "/stable", None, {})] * 3)
    host, port = "127.0.0.1", int(upstream.rsplit(":", 1)[1])
    listener = socket.create_server((host, port))
    recorded = json.loads((tmp_path / "shop" / "exchanges").glob("000001-*.json").__next__().read_text())
    body = json.dumps(recorded["response"]["body"]["json"]).encode()

    def answer_once():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        listener.close()

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    mid = run_cli(*args, "--upstream", upstream)
    thread.join(5)
    assert (mid.returncode, mid.stdout) == (2, "")
    assert mid.stderr.splitlines() == [f"stuntman: error: cannot reach {upstream}: connection refused "
                                       "(at exchange #2 of 3, after 1 compared; no report)"]


def test_exchanges_carrying_redacted_values_are_skipped_unless_supplied_or_asked(stuntman, tmp_path):
    """Recorded requests keep [REDACTED] for secrets: diff does not send that placeholder as if it
    were the value; it skips those exchanges and says which values, until --header supplies them
    or --send-redacted sends them as recorded."""
    seen: list[tuple[str, str | None, bytes]] = []

    async def echo(request):
        seen.append((request.path_qs, request.headers.get("Authorization"), await request.read()))
        return web.json_response({"ok": True})

    routes = [(m, p, echo) for m, p in (("GET", "/open"), ("GET", "/me"), ("GET", "/search"), ("POST", "/login"))]
    with serving(*routes) as upstream:
        args = _recorded(stuntman, tmp_path, upstream, [
            ("GET", "/open", None, {}),
            ("GET", "/me", None, {"Authorization": "Bearer s3cret-token"}),
            ("GET", "/search?q=lamp&token=s3cret-query", None, {"Authorization": "Bearer s3cret-token"}),
            ("POST", "/login", b'{"user": "u", "password": "s3cret-pw"}', {"Content-Type": "application/json"}),
        ])
        args += ("--upstream", upstream)
        seen.clear()
        default = run_cli(*args)
        assert default.returncode == 0, default.stderr
        assert [path for path, _, _ in seen] == ["/open"]  # no placeholder went upstream
        assert ("skipped 3 exchange(s) carrying redacted values (authorization, ?token, $.password): "
                "pass --header 'Name: value' to supply a header, or --send-redacted to send them as recorded"
                in default.stdout), default.stdout
        assert "  #2 GET /me: authorization" in default.stdout
        report = json.loads(run_cli(*args, "--json").stdout)
        assert report["exchanges"] == 4 and report["compared"] == 1 and report["drifted"] == []
        assert report["skipped"] == [
            {"seq": 2, "method": "GET", "url": "/me", "redacted": ["authorization"]},
            {"seq": 3, "method": "GET", "url": "/search?q=lamp&token=[REDACTED]",
             "redacted": ["authorization", "?token"]},
            {"seq": 4, "method": "POST", "url": "/login", "redacted": ["$.password"]},
        ]
        seen.clear()
        supplied = json.loads(run_cli(*args, "--json", "--header", "authorization: Bearer real").stdout)
        assert [s["seq"] for s in supplied["skipped"]] == [3, 4] and supplied["compared"] == 2
        assert seen == [("/open", "Bearer real", b""), ("/me", "Bearer real", b"")]  # with every request
        seen.clear()
        sent = json.loads(run_cli(*args, "--json", "--send-redacted").stdout)
        assert sent["skipped"] == [] and sent["compared"] == 4 and sent["drifted"] == []
        assert [path for path, _, _ in seen] == ["/open", "/me", "/search?q=lamp&token=%5BREDACTED%5D", "/login"]
        assert json.loads(seen[3][2]) == {"user": "u", "password": "[REDACTED]"}
        assert seen[1][1] is None  # a header whose whole value was redacted is left out


def test_redacted_places_name_headers_query_parameters_and_json_fields():
    body = {"json": {"user": "u", "card": {"number": "[REDACTED]"}, "tags": ["a", "[REDACTED]"]}}
    assert redacted_places([("Cookie", "[REDACTED]"), ("X-Echo", "Bearer [REDACTED]"), ("Accept", "*/*")],
                           "/p?a=1&api_key=[REDACTED]", body, b"") == [
        "cookie", "x-echo", "?api_key", "$.card.number", "$.tags[1]"]
    assert redacted_places([], "/p", {"text": "x=[REDACTED]"}, b"x=[REDACTED]") == ["body"]
    assert redacted_places([("Accept", "*/*")], "/p?q=1", {"json": {"a": 1}}, b'{"a":1}') == []
