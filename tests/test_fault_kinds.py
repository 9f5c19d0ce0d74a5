"""The fault kinds' registry (one file per kind under stuntman/faults/kinds/: its model, its class,
its registration) and the error fault's `grpcStatus`: validation, schema, admin API round trip."""
from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import call
from stuntman.config import model
from stuntman.config.loader import ConfigErrors, validate_fault, validate_stubs
from stuntman.faults import kinds
from stuntman.faults.kinds import FAULT_TYPES, KINDS, ErrorFault, FaultState, compile_fault
from test_admin import api

ORDER = ("latency", "error", "reset", "close", "hang", "deadline", "bandwidth", "dribble", "truncate", "corrupt",
         "upstream_timeout", "rate_limit", "concurrency_limit", "load_latency", "flap", "abort_stream")
KINDS_DIR = Path(kinds.__file__).parent


# -- the registry -------------------------------------------------------------------------------

def test_the_kinds_their_order_and_the_union_come_from_the_registry():
    assert FAULT_TYPES == tuple(KINDS) == ORDER
    union = typing.get_args(typing.get_args(kinds.FaultSpec)[0])  # Annotated[Union[...], Field]
    assert [m.model_fields["type"].annotation for m in union] == [typing.Literal[t] for t in ORDER]
    for name, kind in KINDS.items():
        assert kind.type == kind.fault.type == name
        assert kind.spec.__module__ == kind.fault.__module__ == f"stuntman.faults.kinds.{name}"  # one file each
        assert (KINDS_DIR / f"{name}.py").exists()


def test_old_import_paths_still_work():
    for name in ("FaultSpec", "FAULT_TYPES", "ErrorFault", "LatencyFault", "UniformSpec", "DAY_MS",
                 "MatcherSpec", "BodyMatcherSpec", "JsonPathSpec", "RequestSpec", "WindowSpec"):
        assert hasattr(model, name), name
    assert model.ErrorFault is ErrorFault and model.FAULT_TYPES is FAULT_TYPES


def test_register_checks_the_model_names_the_same_kind():
    from stuntman.faults.kinds.base import Fault, register

    class Mismatched(Fault):
        type = "latency-ish"

    with pytest.raises(TypeError, match="Literal"):
        register(kinds.LatencyFault, Mismatched)
    with pytest.raises(ValueError, match="registered twice"):
        register(kinds.LatencyFault, kinds.Latency)
    assert tuple(KINDS) == ORDER


@pytest.mark.parametrize("first", ["stuntman.faults.kinds", "stuntman.config.model", "stuntman.match.matchers",
                                   "stuntman.faults.rules", "stuntman.config.loader"])
def test_no_import_cycle_whichever_module_comes_first(first):
    code = (f"import {first}; from stuntman.config.model import FaultSpec; "
            "from stuntman.faults.kinds import compile_fault")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _config_imports(path: Path) -> set[str]:
    """The stuntman.config modules a file imports (relative imports resolved)."""
    package = "stuntman." + ".".join(path.relative_to(KINDS_DIR.parents[1]).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            found |= {n for n in names if n.startswith("stuntman.config")}
    return found


def test_fault_kinds_import_only_the_config_base():
    files = sorted(KINDS_DIR.glob("*.py"))
    assert {p.stem for p in files} >= set(ORDER) | {"__init__", "base"}
    for path in files:
        assert _config_imports(path) <= {"stuntman.config.base"}, path.name


# -- unknown or missing type: every kind named, in order ------------------------------------------

def test_an_unknown_fault_type_lists_every_kind_in_order():
    with pytest.raises(ConfigErrors) as caught:
        validate_fault({"type": "explode"}, "api")
    [error] = caught.value.errors
    assert error.message == "unknown fault type 'explode'; one of: " + ", ".join(ORDER)

    stub = {"request": {"path": "/a"}, "response": {"body": "ok"}, "faults": [{"type": "slow"}, {"fixed_ms": 1}]}
    with pytest.raises(ConfigErrors) as caught:
        validate_stubs(stub, "s.yaml")
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("faults[0]", "unknown fault type 'slow'; one of: " + ", ".join(ORDER)),
        ("faults[1]", "a fault needs a `type`: one of " + ", ".join(ORDER)),
    ]


# -- grpcStatus on the error fault ------------------------------------------------------------------

@pytest.mark.parametrize("given, code", [(0, 0), (14, 14), (16, 16), ("14", 14), ("UNAVAILABLE", 14),
                                         ("unavailable", 14), ("DEADLINE_EXCEEDED", 4), ("OK", 0),
                                         ("UNAUTHENTICATED", 16)])
def test_grpc_status_takes_a_code_or_its_canonical_name(given, code):
    spec = ErrorFault.model_validate({"type": "error", "grpcStatus": given})
    assert spec.grpc_status == code and spec.status == 503  # status keeps its meaning and default
    fault = compile_fault(spec, "f", "test", FaultState(0))
    assert (fault.grpc_status, fault.status) == (code, 503)
    assert fault.params()["grpc_status"] == code  # the journal shows it


@pytest.mark.parametrize("given, words", [(17, "less than or equal to 16"), (-1, "greater than or equal to 0"),
                                          ("NOPE", "unknown gRPC status 'NOPE'"), (1.5, "integer"),
                                          ("-3", "greater than or equal to 0")])
def test_grpc_status_out_of_range_or_unknown_is_rejected(given, words):
    with pytest.raises(ConfigErrors) as caught:
        validate_fault({"type": "error", "grpcStatus": given}, "api")
    [error] = caught.value.errors
    assert error.field == "grpcStatus" and words in error.message, error


def test_without_grpc_status_nothing_changes():
    spec = ErrorFault(type="error", status=502)
    fault = compile_fault(spec, "f", "test", FaultState(0))
    assert spec.grpc_status is None and fault.grpc_status is None and fault.status == 502
    assert "grpc_status" not in fault.params()
    assert "grpcStatus" not in spec.model_dump(by_alias=True, exclude_unset=True)
    with pytest.raises(ValidationError):
        ErrorFault(type="error", grpc_status=99)  # the Python name works too, with the same check


def test_grpc_status_is_in_the_schema():
    schema = model.stub_file_schema()
    props = schema["$defs"]["ErrorFault"]["properties"]
    field = props["grpcStatus"]
    integer, names, none = field["anyOf"]
    assert integer == {"type": "integer", "minimum": 0, "maximum": 16} and none == {"type": "null"}
    assert names["type"] == "string" and names["enum"][14] == "UNAVAILABLE" and len(names["enum"]) == 17
    assert "gRPC" in field["description"] and "HTTP requests are answered with `status`" in field["description"]
    assert props["status"] == {"default": 503, "maximum": 599, "minimum": 200, "title": "Status", "type": "integer"}
    assert list(props).index("grpcStatus") == list(props).index("status") + 1


def test_grpc_status_survives_the_admin_api_round_trip(stuntman):
    st = stuntman({"s.yaml": "- name: users\n  request: {path: /users}\n  response: {body: ok}\n"}, admin_port=0)
    status, created = api(st, "POST", "/__admin/faults",
                          {"type": "error", "status": 500, "grpcStatus": "UNAVAILABLE", "route": "users"})
    assert status == 201 and created["grpcStatus"] == 14 and created["status"] == 500
    status, plain = api(st, "POST", "/__admin/faults", {"type": "error", "route": "users"})
    assert status == 201 and "grpcStatus" not in plain
    listed = {f["id"]: f for f in api(st, "GET", "/__admin/faults")[1]["faults"]}
    assert listed[created["id"]]["grpcStatus"] == 14
    assert "grpcStatus" not in listed[plain["id"]]
    assert api(st, "GET", f"/__admin/faults/{created['id']}")[1]["grpcStatus"] == 14
    # PATCH keeps it, and may change it by name
    status, patched = api(st, "PATCH", f"/__admin/faults/{created['id']}", {"grpcStatus": "ABORTED"})
    assert status == 200 and patched["grpcStatus"] == 10 and patched["status"] == 500
    status, answer = api(st, "POST", "/__admin/faults", {"type": "error", "grpcStatus": 42})
    assert status == 400 and answer["errors"][0]["field"] == "grpcStatus"
    assert call(st.port, "GET", "/users")[0] == 500  # HTTP requests are answered with `status`


OWN = ("- name: own\n  request: {path: /own}\n  response: {body: ok}\n"
       "  faults: [{type: error, status: 502, grpcStatus: DATA_LOSS}]\n")


def test_a_stubs_own_fault_keeps_grpc_status(stuntman):
    st = stuntman({"s.yaml": OWN}, admin_port=0)
    [own] = api(st, "GET", "/__admin/faults")[1]["faults"]
    assert own["origin"] == "stub" and own["status"] == 502
    assert own["grpcStatus"] == 15  # by the file's name, as every other fault is listed
    assert call(st.port, "GET", "/own")[0] == 502


def test_a_stubs_own_fault_is_listed_with_the_files_field_names(stuntman):
    st = stuntman({"s.yaml": OWN}, admin_port=0)
    [own] = api(st, "GET", "/__admin/faults")[1]["faults"]
    assert own["grpcStatus"] == 15 and "grpc_status" not in own


# -- the error fault's Content-Type ---------------------------------------------------------------

def error_answer(port: int, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, every header as sent, in order, body): a duplicated header must show."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("fault, content_type, body", [
    ('{type: error, body: {error: "down (injected)", retry: true}}', "application/json",
     b'{"error": "down (injected)", "retry": true}'),
    ('{type: error, body: [1, "two"]}', "application/json", b'[1, "two"]'),
    ("""{type: error, body: '  {"error": "down"}'}""", "application/json", b'  {"error": "down"}'),  # as written
    ("{type: error, body: down for now}", "text/plain; charset=utf-8", b"down for now"),
    ("{type: error, body: '42'}", "text/plain; charset=utf-8", b"42"),  # JSON, not an object or array
    ("""{type: error, body: '{"error": '}""", "text/plain; charset=utf-8", b'{"error": '),
    ("{type: error}", "text/plain; charset=utf-8", b"stuntman: injected fault error\n"),
    ("{type: error, body: {title: down}, headers: {content-type: application/problem+json}}",
     "application/problem+json", b'{"title": "down"}'),
    ("""{type: error, body: '{"a": 1}', headers: {Content-Type: text/csv, X-Kept: "yes"}}""",
     "text/csv", b'{"a": 1}'),
], ids=["mapping", "list", "json-text", "text", "number", "broken-json", "default", "own-json", "own-text"])
def test_an_error_faults_json_body_is_served_as_json(stuntman, fault, content_type, body):
    """A mapping or list body (sent as JSON), or a string holding a JSON object or array, is
    `application/json`, as a stub's `json:` is; other text is `text/plain`, as a stub's `body:`
    is; a Content-Type in the fault's `headers` wins and is the only one sent."""
    st = stuntman({"s.yaml": f"- {{request: {{path: /p}}, response: {{body: ok}}, faults: [{fault}]}}\n"})
    status, headers, got = error_answer(st.port, "/p")
    assert status == 503 and got == body
    assert [v for k, v in headers if k.lower() == "content-type"] == [content_type], headers
    if "X-Kept" in fault:
        assert ("X-Kept", "yes") in headers  # the fault's other headers still go out


def test_an_error_faults_json_body_through_the_admin_api(stuntman):
    st = stuntman({"s.yaml": "- name: users\n  request: {path: /users}\n  response: {body: ok}\n"}, admin_port=0)
    status, created = api(st, "POST", "/__admin/faults",
                          {"type": "error", "status": 500, "route": "users", "body": {"error": "down"}})
    assert status == 201 and created["body"] == {"error": "down"}
    assert api(st, "GET", f"/__admin/faults/{created['id']}")[1]["body"] == {"error": "down"}
    status, headers, body = error_answer(st.port, "/users")
    assert status == 500 and body == b'{"error": "down"}'
    assert [v for k, v in headers if k.lower() == "content-type"] == ["application/json"]
    status, answer = api(st, "POST", "/__admin/faults", {"type": "error", "body": 42})
    assert status == 400 and answer["errors"][0]["field"].startswith("body")
