"""The admin API against its own OpenAPI 3.1 document: fuzzed with schemathesis (bounded), no
server error, every response as documented; and the human docs page."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, wait_port

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.timeout(330)  # (the schemathesis run has 300 s; the suite's 120 s is for ordinary tests)
def test_fuzzing_the_admin_api_from_its_document_finds_no_server_error_and_no_undocumented_answer(
        cli_server, tmp_path):
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    proc, port = cli_server("--stubs", str(tmp_path / "stubs"), "--no-watch")
    admin = proc.args[proc.args.index("--admin-port") + 1]
    wait_port(int(admin), proc=proc)
    url = f"http://127.0.0.1:{admin}/__admin/openapi.json"
    # The coverage phase enumerates every branch of a schema: on the stub and fault bodies (a
    # union of ten fault kinds, nested matchers) that is minutes, so those bodies get the fuzzing
    # phase (bounded examples) and the coverage phase does the rest.
    runs = (["--phases", "examples,fuzzing", "--max-examples", "60"],
            ["--phases", "coverage", "--max-examples", "25", "--exclude-path-regex", "^/__admin/(mappings|faults)"])
    for phases in runs:
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", url, "--exclude-path", "/__admin/shutdown", "--checks", CHECKS,
             "--seed", "20261125", "--workers", "1", *phases],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)  # it writes .schemathesis/ there
        assert result.returncode == 0, result.stdout[-6000:]
        assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1]
    assert proc.poll() is None  # and stuntman is still up


def test_the_document_describes_every_admin_route_and_the_docs_page_lists_them(stuntman):
    st = stuntman({}, admin_port=0)
    with urllib.request.urlopen(st.admin_url + "/__admin/openapi.json", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["openapi"] == "3.1.0"
    app_routes = {(r.method, r.resource.canonical) for r in st.server._admin.runner.app.router.routes()
                  if r.method != "HEAD"}
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops
                  if method != "parameters"}
    assert app_routes == documented
    with urllib.request.urlopen(st.admin_url + "/__admin/docs", timeout=10) as resp:
        page = resp.read().decode()
    assert resp.headers["Content-Type"].startswith("text/html")
    for method, path in documented:
        assert f"<code>{method} {path}</code>" in page


# -- the document is no looser than validation: recordings/start and PUT /__admin/mappings/{id} ----

def _unsayable(doc: dict) -> dict:
    """The document with the few rules JSON Schema cannot state pinned to values that keep them:
    a body file and a recording that exist (the fixture makes them), a uniform range in order,
    a JSONPath that compiles. Every other rule the bodies below meet comes from the document."""
    from stuntman.admin.schema_rules import JSONPATH

    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    schemas["ResponseSpec"]["properties"]["bodyFile"] = {"enum": ["body.txt", None]}
    schemas["ReplaySpec"]["properties"]["recording"] = {"enum": ["kept"]}
    schemas["UniformSpec"] = {"enum": [{"min_ms": 1, "max_ms": 2.5}]}
    for name in ("message", "messages"):  # (messages are read against --proto: the fixture has none)
        schemas["GrpcAnswerSpec"]["properties"][name] = {"enum": [None]}

    def pin(node):
        if node == JSONPATH or isinstance(node, dict) and node.get("description") == JSONPATH["description"]:
            return {"enum": ["$.items", "$.items[?@.qty > 0]"]}
        if isinstance(node, dict):
            return {key: pin(value) for key, value in node.items()}
        return [pin(value) for value in node] if isinstance(node, list) else node
    return pin(doc)


def _bodies(doc: dict, path: str, method: str, count: int) -> list:
    """`count` request bodies schemathesis generates from the document's schema (the same each run)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    operation = schemathesis.openapi.from_dict(doc)[path][method]
    bodies: list = []

    @settings(max_examples=count, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
    def collect(case):
        bodies.append(case.body)
    collect()
    return bodies


def _validator(doc: dict, schema: dict):
    import jsonschema

    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


BAD_RECORDING_REQUESTS = [
    {}, {"upstream": "http://h"}, {"name": 7}, {"name": "x", "colour": 1},  # name required; no other fields
    {"name": ""}, {"name": "../x"}, {"name": "/abs"}, {"name": "a\x00b"}, {"name": "a/./b"}, {"name": ".hidden"},
    {"name": "x" * 256}, {"name": "x", "upstream": "ftp://h"}, {"name": "x", "upstream": "not a url"},
    {"name": "x", "upstream": 5}, {"name": "x", "upstream": ""}, {"name": "x", "filter": "GET"},
    {"name": "x", "filter": {"method": "FETCH"}}, {"name": "x", "filter": {"path": "no-slash"}},
    {"name": "x", "filter": {"path": "/a?b=1"}}, {"name": "x", "filter": {"path": "/a", "pathPrefix": "/b"}},
    {"name": "x", "filter": {"headers": {"X": {"equals": "a", "contains": "b"}}}},
    {"name": "x", "filter": {"query": {"q": {}}}}, {"name": "x", "filter": {"body": {"absent": False}}},
]
BAD_STUBS = [
    {"request": {"path": "/a"}}, {"response": {}, "proxy": {"upstream": "http://h"}},  # exactly one answer
    {"response": None}, {"response": {}, "colour": 1}, {"responses": []}, {"response": {"status": 99}},
    {"response": {"body": "a", "json": {}}}, {"response": {"body": "a", "base64Body": "YQ=="}},
    {"response": {"base64Body": "%%%"}}, {"response": {"headers": {"Bad Name": "x"}}},
    {"response": {"headers": {"X": "a\r\nb"}}}, {"response": {"headers": {"X": ["ok", "€"]}}},
    {"response": {}, "request": {"method": "FETCH"}}, {"response": {}, "request": {"method": []}},
    {"response": {}, "request": {"path": "no-slash"}}, {"response": {}, "request": {"pathPrefix": "/a", "path": "/b"}},
    {"response": {}, "request": {"headers": {"X": {}}}}, {"response": {}, "request": {"body": {"equals": "a",
                                                                                                "regex": "b"}}},
    {"response": {}, "requiredState": "paid"}, {"response": {}, "scenario": "", "newState": "paid"},
    {"response": {}, "faults": [{"type": "error", "route": "target"}]}, {"response": {}, "faults": [{"type": "hang",
                                                                                                   "request": {}}]},
    {"response": {}, "faults": [{"type": "latency"}]}, {"response": {}, "faults": [{"type": "explode"}]},
    {"response": {}, "faults": [{"type": "latency", "fixed_ms": 1, "normal": {"mean_ms": 1, "stddev_ms": 1}}]},
    {"response": {}, "faults": [{"type": "error", "headers": {"X": "a\nb"}}]},
    {"proxy": {"upstream": "ftp://h"}}, {"proxy": {"upstream": "http://h", "record": "../x"}},
    {"replay": {"recording": "kept", "mode": "spy"}}, {"response": {}, "id": "another"},
    # gRPC stubs: request.grpc and grpc: together, nothing of HTTP's beside them, names without /
    {"grpc": {}}, {"response": {}, "request": {"grpc": {"service": "a.B"}}},
    {"grpc": {}, "request": {"grpc": {"service": "a/B"}}}, {"grpc": {}, "request": {"grpc": {"method": ""}}},
    {"grpc": {}, "request": {"grpc": {"service": "a.B"}, "path": "/x"}},
    {"grpc": {}, "request": {"grpc": {"service": "a.B"}, "method": "GET"}},
    {"grpc": {}, "request": {"grpc": {"service": "a.B", "serviceRegex": "a.*"}}},
    {"grpc": {"upstream": "http://h:1"}, "request": {"grpc": {"service": "a.B"}}},
]


def test_bodies_the_document_allows_are_accepted_and_bodies_it_refuses_are_400(stuntman, tmp_path):
    """A schema fuzzer's bodies for recordings/start and PUT /__admin/mappings/{id} were mostly
    refused: the document said less than validation checks. Bodies generated from the document
    are all accepted now, and bodies that break a rule it states all get 400 (the document is, in
    two places, a little stricter than validation: see admin/openapi.py)."""
    (tmp_path / "recordings" / "kept").mkdir(parents=True)
    st = stuntman({"s.yaml": "- {id: target, request: {path: /t}, response: {body: t}}\n", "body.txt": "b"},
                  admin_port=0, recordings=tmp_path / "recordings", upstream="http://127.0.0.1:9")
    with urllib.request.urlopen(st.admin_url + "/__admin/openapi.json", timeout=10) as resp:
        doc = json.loads(resp.read())
    start = doc["paths"]["/__admin/recordings/start"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    put = doc["paths"]["/__admin/mappings/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    generated = _unsayable(doc)
    refused = []
    for body in _bodies(generated, "/__admin/recordings/start", "POST", 150):
        status, answer = _api(st, "POST", "/__admin/recordings/start", body)
        refused += [(body, answer)] if status != 200 else []
        _api(st, "POST", "/__admin/recordings/stop")
    for body in _bodies(generated, "/__admin/mappings/{id}", "PUT", 150):
        status, answer = _api(st, "PUT", "/__admin/mappings/target", body)
        refused += [(body, answer)] if status != 200 else []
    assert not refused, f"{len(refused)} bodies the document allows were refused, e.g. {refused[:3]}"

    for schema, path, method, bad in [(start, "/__admin/recordings/start", "POST", BAD_RECORDING_REQUESTS),
                                      (put, "/__admin/mappings/target", "PUT", BAD_STUBS)]:
        validator = _validator(doc, schema)
        for body in bad:
            assert not validator.is_valid(body), f"the document allows {body}"
            status, answer = _api(st, method, path, body)
            assert status in (400, 422) and answer["error"].startswith("invalid"), (body, status, answer)
    assert _api(st, "GET", "/__admin/recordings/status")[1] == {"recording": False}


def _api(st, method: str, path: str, body=None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(st.admin_url + path, method=method, data=data,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
