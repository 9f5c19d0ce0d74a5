"""stuntman.client against a running server (not mocks): every admin endpoint, through the sync
and the async client alike, and the errors they raise."""
from __future__ import annotations

import asyncio
import re

import pytest

from conftest import call
from stuntman.client import AsyncStuntman, Stuntman, StuntmanError

FILES = {"s.yaml": """
    - name: greeting
      request: {method: GET, path: /hello}
      response: {body: hello}
      scenario: greet
      newState: greeted
"""}


def exercise(admin, run, st) -> None:
    """Every operation once; `run` turns what a call returns into its answer (sync: as is)."""
    assert run(admin.ready()) is True
    health = run(admin.health())
    assert health["status"] == "ok" and health["stubs"] == 1
    assert "/__admin/faults" in run(admin.openapi())["paths"]
    # stubs
    created = run(admin.create_stub({"request": {"path": "/made"}, "response": {"body": "made"}}))
    assert call(st.port, "GET", "/made")[2] == b"made"
    assert {s["id"] for s in run(admin.stubs())} >= {created["id"]}
    assert run(admin.get_stub(created["id"]))["request"]["path"] == "/made"
    run(admin.replace_stub(created["id"], {"request": {"path": "/made"}, "response": {"body": "remade"}}))
    assert call(st.port, "GET", "/made")[2] == b"remade"
    assert run(admin.delete_stub(created["id"])) == {"deleted": created["id"]}
    run(admin.delete_all_stubs())
    assert run(admin.stubs()) == []
    assert run(admin.reset_stubs())["stubs"] == 1
    assert run(admin.reload())["reloaded"] is True
    # faults
    fault = run(admin.create_fault({"type": "error", "status": 418, "route": "greeting"}))
    assert call(st.port, "GET", "/hello")[0] == 418
    assert [f["id"] for f in run(admin.faults())] == [fault["id"]]
    assert run(admin.get_fault(fault["id"]))["status"] == 418
    run(admin.replace_fault(fault["id"], {"type": "error", "status": 409, "route": "greeting"}))
    assert call(st.port, "GET", "/hello")[0] == 409
    assert run(admin.update_fault(fault["id"], enabled=False))["enabled"] is False
    assert call(st.port, "GET", "/hello")[0] == 200
    assert run(admin.delete_fault(fault["id"])) == {"deleted": fault["id"]}
    run(admin.create_fault({"type": "latency", "fixed_ms": 1}))
    run(admin.delete_all_faults())
    assert run(admin.faults()) == [] and run(admin.reset_faults()) == []
    # the journal
    call(st.port, "POST", "/nowhere", body=b"x")
    assert run(admin.requests(limit=1))[0]["request"]["url"] == "/nowhere"
    assert run(admin.count_requests({"method": "GET", "path": "/hello"})) == 3
    assert len(run(admin.find_requests({"path": "/hello"}))) == 3
    assert run(admin.verify("GET", "/hello", count=3)) == 3
    with pytest.raises(AssertionError, match="expected 1 request"):
        run(admin.verify("GET", "/hello", count=1))
    assert [r["request"]["url"] for r in run(admin.unmatched_requests())] == ["/nowhere"]
    nearest = run(admin.near_misses("GET", "/helo"))
    assert nearest[0]["name"] == "greeting" and nearest[0]["diff"]
    run(admin.clear_requests())
    assert run(admin.requests()) == []
    # scenarios
    call(st.port, "GET", "/hello", headers={"X-Stuntman-Session": "s1"})
    assert run(admin.scenarios("s1"))[0]["state"] == "greeted"
    run(admin.set_scenario("greet", "Started", session="s1"))
    assert run(admin.scenarios("s1"))[0]["state"] == "Started"
    run(admin.set_scenario("greet", "greeted"))
    run(admin.reset_scenarios())
    assert run(admin.scenarios())[0]["state"] == "Started"
    assert "stuntman_requests_total" in run(admin.metrics())
    # recordings
    assert run(admin.recording_status()) == {"recording": False}
    started = run(admin.start_recording("cl", upstream=st.upstream_url, filter={"pathPrefix": "/rec"}))
    assert started["recording"] is True and started["exchanges"] == 0
    assert call(st.port, "GET", "/rec/1")[0] == 200 and call(st.port, "GET", "/hello")[2] == b"hello"
    assert run(admin.recording_status())["exchanges"] == 1
    assert run(admin.stop_recording())["exchanges"] == 1 and run(admin.recording_status()) == {"recording": False}
    snap = run(admin.snapshot_recording("snap", filter={"pathPrefix": "/rec"}))
    assert snap == {"name": "snap", "exchanges": 1, "skipped": 0}
    # contracts
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/c/{n}": {"get": {
        "parameters": [{"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {"n": 1}}}}}}}}}
    contract = run(admin.create_contract(spec=spec, name="c", basePath="/v1"))
    assert contract["name"] == "c" and contract["operations"][0]["servedAt"] == ["/v1/c/{n}", "/c/{n}"]
    assert call(st.port, "GET", "/v1/c/3")[2] == b'{"n":1}'
    assert [c["id"] for c in run(admin.contracts())] == [contract["id"]]
    assert run(admin.get_contract(contract["id"]))["mode"] == "stub"
    assert run(admin.delete_contract(contract["id"])) == {"deleted": contract["id"]} and run(admin.contracts()) == []
    # gRPC: without --grpc-port, 404 (tests/test_grpc_reflection.py has them with a listener)
    for grpc_call in (admin.grpc_services, lambda: admin.set_grpc_health("shop.v1.Orders", "NOT_SERVING"),
                      lambda: admin.set_grpc_health("", "SERVING")):
        with pytest.raises(StuntmanError) as no_grpc:
            run(grpc_call())
        assert no_grpc.value.status == 404 and "--grpc-port" in str(no_grpc.value)
    # errors name what is wrong
    with pytest.raises(StuntmanError) as bad:
        run(admin.create_stub({"request": {"methd": "GET"}, "response": {}}))
    assert bad.value.status == 400 and "request.methd: unknown field" in str(bad.value)
    with pytest.raises(StuntmanError) as missing:
        run(admin.get_fault("nope"))
    assert missing.value.status == 404
    assert run(admin.shutdown()) == {"shuttingDown": True}


class Recording:
    """Wraps a client: notes the (method, path) of every call, to compare with the document."""

    def __init__(self, client):
        self.client, self.calls = client, set()
        original = client._call

        def noted(method, path, *args, **kwargs):
            route = re.sub(r"^(/__admin/(mappings|faults|contracts))/(?!reset$|reload$)[^/]+$", r"\1/{id}", path)
            route = re.sub(r"^/__admin/grpc/health/[^/]+$", "/__admin/grpc/health/{service}", route)
            self.calls.add((method, route))
            return original(method, path, *args, **kwargs)
        client._call = noted


def documented(st) -> set:
    doc = Stuntman(st.admin_url).openapi()
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}


def test_the_sync_client_covers_every_admin_endpoint(stuntman, upstream, tmp_path):
    st = stuntman(FILES, admin_port=0, recordings=tmp_path, journal_responses=65536)
    st.upstream_url = upstream.url
    recorded = Recording(Stuntman(st.admin_url))
    exercise(recorded.client, lambda answer: answer, st)
    assert recorded.calls == documented(st) - {("GET", "/__admin/docs")}  # the page is for humans


def test_the_async_client_covers_every_admin_endpoint(stuntman, upstream, tmp_path):
    st = stuntman(FILES, admin_port=0, recordings=tmp_path, journal_responses=65536)
    st.upstream_url = upstream.url

    async def main() -> set:
        async with AsyncStuntman(st.admin_url) as admin:
            recorded = Recording(admin)
            loop = asyncio.get_running_loop()

            def run(coro):  # the checks are sync: run each call to completion on this loop
                return asyncio.run_coroutine_threadsafe(coro, loop).result(10)
            await loop.run_in_executor(None, exercise, admin, run, st)
            return recorded.calls
    assert asyncio.run(main()) == documented(st) - {("GET", "/__admin/docs")}


def test_the_client_sends_the_token(stuntman):
    st = stuntman(FILES, admin_port=0, admin_token="s3cret")
    assert Stuntman(st.admin_url, token="s3cret").health()["status"] == "ok"
    with pytest.raises(StuntmanError) as denied:
        Stuntman(st.admin_url).health()
    assert denied.value.status == 401
    assert Stuntman(st.admin_url).ready() is True  # probes need no token
