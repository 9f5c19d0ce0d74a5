"""stuntman diff: a recording against a live upstream that changed since — fields added, removed
and retyped are reported, ids and timestamps are not, the exit status says drift."""
from __future__ import annotations

import json

from aiohttp import web

from conftest import call, run_cli, serving
from stuntman.record.drift import compare_json

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
    down = run_cli("diff", "shop", "--upstream", upstream, "--recordings", str(tmp_path))
    assert down.returncode == 1 and "unreachable" in down.stdout


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
