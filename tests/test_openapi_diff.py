"""`stuntman contract diff`: each kind of change is reported with its rule and level, its
non-breaking twin is not reported as breaking, and how a spec is factored ($refs, files, allOf,
Swagger 2.0 vs OpenAPI 3) is never reported.

Rule cases start from tests/openapi/diff/base.yaml: a case changes a copy of it on the old side, the
new side or both, and expects exactly the set of (rule, level) found, so both a miss and a false
report fail. The factoring cases are pairs of files under tests/openapi/diff/.
"""
from __future__ import annotations

import copy
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import STUNTMAN
from stuntman.openapi.diff import diff_files
from stuntman.openapi.diff_report import render
from stuntman.openapi.diff_rules import RULES

DIFF = Path(__file__).parent / "openapi" / "diff"
BASE = yaml.safe_load((DIFF / "base.yaml").read_text())

Change = Callable[[dict], Any]


# -- what the cases change ------------------------------------------------------------------------

def pet(doc: dict) -> dict:
    return doc["components"]["schemas"]["Pet"]


def new_pet(doc: dict) -> dict:
    return doc["components"]["schemas"]["NewPet"]


def list_pets(doc: dict) -> dict:
    return doc["paths"]["/pets"]["get"]


def create_pet(doc: dict) -> dict:
    return doc["paths"]["/pets"]["post"]


def get_pet(doc: dict) -> dict:
    return doc["paths"]["/pets/{petId}"]["get"]


def delete_pet(doc: dict) -> dict:
    return doc["paths"]["/pets/{petId}"]["delete"]


def param(doc: dict, name: str) -> dict:
    return next(p for p in list_pets(doc)["parameters"] if p["name"] == name)


def rate_limit(doc: dict) -> dict:
    return list_pets(doc)["responses"]["200"]["headers"]["X-Rate-Limit"]


def put(node: dict, **values: Any) -> None:
    node.update(values)


def drop(node: dict, *keys: str) -> None:
    for key in keys:
        del node[key]


def rename_path(doc: dict) -> None:
    item = doc["paths"].pop("/pets/{petId}")
    item["parameters"][0]["name"] = "id"
    doc["paths"]["/pets/{id}"] = item


def rename_scheme(doc: dict) -> None:
    schemes = doc["components"]["securitySchemes"]
    schemes["key"] = schemes.pop("apiKey")
    doc["security"] = [{"key": []}]


def to_openapi_31(doc: dict) -> None:
    """The same spec in 3.1: `type: [string, "null"]` in place of `nullable: true`."""
    doc["openapi"] = "3.1.0"
    for schema in (pet(doc)["properties"]["tag"], new_pet(doc)["properties"]["name"]):
        del schema["nullable"]
        schema["type"] = ["string", "null"]


ERROR, WARNING, INFO = "error", "warning", "info"


def case(name: str, new: Change, expected: set[tuple[str, str]], old: Change | None = None):
    return pytest.param(old, new, expected, id=name)


CASES = [
    # paths and operations
    case("path removed", lambda d: drop(d["paths"], "/pets/{petId}"),
         {("api-path-removed-without-deprecation", ERROR)}),
    case("deprecated path removed", lambda d: drop(d["paths"], "/pets/{petId}"),
         {("api-path-removed-with-deprecation", INFO)},
         old=lambda d: (put(get_pet(d), deprecated=True), put(delete_pet(d), deprecated=True))),
    case("path added", lambda d: put(d["paths"], **{"/owners": {"get": {"responses": {"200": {"description": "ok"}}}}}),
         {("endpoint-added", INFO)}),
    case("operation removed", lambda d: drop(d["paths"]["/pets/{petId}"], "delete"),
         {("api-removed-without-deprecation", ERROR)}),
    case("operation added",
         lambda d: put(d["paths"]["/pets/{petId}"], put={"responses": {"204": {"description": "ok"}}}),
         {("endpoint-added", INFO)}),
    case("operation deprecated", lambda d: put(list_pets(d), deprecated=True), {("endpoint-deprecated", INFO)}),
    case("path parameter renamed", rename_path, set()),
    # responses and media types
    case("success response removed", lambda d: drop(get_pet(d)["responses"], "200"),
         {("response-success-status-removed", ERROR)}),
    case("error response removed", lambda d: drop(create_pet(d)["responses"], "400"),
         {("response-non-success-status-removed", INFO)}),
    case("response added", lambda d: put(get_pet(d)["responses"], **{"404": {"description": "none"}}),
         {("response-non-success-status-added", INFO)}),
    case("response media type removed", lambda d: drop(get_pet(d)["responses"]["200"]["content"], "application/xml"),
         {("response-media-type-removed", ERROR)}),
    case("response media type added",
         lambda d: put(get_pet(d)["responses"]["200"]["content"], **{"text/csv": {"schema": {"type": "string"}}}),
         {("response-media-type-added", INFO)}),
    case("request media type removed", lambda d: None, {("request-body-media-type-removed", ERROR)},
         old=lambda d: put(create_pet(d)["requestBody"]["content"], **{"application/xml": {}})),
    case("request media type added", lambda d: put(create_pet(d)["requestBody"]["content"], **{"application/xml": {}}),
         {("request-body-media-type-added", INFO)}),
    case("media type spelled differently",
         lambda d: put(create_pet(d)["requestBody"], content={
             "Application/JSON; charset=utf-8": create_pet(d)["requestBody"]["content"]["application/json"]}),
         set()),
    # parameters
    case("required parameter added",
         lambda d: list_pets(d)["parameters"].append({"name": "sort", "in": "query", "required": True,
                                                      "schema": {"type": "string"}}),
         {("new-required-request-parameter", ERROR)}),
    case("optional parameter added",
         lambda d: list_pets(d)["parameters"].append({"name": "sort", "in": "query", "schema": {"type": "string"}}),
         {("new-optional-request-parameter", INFO)}),
    case("required header added",
         lambda d: list_pets(d)["parameters"].append({"name": "X-Client", "in": "header", "required": True,
                                                      "schema": {"type": "string"}}),
         {("new-required-request-parameter", ERROR)}),
    case("optional header added",
         lambda d: list_pets(d)["parameters"].append({"name": "X-Client", "in": "header",
                                                      "schema": {"type": "string"}}),
         {("new-optional-request-parameter", INFO)}),
    case("parameter became required", lambda d: put(param(d, "X-Trace"), required=True),
         {("request-parameter-became-required", ERROR)}),
    case("parameter became optional", lambda d: None, {("request-parameter-became-optional", INFO)},
         old=lambda d: put(param(d, "X-Trace"), required=True)),
    case("header name in other case", lambda d: put(param(d, "X-Trace"), name="x-trace"), set()),
    case("parameter removed", lambda d: list_pets(d)["parameters"].remove(param(d, "tags")),
         {("request-parameter-removed", WARNING)}),
    case("parameter location changed", lambda d: put(param(d, "limit"), **{"in": "header"}),
         {("request-parameter-location-changed", ERROR)}),
    case("parameter described", lambda d: put(param(d, "limit"), description="at most this many"), set()),
    case("parameter explode changed", lambda d: put(param(d, "tags"), explode=False),
         {("request-parameter-explode-changed", ERROR)}),
    case("parameter style changed", lambda d: put(param(d, "tags"), style="pipeDelimited", explode=False),
         {("request-parameter-style-changed", ERROR)}),
    case("parameter style left to its default", lambda d: drop(param(d, "tags"), "style", "explode"), set()),
    # types and formats
    case("parameter type changed", lambda d: put(param(d, "limit")["schema"], type="string"),
         {("request-parameter-type-changed", ERROR)}),
    case("parameter type widened", lambda d: put(param(d, "limit")["schema"], type="number"),
         {("request-parameter-type-generalized", INFO)}),
    case("request format changed", lambda d: put(new_pet(d)["properties"]["code"], format="date-time"),
         {("request-property-type-changed", ERROR)}),
    case("request format added", lambda d: put(new_pet(d)["properties"]["tag"], format="uuid"),
         {("request-property-type-specialized", ERROR)}),
    case("request format widened", lambda d: put(param(d, "limit")["schema"], format="int64"),
         {("request-parameter-type-generalized", INFO)}),
    case("response type changed", lambda d: put(pet(d)["properties"]["id"], type="string"),
         {("response-property-type-changed", ERROR)}),
    case("response type widened", lambda d: put(pet(d)["properties"]["id"], type="number"),
         {("response-property-type-generalized", ERROR)}),
    case("response type narrowed", lambda d: put(pet(d)["properties"]["weight"], type="integer"),
         {("response-property-type-specialized", INFO)}),
    case("response format narrowed", lambda d: put(pet(d)["properties"]["id"], format="int32"),
         {("response-property-type-specialized", INFO)}),
    # constraints
    case("request maxLength decreased", lambda d: put(new_pet(d)["properties"]["name"], maxLength=20),
         {("request-property-max-length-decreased", ERROR)}),
    case("request maxLength increased", lambda d: put(new_pet(d)["properties"]["name"], maxLength=100),
         {("request-property-max-length-increased", INFO)}),
    case("request maxLength set", lambda d: put(new_pet(d)["properties"]["tag"], maxLength=10),
         {("request-property-max-length-set", WARNING)}),
    case("parameter maximum decreased", lambda d: put(param(d, "limit")["schema"], maximum=50),
         {("request-parameter-max-decreased", ERROR)}),
    case("parameter maximum made exclusive", lambda d: put(param(d, "limit")["schema"], exclusiveMaximum=True),
         {("request-parameter-max-decreased", ERROR)}),
    case("parameter maximum increased", lambda d: put(param(d, "limit")["schema"], maximum=500),
         {("request-parameter-max-increased", INFO)}),
    case("request minimum increased", lambda d: put(new_pet(d)["properties"]["age"], minimum=1),
         {("request-property-min-increased", ERROR)}),
    case("request minimum removed", lambda d: drop(new_pet(d)["properties"]["age"], "minimum"),
         {("request-property-min-unset", INFO)}),
    case("request enum value removed", lambda d: put(new_pet(d)["properties"]["kind"], enum=["cat"]),
         {("request-property-enum-value-removed", ERROR)}),
    case("request enum value added", lambda d: put(new_pet(d)["properties"]["kind"], enum=["cat", "dog", "bird"]),
         {("request-property-enum-value-added", INFO)}),
    case("request became enum", lambda d: put(new_pet(d)["properties"]["tag"], enum=["a", "b"]),
         {("request-property-became-enum", ERROR)}),
    case("request pattern added", lambda d: put(new_pet(d)["properties"]["tag"], pattern="^[a-z]+$"),
         {("request-property-pattern-added", ERROR)}),
    case("request pattern removed", lambda d: None, {("request-property-pattern-removed", INFO)},
         old=lambda d: put(new_pet(d)["properties"]["tag"], pattern="^[a-z]+$")),
    case("response pattern added", lambda d: put(pet(d)["properties"]["name"], pattern="^[a-z]+$"),
         {("response-property-pattern-added", INFO)}),
    case("response enum value added", lambda d: put(pet(d)["properties"]["status"], enum=["available", "sold", "lost"]),
         {("response-property-enum-value-added", WARNING)}),
    case("response enum value removed", lambda d: put(pet(d)["properties"]["status"], enum=["available"]),
         {("response-property-enum-value-removed", INFO)}),
    case("response maxLength increased", lambda d: put(pet(d)["properties"]["name"], maxLength=100),
         {("response-property-max-length-increased", ERROR)}),
    case("response maxLength decreased", lambda d: put(pet(d)["properties"]["name"], maxLength=20),
         {("response-property-max-length-decreased", INFO)}),
    # response properties
    case("required response property removed",
         lambda d: (drop(pet(d)["properties"], "name"), put(pet(d), required=["id"])),
         {("response-required-property-removed", ERROR)}),
    case("optional response property removed", lambda d: drop(pet(d)["properties"], "tag"),
         {("response-optional-property-removed", WARNING)}),
    case("response property added", lambda d: put(pet(d)["properties"], color={"type": "string"}),
         {("response-optional-property-added", INFO)}),
    case("response property became optional", lambda d: put(pet(d), required=["id"]),
         {("response-property-became-optional", ERROR)}),
    case("response property became required", lambda d: put(pet(d), required=["id", "name", "tag"]),
         {("response-property-became-required", INFO)}),
    # request properties
    case("required request property added",
         lambda d: (put(new_pet(d)["properties"], color={"type": "string"}),
                    put(new_pet(d), required=["name", "color"])),
         {("new-required-request-property", ERROR)}),
    case("optional request property added", lambda d: put(new_pet(d)["properties"], color={"type": "string"}),
         {("new-optional-request-property", INFO)}),
    case("request property became required", lambda d: put(new_pet(d), required=["name", "tag"]),
         {("request-property-became-required", ERROR)}),
    case("request property became optional", lambda d: put(new_pet(d), required=[]),
         {("request-property-became-optional", INFO)}),
    case("request property removed", lambda d: drop(new_pet(d)["properties"], "code"),
         {("request-property-removed", WARNING)}),
    case("required readOnly property added to a request",
         lambda d: (put(new_pet(d)["properties"], id={"type": "integer", "readOnly": True}),
                    put(new_pet(d), required=["name", "id"])),
         set()),
    # request body
    case("request body became required", lambda d: None, {("request-body-became-required", ERROR)},
         old=lambda d: put(create_pet(d)["requestBody"], required=False)),
    case("request body became optional", lambda d: put(create_pet(d)["requestBody"], required=False),
         {("request-body-became-optional", INFO)}),
    case("request body removed", lambda d: drop(create_pet(d), "requestBody"), {("request-body-removed", ERROR)}),
    case("required request body added",
         lambda d: put(delete_pet(d), requestBody={"required": True, "content": {"application/json": {}}}),
         {("request-body-added-required", ERROR)}),
    case("optional request body added",
         lambda d: put(delete_pet(d), requestBody={"content": {"application/json": {}}}),
         {("request-body-added-optional", INFO)}),
    # nullable
    case("request nullable removed", lambda d: drop(new_pet(d)["properties"]["name"], "nullable"),
         {("request-property-became-not-nullable", ERROR)}),
    case("request nullable added", lambda d: put(new_pet(d)["properties"]["tag"], nullable=True),
         {("request-property-became-nullable", INFO)}),
    case("response nullable added", lambda d: put(pet(d)["properties"]["name"], nullable=True),
         {("response-property-became-nullable", ERROR)}),
    case("response nullable removed", lambda d: drop(pet(d)["properties"]["tag"], "nullable"),
         {("response-property-became-not-nullable", INFO)}),
    case("nullable written the 3.1 way", to_openapi_31, set()),
    # response headers
    case("required response header removed", lambda d: drop(list_pets(d)["responses"]["200"], "headers"),
         {("required-response-header-removed", ERROR)}),
    case("response header added",
         lambda d: put(list_pets(d)["responses"]["200"]["headers"], **{"X-Next": {"schema": {"type": "string"}}}),
         {("response-header-added", INFO)}),
    case("response header became optional", lambda d: put(rate_limit(d), required=False),
         {("response-header-became-optional", ERROR)}),
    case("response header type changed", lambda d: put(rate_limit(d)["schema"], type="string"),
         {("response-header-type-changed", ERROR)}),
    # security
    case("security requirement replaced", lambda d: put(list_pets(d), security=[{"oauth": ["read"]}]),
         {("api-security-removed", ERROR), ("api-security-added", INFO)}),
    case("security alternative added", lambda d: put(d, security=[{"apiKey": []}, {"oauth": ["read"]}]),
         {("api-security-added", INFO)}),
    case("security scope added", lambda d: put(create_pet(d), security=[{"oauth": ["write", "read"]}]),
         {("api-security-scope-added", ERROR)}),
    case("security scope removed", lambda d: put(create_pet(d), security=[{"oauth": []}]),
         {("api-security-scope-removed", INFO)}),
    case("security became required", lambda d: drop(delete_pet(d), "security"),
         {("api-security-became-required", ERROR)}),
    case("security became optional", lambda d: put(list_pets(d), security=[]),
         {("api-security-became-optional", INFO)}),
    case("security anonymous alternative added", lambda d: put(list_pets(d), security=[{"apiKey": []}, {}]),
         {("api-security-became-optional", INFO)}),
    case("security scheme changed", lambda d: put(d["components"]["securitySchemes"]["apiKey"], name="X-Token"),
         {("api-security-removed", ERROR), ("api-security-added", INFO)}),
    case("security scheme renamed", rename_scheme, set()),
    # nothing that matters
    case("descriptions and version changed",
         lambda d: (put(d["info"], version="2.0.0", description="pets"), put(list_pets(d), summary="list")), set()),
]


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def pair(tmp_path: Path, old: Change | None, new: Change) -> tuple[Path, Path]:
    before, after = copy.deepcopy(BASE), copy.deepcopy(BASE)
    if old is not None:
        old(before)
    new(after)
    return write(tmp_path / "old.yaml", before), write(tmp_path / "new.yaml", after)


def found(old: Path, new: Path) -> set[tuple[str, str]]:
    return {(f.id, f.level) for f in diff_files(old, new)}


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_rule(tmp_path, old, new, expected):
    assert found(*pair(tmp_path, old, new)) == expected


def test_the_same_spec_has_no_finding(tmp_path):
    assert diff_files(*pair(tmp_path, None, lambda d: None)) == []


def test_every_rule_has_a_level_and_a_meaning():
    for rule, (level, meaning) in RULES.items():
        assert level in (ERROR, WARNING, INFO) and meaning, rule


def test_finding_names_operation_and_pointers_in_both_files(tmp_path):
    old, new = pair(tmp_path, None, lambda d: put(param(d, "limit"), **{"in": "header"}))
    [finding] = diff_files(old, new)
    assert finding.operation == "GET /pets"
    assert finding.old == f"{old}#/paths/~1pets/get/parameters/0/in"
    assert finding.new == f"{new}#/paths/~1pets/get/parameters/0/in"
    assert "query parameter 'limit'" in finding.message and "header" in finding.message


def test_a_change_in_a_shared_schema_is_reported_for_each_operation(tmp_path):
    findings = diff_files(*pair(tmp_path, None, lambda d: put(pet(d)["properties"]["id"], type="string")))
    # GET /pets/{petId} answers JSON and XML: the change is in each of them
    assert sorted(f.operation for f in findings) == ["GET /pets", "GET /pets/{petId}", "GET /pets/{petId}",
                                                     "POST /pets"]
    assert {f.old.split("#")[1] for f in findings} == {"/components/schemas/Pet/properties/id"}


# -- how a spec is factored is not a change ------------------------------------------------------

@pytest.mark.parametrize("name", ["refs", "multifile", "allof", "circular", "swagger2"])
def test_refactoring_is_not_a_change(name):
    assert diff_files(DIFF / name / "old.yaml", DIFF / name / "new.yaml") == []


def test_a_changed_schema_in_another_file_is_found_and_pointed_at_in_that_file():
    findings = diff_files(DIFF / "multifile" / "old.yaml", DIFF / "multifile" / "new-changed.yaml")
    assert {(f.id, f.old, f.new) for f in findings} == {
        ("response-property-max-length-increased", "schemas.yaml#/Pet/properties/name/maxLength",
         "schemas-v3.yaml#/Pet/properties/name/maxLength"),
        ("response-optional-property-removed", "schemas.yaml#/Owner/properties/email", "schemas-v3.yaml#/Owner"),
    }


def test_a_change_inside_allof_is_found():
    findings = diff_files(DIFF / "allof" / "old.yaml", DIFF / "allof" / "new-changed.yaml")
    assert {(f.id, f.level) for f in findings} == {("response-property-became-optional", ERROR),
                                                   ("request-property-became-optional", INFO)}
    assert all(f.new.endswith("#/components/schemas/Pet/allOf/1/properties/name") for f in findings)


def test_circular_schemas_end_and_their_changes_are_found():
    findings = diff_files(DIFF / "circular" / "old.yaml", DIFF / "circular" / "new-changed.yaml")
    assert {(f.id, f.operation) for f in findings} == {("response-optional-property-removed", "GET /trees"),
                                                       ("request-property-removed", "POST /trees")}


def test_swagger2_to_openapi3_migration_with_a_real_change(tmp_path):
    new = yaml.safe_load((DIFF / "swagger2" / "new.yaml").read_text())
    new["components"]["schemas"]["NewPet"]["properties"]["name"]["maxLength"] = 20
    findings = diff_files(DIFF / "swagger2" / "old.yaml", write(tmp_path / "new.yaml", new))
    assert {(f.id, f.level) for f in findings} == {("request-property-max-length-decreased", ERROR)}


# -- reports and the command line ----------------------------------------------------------------

def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([*STUNTMAN, "contract", "diff", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def breaking(tmp_path) -> tuple[Path, Path]:
    """One error (a parameter became required), four warnings (an optional property removed from
    the Pet of four responses), one info (an operation added)."""
    def change(d: dict) -> None:
        put(param(d, "X-Trace"), required=True)
        drop(pet(d)["properties"], "weight")
        put(d["paths"]["/pets/{petId}"], put={"responses": {"204": {"description": "ok"}}})
    return pair(tmp_path, None, change)


@pytest.fixture
def warning_only(tmp_path) -> tuple[Path, Path]:
    return pair(tmp_path, None, lambda d: drop(pet(d)["properties"], "weight"))


def test_cli_text(breaking):
    result = run(*breaking)
    assert result.returncode == 1, result.stderr
    assert "request-parameter-became-required" in result.stdout
    assert "header parameter 'X-Trace': became required" in result.stdout
    assert "1 error, 4 warnings, 1 info" in result.stdout.splitlines()[0]


def test_cli_json(breaking):
    result = run(*breaking, "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["summary"] == {"error": 1, "warning": 4, "info": 1} and report["breaking"] is True
    first = report["findings"][0]
    assert first["id"] == "request-parameter-became-required" and first["level"] == "error"
    assert first["operation"] == "GET /pets"
    assert first["old"].endswith("#/paths/~1pets/get/parameters/1")
    assert first["new"].endswith("#/paths/~1pets/get/parameters/1")


def test_cli_markdown(breaking):
    result = run(*breaking, "--format", "markdown")
    assert result.returncode == 1
    assert "| Level | Rule | Operation | Change | Old | New |" in result.stdout
    assert "| error | `request-parameter-became-required` | `GET /pets` |" in result.stdout


def test_cli_junit(breaking):
    result = run(*breaking, "--format", "junit")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    cases = root.findall("./testsuite/testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == 6 and root.get("failures") == "1"
    assert [c.get("classname") for c in failed] == ["request-parameter-became-required"]


def test_cli_junit_fail_on_warning(breaking):
    root = ET.fromstring(run(*breaking, "--format", "junit", "--fail-on", "warning").stdout)
    assert root.get("failures") == "5"


def test_cli_no_change_exits_0_in_every_format():
    same = DIFF / "refs" / "old.yaml", DIFF / "refs" / "new.yaml"
    for fmt in ("text", "json", "markdown", "junit"):
        result = run(*same, "--format", fmt)
        assert result.returncode == 0, (fmt, result.stderr)
    assert json.loads(run(*same, "--format", "json").stdout)["findings"] == []
    assert ET.fromstring(run(*same, "--format", "junit").stdout).get("failures") == "0"


def test_cli_fail_on(warning_only):
    assert run(*warning_only).returncode == 0
    assert run(*warning_only, "--fail-on", "error").returncode == 0
    assert run(*warning_only, "--fail-on", "warning").returncode == 1


def test_cli_output_file(breaking, tmp_path):
    out = tmp_path / "report.json"
    result = run(*breaking, "--format", "json", "--output", out)
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads(out.read_text())["summary"]["error"] == 1


def test_cli_spec_that_does_not_load_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a: {get: {responses: {'200': "
                   "{$ref: '#/components/responses/Nope'}}}}\n")
    result = run(bad, DIFF / "base.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("stuntman: error: ") and "bad.yaml" in result.stderr
    missing = run(tmp_path / "missing.yaml", DIFF / "base.yaml")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_cli_needs_a_contract_subcommand():
    result = subprocess.run([*STUNTMAN, "contract"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("stuntman: error: ")


def test_render_text_without_findings():
    assert render([], "a.yaml", "b.yaml", "text") == "a.yaml → b.yaml: no changes\n"


def test_a_schema_used_twice_in_one_body_is_reported_at_each_place(tmp_path):
    """Comparisons are cached per pair of schemas: the cache must not hide the second place."""
    def people(d: dict) -> None:
        d["components"]["schemas"]["Person"] = {"type": "object", "properties": {"name": {"type": "string"}}}
        put(new_pet(d)["properties"], owner={"$ref": "#/components/schemas/Person"},
            vet={"$ref": "#/components/schemas/Person"})
    def shorter(d: dict) -> None:
        people(d)
        put(d["components"]["schemas"]["Person"]["properties"]["name"], maxLength=10)
    findings = diff_files(*pair(tmp_path, people, shorter))
    assert sorted(f.message for f in findings) == [
        "property 'owner/name' of the request body (application/json): maxLength set to 10",
        "property 'vet/name' of the request body (application/json): maxLength set to 10"]


def test_a_4_mb_spec_is_diffed_in_seconds(tmp_path):
    """500 operations, 1000 schemas in a ring of $refs: without the per-pair cache this takes minutes."""
    import importlib.util
    import time

    module_spec = importlib.util.spec_from_file_location("openapi_load", DIFF.parents[2] / "bench" / "openapi_load.py")
    assert module_spec is not None and module_spec.loader is not None
    bench = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(bench)
    old = bench.generate(tmp_path / "old.yaml")
    doc = yaml.load(old.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    doc["components"]["schemas"]["NewItem7"]["required"].append("status")
    new = tmp_path / "new.yaml"
    new.write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
    started = time.monotonic()
    findings = diff_files(old, new)
    assert time.monotonic() - started < 60
    assert {(f.id, f.operation) for f in findings} == {("request-property-became-required", "POST /resources7/items")}
