"""Swagger 2.0 specs are read in the shape of OpenAPI 3.0 (stuntman.openapi.swagger2), but a
violation or a load error names the rule where the 2.0 file has it: each `file#pointer` is walked
in the file as written (by the walker here, not the product's) and must land on the keyword at
fault, also for a parameter listed at another index than in 3.0 shape, one reached by `$ref` (in
the same file or another), a body parameter, formData fields, a response's schema and headers.

Specs: tests/openapi/validate/swagger2-pointers.yaml (one of its parameters in
schemas/swagger2-shared.yaml), swagger2.yaml, tests/openapi/specs/petstore-2.0.json, and
tests/openapi/validate/broken/swagger2-bad-*.yaml."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import call
from stuntman.openapi.document import Spec, SpecError, load_spec
from stuntman.openapi.validate import RequestValidator, ResponseValidator, Violation, check_schemas

SPECS = Path(__file__).parent / "openapi" / "validate"
CORPUS = Path(__file__).parent / "openapi" / "specs"
POINTERS = "swagger2-pointers.yaml"
JSON = "application/json"
ORDERS = f"{POINTERS}#/paths/~1shops~1{{shop}}~1orders"
LOGO = f"{POINTERS}#/paths/~1shops~1{{shop}}~1logo/put"
ORDER = {"items": [{"sku": "a", "qty": 1}]}


@cache
def spec(name: str) -> Spec:
    return load_spec((CORPUS if name.endswith(".json") else SPECS) / name, name)


def operation(name: str, label: str) -> Any:
    return next(op for op in spec(name).operations if op.label == label)


def at_fault(where: str, root: Path = SPECS) -> tuple[Any, str]:
    """The node a `file#pointer` names in the file as written (RFC 6901, no percent-decoding),
    and the pointer's last token (the keyword at fault). KeyError/IndexError when it is not there."""
    file, _, ptr = where.partition("#")
    text = (root / file).read_text()
    node = json.loads(text) if file.endswith(".json") else yaml.safe_load(text)
    for raw in ptr.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node, ptr.rsplit("/", 1)[-1]


def multipart(**fields: bytes) -> bytes:
    parts = [b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v)
             for k, v in fields.items()]
    return b"".join(parts) + b"--XX--\r\n"


def create(path: dict | None = None, query: dict | None = None, headers: dict | None = None,
           body: Any = ORDER, content_type: str | None = JSON) -> list[Violation]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RequestValidator(spec(POINTERS), operation(POINTERS, "POST /shops/{shop}/orders")).check(
        path or {"shop": "1"}, query or {}, headers or {}, raw, content_type)


def logo(**fields: bytes) -> list[Violation]:
    return RequestValidator(spec(POINTERS), operation(POINTERS, "PUT /shops/{shop}/logo")).check(
        {"shop": "1"}, {}, {}, multipart(**fields), "multipart/form-data; boundary=XX")


def created(status: int = 201, headers: dict | None = None, body: bytes = b'{"id": 1}') -> list[Violation]:
    return ResponseValidator(spec(POINTERS), operation(POINTERS, "POST /shops/{shop}/orders")).check(
        status, headers or {}, body, JSON)


# -- every kind of violation, in the 2.0 file --------------------------------------------------

CASES = {
    # parameters: path-level, then the operation's own around its body parameter, then by $ref
    "path parameter (path-level)": (lambda: create(path={"shop": "0"}),
                                    ("path.shop", "", f"{ORDERS}/parameters/0/minimum")),
    "header parameter": (lambda: create(headers={"x-trace": "XYZ"}),
                         ("header.X-Trace", "", f"{ORDERS}/post/parameters/0/pattern")),
    "query parameter after the body parameter": (lambda: create(query={"dry": ["maybe"]}),
                                                 ("query.dry", "", f"{ORDERS}/post/parameters/2/type")),
    "query parameter by $ref": (lambda: create(query={"limit": ["99"]}),
                                ("query.limit", "", f"{POINTERS}#/parameters/Limit/maximum")),
    "query parameter in another file": (lambda: create(query={"page": ["0"]}),
                                        ("query.page", "", "schemas/swagger2-shared.yaml#/Page/minimum")),
    # the body parameter's schema
    "body field": (lambda: create(body={"items": [{"sku": "a", "qty": 0}]}),
                   ("body", "/items/0/qty", f"{ORDERS}/post/parameters/1/schema/properties/items/items/properties/"
                                            "qty/minimum")),
    "body required property": (lambda: create(body={}),
                               ("body", "", f"{ORDERS}/post/parameters/1/schema/required")),
    "body x-nullable field": (lambda: create(body={**ORDER, "note": "x" * 11}),
                              ("body", "/note", f"{ORDERS}/post/parameters/1/schema/properties/note/maxLength")),
    "body missing": (lambda: create(body=b""), ("body", "", f"{ORDERS}/post/parameters/1/required")),
    "body of a type not consumed": (lambda: create(content_type="text/plain"),
                                    ("content-type", "", f"{POINTERS}#/consumes")),
    # formData parameters, one form body in 3.0 shape
    "formData required field": (lambda: logo(alt=b"a logo"), ("body", "", f"{LOGO}/parameters/0/required")),
    "formData field": (lambda: logo(image=b"\x00", alt=b"x" * 21), ("body", "/alt", f"{LOGO}/parameters/1/maxLength")),
    "formData array item": (lambda: logo(image=b"\x00", dpi=b"700"),
                            ("body", "/dpi/0", f"{LOGO}/parameters/2/items/maximum")),
    # responses: the schema, the headers, one by $ref, the status, an empty body
    "response body": (lambda: created(body=b"{}"), ("body", "", f"{ORDERS}/post/responses/201/schema/required")),
    "response body field": (lambda: created(body=b'{"id": "x"}'),
                            ("body", "/id", f"{ORDERS}/post/responses/201/schema/properties/id/type")),
    "response header": (lambda: created(headers={"x-order": "x"}),
                        ("header.X-Order", "", f"{ORDERS}/post/responses/201/headers/X-Order/type")),
    "response by $ref": (lambda: created(status=500, body=b"{}"),
                         ("body", "", f"{POINTERS}#/responses/Problem/schema/required")),
    "response missing its body": (lambda: created(body=b""), ("body", "", f"{ORDERS}/post/responses/201")),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_each_violation_names_the_keyword_at_fault_in_the_20_file(kind):
    check, expected = CASES[kind]
    [found] = check()
    assert (found.location, found.pointer, found.schema) == expected
    at_fault(found.schema)  # there, in the file as written


def test_what_keeps_the_contract_has_no_violations():
    assert create(headers={"x-trace": "ab12"}, query={"dry": ["true"], "limit": ["5"], "page": ["2"]},
                  body={**ORDER, "note": None}) == []
    assert logo(image=b"\x00", alt=b"a logo", dpi=b"300") == []
    assert created(headers={"x-order": "7"}) == []
    assert created(status=500, body=b'{"title": "t"}') == []


def test_an_undeclared_status_names_the_responses_of_the_20_operation():
    found = ResponseValidator(spec(POINTERS), operation(POINTERS, "PUT /shops/{shop}/logo")).check(200, {}, b"", None)
    assert [(v.location, v.schema) for v in found] == [("status", f"{LOGO}/responses")]
    at_fault(found[0].schema)


@pytest.mark.parametrize(("name", "label", "check", "expected"), [
    ("swagger2.yaml", "GET /items", lambda v: v.check({}, {"ids": ["1,x"], "limit": ["1"]}, {}, b"", None),
     ["swagger2.yaml#/paths/~1items/get/parameters/0/items/type",
      "swagger2.yaml#/paths/~1items/get/parameters/3/exclusiveMinimum"]),
    ("swagger2.yaml", "POST /login/{tenant}",
     lambda v: v.check({"tenant": "0"}, {}, {"x-attempt": "4"}, b"remember=yes&scopes=admin",
                       "application/x-www-form-urlencoded"),
     ["swagger2.yaml#/paths/~1login~1{tenant}/post/parameters/0/minimum",
      "swagger2.yaml#/paths/~1login~1{tenant}/post/parameters/1/maximum",
      "swagger2.yaml#/paths/~1login~1{tenant}/post/parameters/2/required",
      "swagger2.yaml#/paths/~1login~1{tenant}/post/parameters/3/type",
      "swagger2.yaml#/paths/~1login~1{tenant}/post/parameters/4/items/enum"]),
    # the form's fields are parameters 0 and 1 of the 2.0 operation; in 3.0 shape, 0 is the path-level petId
    ("petstore-2.0.json", "POST /pets/{petId}",
     lambda v: v.check({"petId": "0"}, {}, {}, b"name=", "application/x-www-form-urlencoded"),
     ["petstore-2.0.json#/parameters/PetId/minimum",
      "petstore-2.0.json#/paths/~1pets~1{petId}/post/parameters/0/minLength"]),
    ("petstore-2.0.json", "POST /pets/{petId}/photo",
     lambda v: v.check({"petId": "1"}, {}, {}, multipart(caption=b"c"), "multipart/form-data; boundary=XX"),
     ["petstore-2.0.json#/paths/~1pets~1{petId}~1photo/post/parameters/1/required"]),
    ("petstore-2.0.json", "POST /pets", lambda v: v.check({}, {}, {}, b"<pet/>", "text/csv"),
     ["petstore-2.0.json#/paths/~1pets/post/consumes"]),
    ("petstore-2.0.json", "GET /pets", lambda v: v.check({}, {"limit": ["500"], "fields": ["id,x"]}, {}, b"", None),
     ["petstore-2.0.json#/paths/~1pets/get/parameters/0/maximum",
      "petstore-2.0.json#/paths/~1pets/get/parameters/2/items/enum"]),
])
def test_the_20_fixtures_violations_name_pointers_of_their_files(name, label, check, expected):
    found = check(RequestValidator(spec(name), operation(name, label)))
    assert [v.schema for v in found] == expected
    for v in found:
        at_fault(v.schema, CORPUS if name.endswith(".json") else SPECS)


def test_a_20_response_header_and_schema_of_the_petstore():
    validator = ResponseValidator(spec("petstore-2.0.json"), operation("petstore-2.0.json", "GET /pets"))
    found = validator.check(200, {"x-total-count": "x"}, b"{}", JSON)
    assert [v.schema for v in found] == ["petstore-2.0.json#/paths/~1pets/get/responses/200/headers/X-Total-Count/type",
                                         "petstore-2.0.json#/definitions/Pets/type"]
    for v in found:
        at_fault(v.schema, CORPUS)


# -- over the wire -------------------------------------------------------------------------------

def test_a_served_20_spec_answers_problem_json_whose_pointers_are_in_the_20_files(stuntman):
    st = stuntman({}, openapi=(SPECS / POINTERS,))
    status, head, data = call(st.port, "POST", "/v1/shops/0/orders?page=0", headers={
        "Content-Type": JSON, "X-Trace": "XYZ"}, body=json.dumps({"items": [{"qty": 0}], "note": "x" * 11}))
    assert status == 400 and head["content-type"] == "application/problem+json"
    errors = json.loads(data)["errors"]
    # (the file as --openapi names it; a file it references, relative to it)
    assert [(e["location"], e["pointer"], e["schema"].removeprefix(f"{SPECS}/")) for e in errors] == [
        ("path.shop", "", f"{ORDERS}/parameters/0/minimum"),
        ("query.page", "", "schemas/swagger2-shared.yaml#/Page/minimum"),
        ("header.X-Trace", "", f"{ORDERS}/post/parameters/0/pattern"),
        ("body", "/items/0", f"{ORDERS}/post/parameters/1/schema/properties/items/items/required"),
        ("body", "/items/0/qty", f"{ORDERS}/post/parameters/1/schema/properties/items/items/properties/qty/minimum"),
        ("body", "/note", f"{ORDERS}/post/parameters/1/schema/properties/note/maxLength"),
    ]
    for e in errors:
        assert at_fault(e["schema"])[1] in ("minimum", "pattern", "required", "maxLength")


def test_a_path_item_in_another_file_that_two_paths_share_is_read_once_and_named_in_its_file(tmp_path):
    """(Upgraded once per path, it used to lose its parameters' schemas the second time.)"""
    (tmp_path / "spec.yaml").write_text('swagger: "2.0"\ninfo: {title: t, version: "1"}\n'
                                        'paths:\n  /a: {$ref: "item.yaml"}\n  /b: {$ref: "item.yaml"}\n')
    (tmp_path / "item.yaml").write_text("get:\n  parameters:\n    - {in: body, name: b, schema: {type: object}}\n"
                                        "    - {name: limit, in: query, type: integer, maximum: 5}\n"
                                        '  responses:\n    "200": {description: ok}\n')
    loaded = load_spec(tmp_path / "spec.yaml", "spec.yaml")
    for op in loaded.operations:
        [found] = RequestValidator(loaded, op).check({}, {"limit": ["9"]}, {}, b"", None)
        assert found.schema == "item.yaml#/get/parameters/1/maximum"
        at_fault(found.schema, tmp_path)


# -- loading ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "where", "message"), [
    ("swagger2-bad-parameter.yaml", "/paths/~1pets/get/parameters/2/minimum", 'minimum: "x" is not of type "number"'),
    ("swagger2-bad-body.yaml", "/paths/~1pets/post/parameters/1/schema/properties/name/type",
     "type 'strin' is not a type (string, number, integer, boolean, array, object, null)"),
    ("swagger2-bad-form.yaml", "/paths/~1pets/post/parameters/2/pattern",
     "pattern '([a-z' is not a regular expression"),
    ("swagger2-bad-response.yaml", "/paths/~1pets/get/responses/200/headers/X-Count/minimum",
     'minimum: "none" is not of type "number"'),
])
def test_a_20_schema_that_is_no_schema_is_a_load_error_at_its_20_pointer(name, where, message):
    with pytest.raises(SpecError) as caught:
        load_spec(SPECS / "broken" / name, name)
    assert (caught.value.file, caught.value.where, caught.value.message) == (name, where,
                                                                           f"not a valid schema: {message}")
    at_fault(f"{name}#{where}", SPECS / "broken")


def test_the_notes_of_a_20_spec_with_invalid_schemas_name_20_pointers():
    name = "swagger2-bad-response.yaml"
    broken = load_spec(SPECS / "broken" / name, name, strict=False)
    with pytest.raises(SpecError):
        check_schemas(broken)
    assert broken.notes == [
        f'{name}#/paths/~1pets/get/responses/200/headers/X-Count/minimum: not a valid schema (minimum: "none" is '
        'not of type "number"), not validated',
        f"{name}#/paths/~1pets/get/responses/200/schema/items/properties/name/maxLength: not a valid schema "
        "(maxLength: -1 is less than the minimum of 0), not validated"]
    for note in broken.notes:
        at_fault(note.split(":", 1)[0], SPECS / "broken")


def test_a_20_parameter_without_a_name_is_named_at_its_20_index(tmp_path):
    (tmp_path / "spec.yaml").write_text("""
        swagger: "2.0"
        info: {title: t, version: "1"}
        paths:
          /pets:
            post:
              parameters:
                - {name: pet, in: body, schema: {type: object}}
                - {in: query, type: integer}
              responses:
                "201": {description: created}
        """.replace("\n        ", "\n"))
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "spec.yaml", "spec.yaml")
    assert (caught.value.where, caught.value.message) == (
        "/paths/~1pets/post/parameters/1", "a parameter needs a `name` and `in` (path, query, header or cookie)")


# -- the mapping itself ----------------------------------------------------------------------------

@pytest.mark.parametrize(("made", "source"), [
    ("/components/schemas/Shop/properties/name/type", "/definitions/Shop/properties/name/type"),
    ("/components/securitySchemes/oauth/type", "/securityDefinitions/oauth/type"),
    ("/components/securitySchemes/oauth/flows/implicit/authorizationUrl",
     "/securityDefinitions/oauth/authorizationUrl"),
    ("/components/securitySchemes/oauth/flows/implicit/scopes/read", "/securityDefinitions/oauth/scopes/read"),
    ("/components/securitySchemes/oauth/flows", "/securityDefinitions/oauth/flow"),
    ("/servers", "/basePath"),
    ("/paths/~1shops~1{shop}~1orders/post/requestBody/content/application~1merge-patch+json", "/consumes/1"),
    ("/paths/~1shops~1{shop}~1orders/post/requestBody/description", "/paths/~1shops~1{shop}~1orders/post/parameters/1/"
                                                                    "description"),
    ("/paths/~1shops~1{shop}~1orders/post/responses/201/content/application~1json", "/produces/0"),
    ("/paths/~1shops~1{shop}~1logo/put/requestBody/content/multipart~1form-data/schema/properties/alt/nullable",
     "/paths/~1shops~1{shop}~1logo/put/parameters/1/x-nullable"),
    ("/paths/~1shops~1{shop}~1logo/put/requestBody/content/multipart~1form-data/schema/properties/dpi/items",
     "/paths/~1shops~1{shop}~1logo/put/parameters/2/items"),
    ("/paths/~1shops~1{shop}~1logo/put/requestBody/content/multipart~1form-data/schema",
     "/paths/~1shops~1{shop}~1logo/put/parameters"),
    ("/paths/~1shops~1{shop}~1logo/put/responses", "/paths/~1shops~1{shop}~1logo/put/responses"),  # as it is
    ("/info/title", "/info/title"),
])
def test_where_maps_a_node_made_in_30_shape_to_the_20_node_it_was_made_from(made, source):
    assert spec(POINTERS).where(made) == f"{POINTERS}#{source}"
    at_fault(f"{POINTERS}#{source}")
