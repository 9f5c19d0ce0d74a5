"""stuntman stubs from-recording: a recording of a real upstream becomes stub files that load,
answer the recorded requests, and answer ids that were never recorded through a path template."""
from __future__ import annotations

import gzip
import json

import yaml
from aiohttp import web

from conftest import call, run_cli, serving

COUNTER = {"orders": 0}


async def user(request):
    uid = request.match_info["uid"]
    return web.json_response({"id": int(uid), "name": f"user {uid}"}, headers={"X-Request-Id": f"r-{uid}"})


async def order(request):
    COUNTER["orders"] += 1
    return web.json_response({"order": COUNTER["orders"]}, status=201)


async def report(request):
    return web.Response(body=gzip.compress(b"x" * 100_000), headers={"Content-Encoding": "gzip"},
                        content_type="text/csv")


def test_a_recording_becomes_generalized_editable_stubs(stuntman, tmp_path):
    with serving(("GET", "/api/users/{uid}", user), ("POST", "/api/orders", order),
                 ("GET", "/api/report", report)) as url:
        rec = stuntman({}, upstream=url, recordings=tmp_path / "rec", record_to="shop")
        for path in ("/api/users/42", "/api/users/7", "/api/users/42"):
            call(rec.port, "GET", path)
        for _ in range(2):
            call(rec.port, "POST", "/api/orders", body=b'{"item": 1}', headers={"Content-Type": "application/json"})
        original_report = call(rec.port, "GET", "/api/report")[2]
    stubs_dir = tmp_path / "stubs"
    result = run_cli("stubs", "from-recording", "shop", "--recordings", str(tmp_path / "rec"),
                     "--out", str(stubs_dir / "shop"), "--stubs", str(stubs_dir))
    assert result.returncode == 0, result.stderr
    written = stubs_dir / "shop" / "shop.yaml"
    assert f"wrote 5 stub(s) to {written}" in result.stdout  # 2 users, orders, report, + the template
    text = written.read_text()
    assert "X-Request-Id" not in text and "Date" not in text  # volatile headers dropped
    stubs = yaml.safe_load(text)
    [template] = [s for s in stubs if "{" in s["request"]["path"]]
    assert template["request"]["path"] == "/api/users/{userId}"
    assert template["response"]["json"] == {"id": "{{path.userId}}", "name": "user 42"}  # the id echoed
    [orders] = [s for s in stubs if s["request"]["path"] == "/api/orders"]
    assert [r["json"] for r in orders["responses"]] == [{"order": 1}, {"order": 2}]  # merged: a sequence
    from stuntman.testing import InProcess

    served = InProcess.start(stubs_dir, admin_port=None)
    try:
        assert json.loads(call(served.port, "GET", "/api/users/42")[2]) == {"id": 42, "name": "user 42"}
        assert json.loads(call(served.port, "GET", "/api/users/99")[2])["id"] == "99"  # never recorded
        assert [json.loads(call(served.port, "POST", "/api/orders", body=b'{"item": 1}')[2])["order"]
                for _ in range(3)] == [1, 2, 2]
        status, headers, body = call(served.port, "GET", "/api/report")
        assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == gzip.decompress(original_report)
    finally:
        served.stop()
