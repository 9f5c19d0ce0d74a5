"""stuntman.openapi.validate and stuntman.openapi.jsonschema: requests and responses checked against
an operation. Each violation is checked for its location, the JSON pointer into the value and the
`file#pointer` of the rule in the spec, exactly, so a test fails when the mapping breaks.

Specs: tests/openapi/validate/ (shop30, shop31, swagger2, multi/, cases30, cases31, styles, and
broken/ for schemas that are not schemas)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

from stuntman.openapi.document import Spec, SpecError, load_spec
from stuntman.openapi.validate import (
    MAX_ERRORS,
    RequestValidator,
    ResponseValidator,
    Violation,
    check_schemas,
    problem,
)

SPECS = Path(__file__).parent / "openapi" / "validate"
CORPUS = Path(__file__).parent / "openapi" / "specs"
JSON = "application/json"
UUID = "6f1c3b0e-8a3e-4a9b-9d67-1b2f3c4d5e6f"


@cache
def spec(name: str) -> Spec:
    return load_spec(SPECS / name, name)


def _op(name: str, label: str) -> Any:
    found = [op for op in spec(name).operations if op.label == label]
    assert found, f"{label} not in {name}"
    return found[0]


@cache
def request(name: str, label: str) -> RequestValidator:
    return RequestValidator(spec(name), _op(name, label))


@cache
def response(name: str, label: str) -> ResponseValidator:
    return ResponseValidator(spec(name), _op(name, label))


def req(name: str, label: str, path: dict | None = None, query: dict | None = None, headers: dict | None = None,
        body: Any = b"", content_type: str | None = None) -> list[Violation]:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        content_type = content_type or JSON
    return request(name, label).check(path or {}, query or {}, headers or {}, body, content_type)


def triples(violations: list[Violation]) -> list[tuple[str, str, str]]:
    """(location, pointer, schema) of each violation, in order."""
    return [(v.location, v.pointer, v.schema) for v in violations]


def one(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


# == parameters ==================================================================================

PETS = "shop30.yaml#/paths/~1pets~1{petId}/get/parameters"
GOOD_PET_HEADERS = {"x-request-id": UUID, "cookie": "theme=dark; session=abcd"}


def test_a_request_that_keeps_the_contract_has_no_violations():
    assert req("shop30.yaml", "GET /pets/{petId}", {"petId": "7"}, {"limit": ["100"]}, GOOD_PET_HEADERS) == []


def test_each_parameter_location_is_named_with_its_rule():
    found = req("shop30.yaml", "GET /pets/{petId}", {"petId": "0"}, {"limit": ["x"]},
                {"x-request-id": "nope", "cookie": "session=ab"})
    assert triples(found) == [
        # a path-level parameter by $ref: its rule is where the parameter is written
        ("path.petId", "", "shop30.yaml#/components/parameters/PetId/schema/minimum"),
        ("query.limit", "", f"{PETS}/0/schema/type"),
        ("header.X-Request-Id", "", f"{PETS}/1/schema/format"),
        ("cookie.session", "", f"{PETS}/2/schema/minLength"),
    ]
    assert [v.message for v in found] == ["must be >= 1, got 0", 'must be integer, got string "x"',
                                          'must be a valid uuid, got "nope"',
                                          "must be at least 3 characters long, got 2"]


def test_required_parameters_missing_in_each_location():
    found = req("shop30.yaml", "GET /pets/{petId}")
    assert triples(found) == [
        ("path.petId", "", "shop30.yaml#/components/parameters/PetId/required"),
        ("query.limit", "", f"{PETS}/0/required"),
        ("header.X-Request-Id", "", f"{PETS}/1/required"),
        ("cookie.session", "", f"{PETS}/2/required"),
    ]
    assert [v.message for v in found] == ["required path parameter is missing", "required query parameter is missing",
                                          "required header parameter is missing",
                                          "required cookie parameter is missing"]


def test_header_names_are_matched_without_case_and_unknown_parameters_are_fine():
    headers = {"x-request-id": UUID, "cookie": "session=abcd; other=1", "x-unknown": "1"}
    assert req("shop30.yaml", "GET /pets/{petId}", {"petId": "1"}, {"limit": ["1"], "extra": ["y"]}, headers) == []


def test_accept_content_type_and_authorization_header_parameters_are_ignored():
    # each is declared required, of type integer: neither absence nor text is a violation
    assert req("shop30.yaml", "GET /pets/{petId}", {"petId": "1"}, {"limit": ["1"]},
               {**GOOD_PET_HEADERS, "accept": "text/html"}) == []
    body = {"pet": {"kind": "cat", "lives": 1}}
    assert req("cases30.yaml", "POST /pets", body=body) == []
    assert req("cases30.yaml", "POST /pets", headers={"authorization": "Bearer x", "content-type": JSON},
               body=body) == []


LABEL = "styles.yaml#/paths/~1label~1{a}~1{b}~1{c}~1{d}~1{e}/get/parameters"
MATRIX = "styles.yaml#/paths/~1matrix~1{a}~1{b}~1{c}~1{d}~1{e}/get/parameters"
SIMPLE = "styles.yaml#/paths/~1simple~1{a}~1{b}~1{c}~1{d}/get/parameters"
POINT = "styles.yaml#/components/schemas/Point/properties"


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("a", ".1,q", ("path.a", "/1", f"{LABEL}/0/schema/items/type")),          # label, array
    ("b", ".1.q", ("path.b", "/1", f"{LABEL}/1/schema/items/type")),          # label, array, explode
    ("c", ".x,q,y,2", ("path.c", "/x", f"{POINT}/x/type")),                   # label, object
    ("d", ".x=1.y=-1", ("path.d", "/y", f"{POINT}/y/minimum")),               # label, object, explode
    ("e", ".0", ("path.e", "", f"{LABEL}/4/schema/minimum")),                 # label, integer
])
def test_label_style(name, raw, expected):
    good = {"a": ".1,2", "b": ".1.2", "c": ".x,1,y,2", "d": ".x=1.y=2", "e": ".5"}
    assert req("styles.yaml", "GET /label/{a}/{b}/{c}/{d}/{e}", good) == []
    assert triples(req("styles.yaml", "GET /label/{a}/{b}/{c}/{d}/{e}", {**good, name: raw})) == [expected]


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("a", ";a=0", ("path.a", "", f"{MATRIX}/0/schema/minimum")),              # matrix, integer
    ("b", ";b=1,q", ("path.b", "/1", f"{MATRIX}/1/schema/items/type")),       # matrix, array
    ("c", ";c=1;c=q", ("path.c", "/1", f"{MATRIX}/2/schema/items/type")),     # matrix, array, explode
    ("d", ";d=x,q,y,2", ("path.d", "/x", f"{POINT}/x/type")),                 # matrix, object
    ("e", ";x=1;y=-2", ("path.e", "/y", f"{POINT}/y/minimum")),               # matrix, object, explode
])
def test_matrix_style(name, raw, expected):
    good = {"a": ";a=5", "b": ";b=1,2", "c": ";c=1;c=2", "d": ";d=x,1,y,2", "e": ";x=1;y=2"}
    assert req("styles.yaml", "GET /matrix/{a}/{b}/{c}/{d}/{e}", good) == []
    assert triples(req("styles.yaml", "GET /matrix/{a}/{b}/{c}/{d}/{e}", {**good, name: raw})) == [expected]


def test_simple_style_in_path_header_and_form_style_in_cookie():
    good_path = {"a": "2.5", "b": "1,2", "c": "x,1,y,2", "d": "x=1,y=2"}
    good_headers = {"x-ids": "1,2", "x-point": "x=1,y=2", "x-flag": "true", "cookie": "count=5; ids=1,2; pt=x,1,y,2"}
    assert req("styles.yaml", "GET /simple/{a}/{b}/{c}/{d}", good_path, headers=good_headers) == []
    found = req("styles.yaml", "GET /simple/{a}/{b}/{c}/{d}", {"a": "12", "b": "1,q", "c": "x,q", "d": "x=1,y=-1"},
                headers={"x-ids": "1,q", "x-point": "y=-1", "x-flag": "yes", "cookie": "count=6; ids=q; pt=y,-1"})
    assert triples(found) == [
        ("path.a", "", f"{SIMPLE}/0/schema/maximum"),
        ("path.b", "/1", f"{SIMPLE}/1/schema/items/type"),
        ("path.c", "/x", f"{POINT}/x/type"),
        ("path.d", "/y", f"{POINT}/y/minimum"),
        ("header.X-Ids", "/1", f"{SIMPLE}/4/schema/items/type"),
        ("header.X-Point", "/y", f"{POINT}/y/minimum"),
        ("header.X-Flag", "", f"{SIMPLE}/6/schema/type"),
        ("cookie.count", "", f"{SIMPLE}/7/schema/maximum"),
        ("cookie.ids", "/0", f"{SIMPLE}/8/schema/items/type"),
        ("cookie.pt", "/y", f"{POINT}/y/minimum"),
    ]
    assert found[0].message == "must be <= 10, got 12"
    assert found[6].message == 'must be boolean, got string "yes"'


def test_shop_styles_path_header_and_cookie():
    path = {"lab": ".1,2", "mat": ";mat=1;mat=2", "obj": "x,1,y,2", "exp": "x=1,y=2"}
    label = "GET /styles/{lab}/{mat}/{obj}/{exp}"
    assert req("shop30.yaml", label, path, headers={"x-flags": "true,false", "cookie": "prefs=1,2"}) == []
    found = req("shop30.yaml", label, path, headers={"x-flags": "true,nope", "cookie": "prefs=1,2,3"})
    at = "shop30.yaml#/paths/~1styles~1{lab}~1{mat}~1{obj}~1{exp}/get/parameters"
    assert triples(found) == [("header.X-Flags", "/1", f"{at}/4/schema/items/type"),
                              ("cookie.prefs", "", f"{at}/5/schema/maxItems")]
    assert found[1].message == "must have at most 2 items, got 3"


SEARCH = "shop30.yaml#/paths/~1search/get/parameters"
FILTER = "shop30.yaml#/components/schemas/Filter"


@pytest.mark.parametrize(("query", "expected"), [
    ({"tags": ["a", "x"]}, [("query.tags", "/1", f"{SEARCH}/0/schema/items/enum")]),         # form, explode
    ({"ids": ["1,2,x"]}, [("query.ids", "/2", f"{SEARCH}/1/schema/items/type")]),            # form, no explode
    ({"words": ["ab abcd"]}, [("query.words", "/1", f"{SEARCH}/2/schema/items/maxLength")]),  # spaceDelimited
    ({"codes": ["1|-2|x"]}, [("query.codes", "/1", f"{SEARCH}/3/schema/items/minimum"),      # pipeDelimited
                             ("query.codes", "/2", f"{SEARCH}/3/schema/items/type")]),
    ({"filter[color]": ["blue"], "filter[size]": ["11"]},                                    # deepObject
     [("query.filter", "/color", f"{FILTER}/properties/color/enum"),
      ("query.filter", "/size", f"{FILTER}/properties/size/maximum")]),
    ({"filter[shape]": ["round"]}, [("query.filter", "", f"{FILTER}/additionalProperties")]),
    ({"x": ["1"], "y": ["q"]},                                                                # form object, explode
     [("query.point", "/y", "shop30.yaml#/components/schemas/Point/properties/y/type")]),
    ({"meta": ['{"color": "blue", "size": 3}']},                                               # content: JSON
     [("query.meta", "/color", f"{FILTER}/properties/color/enum")]),
    ({"meta": ["{bad"]}, [("query.meta", "", f"{SEARCH}/6")]),
])
def test_query_styles(query, expected):
    assert triples(req("shop30.yaml", "GET /search", query=query)) == expected


def test_query_styles_that_keep_the_contract():
    query = {"tags": ["a", "b"], "ids": ["1,2"], "words": ["ab cd"], "codes": ["1|2.5"], "filter[color]": ["red"],
             "filter[size]": ["10"], "x": ["1"], "y": ["2"], "meta": ['{"color": "green"}'], "flag": ["true"],
             "name": ["n"], "since": ["2024-02-29T12:00:00Z"], "blob": ["aGk="]}
    assert req("shop30.yaml", "GET /search", query=query) == []


def test_messages_of_deep_objects_and_json_content():
    assert one(req("shop30.yaml", "GET /search", query={"filter[shape]": ["round"]})).message == \
        'has unexpected property "shape"'
    assert one(req("shop30.yaml", "GET /search", query={"meta": ["{bad"]})).message == \
        "is not valid JSON: Expecting property name enclosed in double quotes at column 2"
    assert one(req("styles.yaml", "GET /query", query={"e": ["ab"], "list": ["a"]},
                   headers={"x-key": "nope"})).location == "header.X-Key"


QUERY = "styles.yaml#/paths/~1query/get/parameters"


@pytest.mark.parametrize(("name", "raw", "message", "rule"), [
    ("i", "9223372036854775808", "must be <= 9223372036854775807, got 9223372036854775808", "0/schema/format"),
    ("i", "1.0", 'must be integer, got string "1.0"', "0/schema/type"),
    ("n", "1.2", "must be a multiple of 0.5, got 1.2", "1/schema/multipleOf"),
    ("n", "x", 'must be number, got string "x"', "1/schema/type"),
    ("b", "1", 'must be boolean, got string "1"', "2/schema/type"),
    ("b", "True", 'must be boolean, got string "True"', "2/schema/type"),
    ("s", "abcd", "must be at most 3 characters long, got 4", "3/schema/maxLength"),
    ("o", "x,1,y,-1", "must be >= 0, got -1", None),
    ("any", "x", 'must match exactly one schema of oneOf, matches none (#0: must be integer, got string "x"; '
                 '#1: must be boolean, got string "x")', "6/schema/oneOf"),
])
def test_strings_are_coerced_by_the_schema_type(name, raw, message, rule):
    found = one(req("styles.yaml", "GET /query", query={"e": ["ab"], "list": ["a"], name: [raw]}))
    assert (found.location, found.message) == (f"query.{name}", message)
    assert found.schema == (f"{QUERY}/{rule}" if rule else f"{POINT}/y/minimum")


@pytest.mark.parametrize(("name", "raw"), [
    ("i", "-9223372036854775808"), ("i", "+42"), ("n", "1e1"), ("n", ".5"), ("n", "-2"), ("b", "false"),
    ("s", "abc"), ("o", "x,1,y,2"), ("any", "3"), ("any", "true"),
])
def test_strings_that_read_as_the_schema_type_pass(name, raw):
    assert req("styles.yaml", "GET /query", query={"e": ["ab"], "list": ["a"], name: [raw]}) == []


def test_empty_query_values():
    search = "GET /search"
    # allowEmptyValue: ?flag= is fine; without it an empty value is a violation naming the parameter
    assert req("shop30.yaml", search, query={"flag": [""]}) == []
    found = one(req("shop30.yaml", search, query={"name": [""]}))
    assert (found.location, found.pointer, found.schema) == ("query.name", "", f"{SEARCH}/8")
    assert found.message == "is empty; send a value or leave the parameter out (it does not allow empty values)"
    # an array sent empty is the empty list, exploded or not (enum and type of items do not apply)
    assert req("shop30.yaml", search, query={"tags": [""]}) == []
    assert req("shop30.yaml", search, query={"ids": [""]}) == []
    # required with allowEmptyValue: present and empty is present
    assert req("styles.yaml", "GET /query", query={"e": [""], "list": ["a"]}) == []
    found = one(req("styles.yaml", "GET /query", query={"e": ["ab"], "list": [""]}))
    assert (found.location, found.message, found.schema) == ("query.list", "must have at least 1 items, got 0",
                                                             f"{QUERY}/7/schema/minItems")


def test_formats_of_parameters():
    found = req("shop30.yaml", "GET /search", query={"since": ["yesterday"], "blob": ["!!"], "ids": ["1,99999999999"]})
    assert [(v.location, v.message, v.schema) for v in found] == [
        ("query.ids", "must be <= 2147483647, got 99999999999", f"{SEARCH}/1/schema/items/format"),
        ("query.since", 'must be a valid date-time, got "yesterday"', f"{SEARCH}/9/schema/format"),
        ("query.blob", 'must be a valid byte, got "!!"', f"{SEARCH}/10/schema/format"),
    ]


# == request bodies ==============================================================================

ORDER = {"items": [{"sku": "ABC-1", "qty": 1}], "customer": {"email": "a@b.co"}, "secret": "abcd"}
SCHEMAS = "shop30.yaml#/components/schemas"


@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8", "Application/JSON",
                                          "application/vnd.shop+json"])
def test_json_body_that_keeps_the_contract(content_type):
    assert req("shop30.yaml", "POST /orders", body=json.dumps(ORDER).encode(), content_type=content_type) == []


def test_json_body_violations_name_the_pointer_and_the_rule():
    found = req("shop30.yaml", "POST /orders", body={**ORDER, "items": [{"sku": "abc", "qty": 0}, {}]})
    assert triples(found) == [
        ("body", "/items/0/sku", f"{SCHEMAS}/Item/properties/sku/pattern"),
        ("body", "/items/0/qty", f"{SCHEMAS}/Item/properties/qty/minimum"),
        ("body", "/items/1", f"{SCHEMAS}/Item/required"),
        ("body", "/items/1", f"{SCHEMAS}/Item/required"),
    ]
    assert [v.message for v in found] == ['must match the pattern ^[A-Z]{3}-[0-9]+$, got "abc"', "must be >= 1, got 0",
                                          'missing required property "sku"', 'missing required property "qty"']


def test_a_media_type_range_picks_the_schema():
    found = one(req("shop30.yaml", "POST /orders", body=json.dumps({**ORDER, "items": []}).encode(),
                    content_type="application/merge-patch+json"))
    assert (found.pointer, found.schema) == ("/items", f"{SCHEMAS}/Order/properties/items/minItems")
    assert found.message == "must have at least 1 items, got 0"


def test_a_body_that_is_not_json():
    found = one(req("shop30.yaml", "POST /orders", body=b'{"items": [', content_type=JSON))
    assert triples([found]) == [("body", "", "")]
    assert found.message == "is not valid JSON: Expecting value at line 1 column 12"
    assert one(req("shop30.yaml", "POST /orders", body=b"\xff", content_type=JSON)).message == \
        "is not valid JSON: not UTF-8"


@pytest.mark.parametrize("encode", [
    lambda text: text.encode(),                              # what the scanner reads alone
    lambda text: f"  {text}\n".encode(),                     # white space around the document
    lambda text: b"\xef\xbb\xbf" + text.encode(),             # a UTF-8 byte order mark
    lambda text: text.encode("utf-16"),                      # UTF-16 (json.loads detects it)
], ids=["plain", "white-space", "utf-8-bom", "utf-16"])
def test_a_body_is_judged_the_same_however_its_json_is_written(encode):
    """A valid JSON body takes a short way (the C scanner, then the schema); any body that way
    cannot read, or finds invalid, goes the whole way: the verdicts must not depend on which."""
    assert req("shop30.yaml", "POST /orders", body=encode(json.dumps(ORDER)), content_type=JSON) == []
    found = req("shop30.yaml", "POST /orders", body=encode(json.dumps({**ORDER, "items": [{"sku": "abc", "qty": 1}]})),
                content_type=JSON)
    assert triples(found) == [("body", "/items/0/sku", f"{SCHEMAS}/Item/properties/sku/pattern")]
    found = one(req("shop30.yaml", "POST /orders", body=encode(json.dumps(ORDER) + " {}"), content_type=JSON))
    assert found.message.startswith("is not valid JSON: Extra data")


def test_valid_bodies_are_remembered_by_content_type_and_bytes_and_invalid_ones_never():
    from stuntman.openapi import bodies

    content = RequestValidator(spec("shop30.yaml"), _op("shop30.yaml", "POST /orders")).body
    assert content is not None
    good, bad = json.dumps(ORDER).encode(), json.dumps({**ORDER, "items": []}).encode()
    for _ in range(2):
        out: list = []
        content.check(good, JSON, "body", out)
        assert out == [] and (JSON, good) in content.valid
        content.check(bad, JSON, "body", out)
        assert [v.pointer for v in out] == ["/items"] and (JSON, bad) not in content.valid
    out = []
    content.check(good, "application/merge-patch+json", "body", out)  # judged again under its own type
    assert out == [] and ("application/merge-patch+json", good) in content.valid
    for n in range(3 * bodies.VALID_BODIES):  # bounded
        content.check(json.dumps({**ORDER, "secret": f"s{n:04}"}).encode(), JSON, "body", out)
        assert len(content.valid) <= bodies.VALID_BODIES
    big = json.dumps({**ORDER, "secret": "x" * bodies.VALID_BODY_BYTES}).encode()
    content.check(big, JSON, "body", out)
    assert out == [] and (JSON, big) not in content.valid


def test_numbers_too_long_to_read_and_json_nested_too_deeply_are_violations():
    """Python's int() refuses more than 4300 digits (and json.loads raises a plain ValueError);
    the C JSON scanner raises RecursionError: each is a violation, not an exception."""
    digits = "1" * 5000
    found = one(req("shop30.yaml", "POST /orders", body=f'{{"items": [{{"qty": {digits}}}]}}'.encode(),
                    content_type=JSON))
    assert (found.location, found.message) == ("body", "is not valid JSON: a number has more digits than can be read")
    found = one(req("shop30.yaml", "GET /search", query={"meta": [f'{{"size": {digits}}}']}))
    assert (found.location, found.message) == ("query.meta",
                                               "is not valid JSON: a number has more digits than can be read")
    found = one(req("shop30.yaml", "GET /search", query={"meta": ["[" * 100_000]}))
    assert (found.location, found.message) == ("query.meta", "is not valid JSON: nested too deeply")
    found = one(req("shop30.yaml", "POST /orders", body=b"[" * 100_000, content_type=JSON))
    assert (found.location, found.message) == ("body", "is not valid JSON: nested too deeply")
    found = req("shop30.yaml", "GET /pets/{petId}", {"petId": digits}, {"limit": ["1"]}, GOOD_PET_HEADERS)
    assert triples(found) == [("path.petId", "", "shop30.yaml#/components/parameters/PetId/schema/type")]
    assert found[0].message.startswith('must be integer, got string "1111')


FORM = "shop30.yaml#/paths/~1orders/post/requestBody/content/application~1x-www-form-urlencoded/schema"
MULTIPART = "shop30.yaml#/paths/~1orders/post/requestBody/content/multipart~1form-data/schema"


def test_form_urlencoded_body_is_coerced_by_property_types():
    form = "application/x-www-form-urlencoded"
    assert req("shop30.yaml", "POST /orders", body=b"qty=2&sku=A&tags=1&tags=2&gift=true", content_type=form) == []
    found = req("shop30.yaml", "POST /orders", body=b"qty=0&tags=1&tags=x&gift=maybe", content_type=form)
    assert triples(found) == [
        ("body", "", f"{FORM}/required"),
        ("body", "/qty", f"{FORM}/properties/qty/minimum"),
        ("body", "/tags/1", f"{FORM}/properties/tags/items/type"),
        ("body", "/gift", f"{FORM}/properties/gift/type"),
    ]
    assert found[0].message == 'missing required property "sku"'


def test_form_fields_are_coerced_by_the_properties_of_all_of_members():
    form = "application/x-www-form-urlencoded"
    assert req("cases30.yaml", "POST /signup", body=b"age=3&newsletter=true", content_type=form) == []
    found = req("cases30.yaml", "POST /signup", body=b"age=x&newsletter=yes", content_type=form)
    assert triples(found) == [
        ("body", "/age", "cases30.yaml#/components/schemas/Aged/properties/age/type"),
        ("body", "/newsletter", "cases30.yaml#/paths/~1signup/post/requestBody/content/"
                                "application~1x-www-form-urlencoded/schema/allOf/1/properties/newsletter/type"),
    ]


def _multipart(**fields: bytes) -> bytes:
    parts = [b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value)
             for name, value in fields.items()]
    return b"".join(parts) + b"--XX--\r\n"


def test_multipart_body_parts_are_checked():
    ct = "multipart/form-data; boundary=XX"
    assert req("shop30.yaml", "POST /orders", body=_multipart(meta=b"m", file=b"\x00\xff\x01", count=b"3"),
               content_type=ct) == []
    found = req("shop30.yaml", "POST /orders", body=_multipart(file=b"x", count=b"5"), content_type=ct)
    assert triples(found) == [("body", "", f"{MULTIPART}/required"),
                              ("body", "/count", f"{MULTIPART}/properties/count/maximum")]
    assert [v.message for v in found] == ['missing required property "meta"', "must be <= 3, got 5"]
    for wrong in ("multipart/form-data", "multipart/form-data; boundary=YY"):
        found = one(req("shop30.yaml", "POST /orders", body=_multipart(meta=b"m", file=b"x"), content_type=wrong))
        assert (found.location, found.message) == ("body", "is not a multipart body with the boundary its "
                                                           "Content-Type names")


def test_a_multipart_part_named_after_its_file_name():
    """name= is found whatever the order of the Content-Disposition parameters (not inside filename=)."""
    body = (b'--XX\r\nContent-Disposition: form-data; filename="a.bin"; name="file"\r\n\r\nDATA\r\n'
            b'--XX\r\ncontent-disposition: form-data;name="meta"\r\n\r\nm\r\n--XX--\r\n')
    assert req("shop30.yaml", "POST /orders", body=body, content_type="multipart/form-data; boundary=XX") == []


def test_a_media_type_without_a_schema_or_reader_is_not_read():
    assert req("shop30.yaml", "POST /orders", body=b"anything at all", content_type="text/plain") == []


def test_content_types_that_are_not_declared():
    accepted = ("application/json; charset=utf-8 or application/*+json or application/x-www-form-urlencoded or "
                "multipart/form-data or text/plain")
    where = "shop30.yaml#/paths/~1orders/post/requestBody/content"
    found = one(req("shop30.yaml", "POST /orders", body=b"<order/>", content_type="application/xml"))
    assert triples([found]) == [("content-type", "", where)]
    assert found.message == f"'application/xml' is not accepted; the body must be {accepted}"
    found = one(req("shop30.yaml", "POST /orders", body=b"{}", content_type=None))
    assert triples([found]) == [("content-type", "", where)]
    assert found.message == f"is missing; the body must be {accepted}"


def test_a_required_body_that_is_missing():
    found = one(req("shop30.yaml", "POST /orders"))
    assert triples([found]) == [("body", "", "shop30.yaml#/paths/~1orders/post/requestBody/required")]
    assert found.message.startswith("is required (application/json; charset=utf-8 or ") and \
        found.message.endswith(") but empty")


def test_an_optional_body_may_be_empty_and_a_body_no_operation_declares_is_not_checked():
    assert req("shop30.yaml", "POST /pets") == []
    assert req("shop30.yaml", "GET /search", body=b"<junk>", content_type="text/html") == []


# == schemas =====================================================================================

def test_30_nullable_on_types_enums_and_composites():
    null_ok = {**ORDER, "note": None, "status": None, "coupon": None}
    assert req("shop30.yaml", "POST /orders", body=null_ok) == []
    found = req("shop30.yaml", "POST /orders", body={**ORDER, "note": 5, "status": "x", "coupon": {}, "gift": None})
    assert triples(found) == [
        ("body", "/note", f"{SCHEMAS}/Order/properties/note/type"),
        ("body", "/status", f"{SCHEMAS}/Order/properties/status/enum"),
        # through the nullable wrapper of allOf, the rule is where it is written
        ("body", "/coupon", f"{SCHEMAS}/Coupon/required"),
        # a $ref to a schema that is not nullable does not take null
        ("body", "/gift", f"{SCHEMAS}/Coupon/type"),
    ]
    assert [v.message for v in found] == ["must be string or null, got integer 5",
                                          'must be one of "open", "closed", null, got "x"',
                                          'missing required property "code"', "must be object, got null"]


def test_30_boolean_exclusive_bounds():
    found = one(req("shop30.yaml", "POST /orders", body={**ORDER, "total": 0}))
    assert (found.message, found.schema) == ("must be > 0, got 0", f"{SCHEMAS}/Order/properties/total/exclusiveMinimum")
    assert req("shop30.yaml", "POST /orders", body={**ORDER, "total": 0.01}) == []
    found = one(req("cases30.yaml", "POST /pets", query={"lot": ["10"]}, body={"pet": {"kind": "cat", "lives": 1}}))
    assert (found.message, found.schema) == ("must be < 10, got 10",
                                             "cases30.yaml#/paths/~1pets/post/parameters/6/schema/exclusiveMaximum")
    assert req("cases30.yaml", "POST /pets", query={"lot": ["9"]}, body={"pet": {"kind": "cat", "lives": 1}}) == []


def test_30_ref_siblings_are_ignored_and_31_ref_siblings_apply():
    # 3.0: {$ref: Short (maxLength 5), minLength: 3}: the sibling minLength is not a rule
    assert req("cases30.yaml", "POST /siblings", body={"name": "ab"}) == []
    found = one(req("cases30.yaml", "POST /siblings", body={"name": "abcdef"}))
    assert (found.pointer, found.schema) == ("/name", "cases30.yaml#/components/schemas/Short/maxLength")
    # 3.1: {$ref: Text (minLength 2), maxLength: 4}: both are rules
    notes = "cases31.yaml#/paths/~1notes/post/requestBody/content/application~1json/schema/properties"
    assert triples(req("cases31.yaml", "POST /notes", body={"text": "abcde"})) == [
        ("body", "/text", f"{notes}/text/maxLength")]
    assert triples(req("cases31.yaml", "POST /notes", body={"text": "a"})) == [
        ("body", "/text", "cases31.yaml#/components/schemas/Text/minLength")]
    assert req("cases31.yaml", "POST /notes", body={"text": "abcd"}) == []


def test_31_type_arrays_const_and_prefix_items():
    put = "PUT /things/{id}"
    good = {"name": "abc", "label": None, "pair": ["a", 1]}
    assert req("shop31.yaml", put, {"id": "5"}, {"mode": ["true"]}, body=good) == []
    assert req("shop31.yaml", put, {"id": "null"}, body=good) == []
    found = req("shop31.yaml", put, {"id": "x"}, {"mode": ["false"]},
                body={"name": "abcdefg", "label": 3, "price": 0, "pair": ["a", 1, 2]})
    thing = "shop31.yaml#/components/schemas/Thing/properties"
    assert triples(found) == [
        ("path.id", "", "shop31.yaml#/paths/~1things~1{id}/put/parameters/0/schema/type"),
        ("query.mode", "", "shop31.yaml#/paths/~1things~1{id}/put/parameters/1/schema/const"),
        ("body", "/name", f"{thing}/name/maxLength"),
        ("body", "/label", f"{thing}/label/type"),
        ("body", "/price", f"{thing}/price/exclusiveMinimum"),
        ("body", "/pair/2", f"{thing}/pair/items"),
    ]
    assert [v.message for v in found] == ['must be integer or null, got string "x"', "must be true, got false",
                                          "must be at most 5 characters long, got 7",
                                          "must be string or null, got integer 3",
                                          "must be > 0, got 0", "is not allowed here"]
    found = req("shop31.yaml", put, {"id": "1"}, body={"name": "abc", "label": "x", "pair": [1, "a"]})
    assert triples(found) == [("body", "/pair/0", f"{thing}/pair/prefixItems/0/type"),
                              ("body", "/pair/1", f"{thing}/pair/prefixItems/1/type")]


def test_31_keywords():
    body = {"text": "abc", "score": None, "kind": "note", "tags": ["main", "x"], "ratio": 0.5}
    assert req("cases31.yaml", "POST /notes", body=body) == []
    found = req("cases31.yaml", "POST /notes", body={"score": 2, "tags": ["x", "x"], "ratio": 1, "extra": 1})
    at = "cases31.yaml#/paths/~1notes/post/requestBody/content/application~1json/schema"
    assert sorted((v.pointer, v.schema[len(at):], v.message) for v in found) == [
        ("", "/dependentRequired", 'missing required property "kind"'),
        ("", "/unevaluatedProperties", 'has unexpected property "extra"'),
        ("/ratio", "/properties/ratio/exclusiveMaximum", "must be < 1, got 1"),
        ("/tags", "/properties/tags/contains",
         "must contain an item matching the schema under `contains` (or enough of them)"),
        ("/tags", "/properties/tags/uniqueItems", "must not contain duplicate items"),
    ]


@pytest.mark.parametrize("name", ["cases30.yaml", "cases31.yaml"])
def test_read_only_is_not_required_in_requests_and_write_only_not_in_responses(name):
    account = f"{name}#/components/schemas/Account/required"
    assert req(name, "POST /accounts", body={"password": "12345678", "owner": "me"}) == []
    # writeOnly stays required in requests, readOnly in responses
    assert triples(req(name, "POST /accounts", body={"owner": "me"})) == [("body", "", account)]
    check = response(name, "POST /accounts").check
    assert check(201, {}, json.dumps({"id": 1, "owner": "me"}).encode(), JSON) == []
    found = one(check(201, {}, json.dumps({"owner": "me"}).encode(), JSON))
    assert (found.pointer, found.message, found.schema) == ("", 'missing required property "id"', account)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_read_only_and_write_only_declared_in_another_all_of_member(method):
    """`required` in one allOf member (or around the allOf) naming properties another member
    declares readOnly/writeOnly: not required in that direction either."""
    schemas = "cases30.yaml#/components/schemas"
    sent = "RequiredInMember/allOf/1/required" if method == "POST" else "RequiredAround/required"
    answered = "RequiredAround/required" if method == "POST" else "RequiredInMember/allOf/1/required"
    assert req("cases30.yaml", f"{method} /things", body={"name": "n", "secret": "s"}) == []
    found = req("cases30.yaml", f"{method} /things", body={"id": 1})
    assert [(v.pointer, v.message, v.schema) for v in found] == [
        ("", 'missing required property "name"', f"{schemas}/{sent}"),
        ("", 'missing required property "secret"', f"{schemas}/{sent}"),
    ]
    check = response("cases30.yaml", f"{method} /things").check
    assert check(200 if method == "PUT" else 201, {}, b'{"id": 1, "name": "n"}', JSON) == []
    found = check(200 if method == "PUT" else 201, {}, b'{"secret": "s"}', JSON)
    assert [(v.message, v.schema) for v in found] == [('missing required property "id"', f"{schemas}/{answered}"),
                                                      ('missing required property "name"', f"{schemas}/{answered}")]


def test_read_only_sent_in_a_request_is_accepted_and_still_checked():
    assert req("shop30.yaml", "POST /orders", body={**ORDER, "id": UUID}) == []
    found = one(req("shop30.yaml", "POST /orders", body={**ORDER, "id": "x"}))
    assert (found.pointer, found.schema) == ("/id", f"{SCHEMAS}/Order/properties/id/format")
    found = one(req("cases31.yaml", "POST /accounts", body={"password": "12345678", "owner": "me", "id": 0}))
    assert (found.pointer, found.schema) == ("/id", "cases31.yaml#/components/schemas/Id/minimum")


def test_write_only_sent_in_a_response_is_checked():
    found = one(response("cases30.yaml", "POST /accounts").check(
        201, {}, json.dumps({"id": 1, "owner": "me", "password": "x"}).encode(), JSON))
    assert (found.pointer, found.schema) == ("/password", "cases30.yaml#/components/schemas/Password/minLength")


def test_all_of_with_refs_has_no_false_errors():
    """Prism #2644: merging allOf members without resolving their $refs reported errors for valid
    bodies. Here allOf stays allOf: each member is checked where it is written."""
    good = {"name": "a", "age": 1, "owner": {"name": "b"}, "tags": [{"name": "c"}]}
    assert req("cases30.yaml", "POST /composed", body=good) == []
    assert req("shop30.yaml", "POST /pets", body={"name": "x"}) == []   # Pet: allOf [NewPet, {id readOnly}]
    found = req("cases30.yaml", "POST /composed", body={"name": "a", "age": -1, "owner": {}, "tags": [{"name": 1}]})
    assert triples(found) == [
        ("body", "/age", "cases30.yaml#/components/schemas/Aged/properties/age/minimum"),
        ("body", "/owner", "cases30.yaml#/components/schemas/Named/required"),
        ("body", "/tags/0/name", "cases30.yaml#/components/schemas/Named/properties/name/type"),
    ]
    found = req("cases30.yaml", "POST /composed", body={"age": 1})
    assert triples(found) == [("body", "", "cases30.yaml#/components/schemas/Named/required")]
    found = req("shop30.yaml", "POST /pets", body={"name": 1, "id": "x"})
    assert triples(found) == [("body", "/name", f"{SCHEMAS}/NewPet/properties/name/type"),
                              ("body", "/id", f"{SCHEMAS}/Pet/allOf/1/properties/id/type")]


def test_one_of_with_a_discriminator():
    assert req("cases30.yaml", "POST /pets", body={"pet": {"kind": "cat", "lives": 3}}) == []
    assert req("cases30.yaml", "POST /pets", body={"pet": {"kind": "dog", "bark": True}}) == []
    # 3.0: the branch the discriminator names decides (as openapi-schema-validator reads it), so
    # the error is that branch's, not "matches none" of the oneOf
    found = one(req("cases30.yaml", "POST /pets", body={"pet": {"kind": "cat", "lives": 30}}))
    assert triples([found]) == [("body", "/pet/lives", "cases30.yaml#/components/schemas/Cat/properties/lives/maximum")]
    disc = "cases30.yaml#/components/schemas/Pet/properties/pet/discriminator"
    found = one(req("cases30.yaml", "POST /pets", body={"pet": {"lives": 3}}))
    assert triples([found]) == [("body", "/pet", f"{disc}/propertyName")]
    assert found.message == 'missing required property "kind"'
    found = one(req("cases30.yaml", "POST /pets", body={"pet": {"kind": "cow"}}))
    assert triples([found]) == [("body", "/pet/kind", f"{disc}/mapping")]
    assert triples([one(req("cases30.yaml", "POST /pets", body={"pet": 3}))]) == [("body", "/pet", disc)]


def test_a_discriminated_one_of_whose_branches_overlap(tmp_path):
    # (influxdata.com, telnyx.com, ix-api.net in APIs.guru: a catch-all branch accepts the others'
    # values; the discriminator says which one a value is)
    schemas = {"Pet": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
               "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                                 {"type": "object", "required": ["lives"],
                                  "properties": {"lives": {"type": "integer"}}}]},
               "Any": {"$ref": "#/components/schemas/Pet"}}
    body = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Any"}],
            "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat",
                                                                 "other": "#/components/schemas/Any"}}}
    for version in ("3.0.3", "3.1.0"):
        doc = {"openapi": version, "info": {"title": "t", "version": "1"}, "components": {"schemas": schemas},
               "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {
                   JSON: {"schema": body}}}}}}}}
        (tmp_path / "d.json").write_text(json.dumps(doc))
        loaded = load_spec(tmp_path / "d.json", "d.json")
        check = ResponseValidator(loaded, loaded.operations[0]).check
        found = check(200, {}, b'{"kind": "cat", "lives": 9}', JSON)
        if version.startswith("3.0"):
            assert found == []  # a cat, though Any accepts it too
            assert triples(check(200, {}, b'{"kind": "cat"}', JSON)) == [
                ("body", "", "d.json#/components/schemas/Cat/allOf/1/required")]
        else:  # 3.1: the discriminator is an annotation, the oneOf is JSON Schema's
            assert [v.message for v in found] == ["must match exactly one schema of oneOf, but matches several"]
        assert check(200, {}, b'{"kind": "other"}', JSON) == []


def test_circular_schemas():
    body = {"name": "a", "next": {"name": "b", "next": {"children": [{"name": 1}]}}}
    found = req("cases30.yaml", "PUT /nodes", body=body)
    node = "cases30.yaml#/components/schemas/Node"
    assert triples(found) == [("body", "/next/next", f"{node}/required"),
                              ("body", "/next/next/children/0/name", f"{node}/properties/name/type")]
    deep: dict = {"name": "leaf"}
    for _ in range(200):
        deep = {"name": "n", "children": [deep]}
    assert req("cases30.yaml", "PUT /nodes", body=deep) == []


def test_refs_into_other_files_name_that_file():
    body = {"value": 1, "children": [{"value": -1, "children": [{"value": 2, "leaf": "toolong"}]}]}
    found = req("multi/main.yaml", "POST /trees", body=body)
    assert triples(found) == [("body", "/children/0/value", "schemas/tree.yaml#/Node/properties/value/minimum"),
                              ("body", "/children/0/children/0/leaf", "schemas/tree.yaml#/Leaf/maxLength")]
    found = one(response("multi/main.yaml", "POST /trees").check(200, {}, b'{"value": "x"}', JSON))
    assert found.schema == "schemas/tree.yaml#/Node/properties/value/type"


FORMATS_OK = {"at": "2024-01-01T10:00:00+02:00", "id": UUID, "mail": "a@b.io", "small": 2 ** 31 - 1,
              "big": -(2 ** 63), "blob": "aGVsbG8=", "low": 5}
SIB = "cases30.yaml#/paths/~1siblings/post/requestBody/content/application~1json/schema/properties"


@pytest.mark.parametrize(("field", "value", "message", "rule"), [
    ("at", "2024-13-01T00:00:00Z", 'must be a valid date-time, got "2024-13-01T00:00:00Z"', "at/format"),
    ("at", "2024-01-01", 'must be a valid date-time, got "2024-01-01"', "at/format"),
    ("id", "6f1c3b0e", 'must be a valid uuid, got "6f1c3b0e"', "id/format"),
    ("mail", "nope", 'must be a valid email, got "nope"', "mail/format"),
    ("small", 2 ** 31, "must be <= 2147483647, got 2147483648", "small/format"),
    ("small", -(2 ** 31) - 1, "must be >= -2147483648, got -2147483649", "small/format"),
    ("big", 2 ** 63, "must be <= 9223372036854775807, got 9223372036854775808", "big/format"),
    ("blob", "a", 'must be a valid byte, got "a"', "blob/format"),
    ("blob", "aGVsbG8", 'must be a valid byte, got "aGVsbG8"', "blob/format"),
    # int32 and a minimum of its own: the tighter bound is the rule that is named
    ("low", 4, "must be >= 5, got 4", "low/minimum"),
])
def test_formats(field, value, message, rule):
    assert req("cases30.yaml", "POST /siblings", body=FORMATS_OK) == []
    found = one(req("cases30.yaml", "POST /siblings", body={**FORMATS_OK, field: value}))
    assert (found.pointer, found.message, found.schema) == (f"/{field}", message, f"{SIB}/{rule}")


def test_a_huge_invalid_array_stops_at_max_errors():
    found = req("cases30.yaml", "POST /items", body=list(range(10, 10_010)))
    assert len(found) == MAX_ERRORS + 1
    assert found[0].pointer == "/0" and found[MAX_ERRORS - 1].pointer == f"/{MAX_ERRORS - 1}"
    assert triples(found[-1:]) == [("body", "", "")]
    assert found[-1].message == f"more than {MAX_ERRORS} errors, the rest not listed"


# == Swagger 2.0 =================================================================================

def test_swagger_20_query_collection_formats_and_exclusive_minimum():
    ok = {"ids": ["1,2"], "tag": ["a", "b"], "codes": ["1|2"], "limit": ["2"]}
    assert req("swagger2.yaml", "GET /items", query=ok) == []
    found = req("swagger2.yaml", "GET /items", query={"ids": ["1,x"], "codes": ["1|y"], "limit": ["1"]})
    at = "swagger2.yaml#/paths/~1items/get/parameters"
    assert [(v.location, v.pointer, v.message) for v in found] == [
        ("query.ids", "/1", 'must be integer, got string "x"'),
        ("query.codes", "/1", 'must be integer, got string "y"'),
        ("query.limit", "", "must be > 1, got 1"),
    ]
    # the rule is named where the 2.0 file has it (a 2.0 parameter has no `schema`: its keywords are its own)
    assert found[0].schema == f"{at}/0/items/type"


def test_swagger_20_body_parameter_and_x_nullable():
    assert req("swagger2.yaml", "POST /items", body={"name": "n", "parent": None}) == []
    found = one(req("swagger2.yaml", "POST /items", body={"parent": None}))
    assert (found.location, found.schema) == ("body", "swagger2.yaml#/definitions/Item/required")
    assert one(req("swagger2.yaml", "POST /items")).message == "is required (application/json) but empty"


def test_swagger_20_form_data():
    ct = "multipart/form-data; boundary=XX"
    assert req("swagger2.yaml", "POST /upload", body=_multipart(file=b"\x00", title=b"hi"), content_type=ct) == []
    found = req("swagger2.yaml", "POST /upload", body=_multipart(title=b"hello!"), content_type=ct)
    assert [(v.pointer, v.message) for v in found] == [("", 'missing required property "file"'),
                                                       ("/title", "must be at most 5 characters long, got 6")]


def test_swagger_20_path_header_and_urlencoded_form_data():
    form = "application/x-www-form-urlencoded"
    login = "POST /login/{tenant}"
    body = b"user=u&remember=true&scopes=read&scopes=write"
    assert req("swagger2.yaml", login, {"tenant": "1"}, headers={"x-attempt": "2"}, body=body, content_type=form) == []
    found = req("swagger2.yaml", login, {"tenant": "0"}, headers={"x-attempt": "4"},
                body=b"remember=yes&scopes=read&scopes=admin", content_type=form)
    assert [(v.location, v.pointer, v.message) for v in found] == [
        ("path.tenant", "", "must be >= 1, got 0"),
        ("header.X-Attempt", "", "must be <= 3, got 4"),
        ("body", "", 'missing required property "user"'),
        ("body", "/remember", 'must be boolean, got string "yes"'),
        ("body", "/scopes/1", 'must be one of "read", "write", got "admin"'),
    ]
    found = one(req("swagger2.yaml", login, {"tenant": "1"}, body=b"{}", content_type=JSON))
    assert (found.location, found.message) == ("content-type", "'application/json' is not accepted; the body must "
                                                               "be application/x-www-form-urlencoded")


def test_swagger_20_response_schema():
    found = response("swagger2.yaml", "GET /items").check(200, {}, b'[{"name": 1}, {}]', JSON)
    assert triples(found) == [("body", "/0/name", "swagger2.yaml#/definitions/Item/properties/name/type"),
                              ("body", "/1", "swagger2.yaml#/definitions/Item/required")]


# == responses ===================================================================================

PET_RESPONSES = "shop30.yaml#/paths/~1pets~1{petId}/get/responses"


def test_a_response_that_keeps_the_contract():
    check = response("shop30.yaml", "GET /pets/{petId}").check
    assert check(200, {"x-rate-limit": "5"}, b'{"name": "a", "id": 1}', JSON) == []
    assert check(200, {"x-rate-limit": "0", "x-trace": "abcd"}, b'{"name": "a", "id": 1}',
                 "application/json; charset=utf-8") == []


def test_an_undeclared_status():
    found = one(response("shop30.yaml", "GET /orders/{id}").check(500, {}, b"", None))
    assert triples([found]) == [("status", "", "shop30.yaml#/paths/~1orders~1{id}/get/responses")]
    assert found.message == "500 is not a declared response (declared: 200, 404)"
    found = one(response("cases30.yaml", "POST /pets").check(404, {}, b"", None))
    assert found.message == "404 is not a declared response (declared: 200, 2XX, 5XX)"


def test_status_ranges_and_default():
    check = response("shop30.yaml", "GET /pets/{petId}").check
    # 4XX: its own media type and schema
    assert check(404, {}, b'{"title": "x"}', "application/problem+json") == []
    found = one(check(404, {}, b"{}", "application/problem+json"))
    assert (found.location, found.schema) == ("body", f"{SCHEMAS}/Error/required")
    found = one(check(404, {}, b'{"title": "x"}', JSON))
    assert triples([found]) == [("content-type", "", f"{PET_RESPONSES}/4XX/content")]
    assert found.message == "'application/json' is not accepted; the body must be application/problem+json"
    # default: anything not declared otherwise
    assert check(500, {}, b'{"title": "x"}', JSON) == []
    assert triples(check(302, {}, b"{}", JSON)) == [("body", "", f"{SCHEMAS}/Error/required")]
    # an exact status wins over its range; 2XX for the rest of the 2xx
    check = response("cases30.yaml", "POST /pets").check
    assert check(200, {}, b'{"pet": {"kind": "dog", "bark": true}}', JSON) == []
    found = one(check(202, {}, b"", None))
    assert triples([found]) == [("header.Location", "", "cases30.yaml#/paths/~1pets/post/responses/2XX/headers/"
                                                        "Location/required")]
    assert found.message == "required header parameter is missing"
    assert check(202, {"location": "/pets/1"}, b"", None) == []
    assert check(503, {}, b"down", "text/plain") == []


def test_response_headers():
    check = response("shop30.yaml", "GET /pets/{petId}").check
    body = b'{"name": "a", "id": 1}'
    found = one(check(200, {}, body, JSON))
    assert triples([found]) == [("header.X-Rate-Limit", "", f"{PET_RESPONSES}/200/headers/X-Rate-Limit/required")]
    found = check(200, {"x-rate-limit": "-1", "x-trace": "toolong"}, body, JSON)
    assert triples(found) == [
        ("header.X-Rate-Limit", "", f"{PET_RESPONSES}/200/headers/X-Rate-Limit/schema/minimum"),
        ("header.X-Trace", "", f"{PET_RESPONSES}/200/headers/X-Trace/schema/maxLength"),
    ]
    assert [v.message for v in found] == ["must be >= 0, got -1", "must be at most 4 characters long, got 7"]
    found = one(check(200, {"x-rate-limit": "many"}, body, JSON))
    assert found.message == 'must be integer, got string "many"'


def test_response_bodies():
    check = response("shop30.yaml", "GET /pets/{petId}").check
    found = one(check(200, {"x-rate-limit": "5"}, b'{"name": "a"}', JSON))
    # id is readOnly: required in a response
    assert triples([found]) == [("body", "", f"{SCHEMAS}/Pet/allOf/1/required")]
    found = one(check(200, {"x-rate-limit": "5"}, b'{"name": "a", "id": 99999999999999999999}', JSON))
    assert (found.pointer, found.message, found.schema) == (
        "/id", "must be <= 9223372036854775807, got 99999999999999999999",
        f"{SCHEMAS}/Pet/allOf/1/properties/id/format")
    found = one(check(200, {"x-rate-limit": "5"}, b"", None))
    assert triples([found]) == [("body", "", f"{PET_RESPONSES}/200")]
    assert found.message == "is empty; response 200 declares a body (application/json)"
    found = one(check(200, {"x-rate-limit": "5"}, b'{"name": "a", "id": 1}', "text/html"))
    assert triples([found]) == [("content-type", "", f"{PET_RESPONSES}/200/content")]
    found = one(check(200, {"x-rate-limit": "5"}, b'{"name": "a", "id": 1}', None))
    assert found.location == "content-type"
    # no content declared: whatever body comes is not checked
    assert response("shop30.yaml", "GET /orders/{id}").check(404, {}, b"not found", "text/plain") == []


def test_a_headers_entry_that_is_not_an_object_is_not_a_crash(tmp_path):
    (tmp_path / "h.yaml").write_text('openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n  /a:\n    get:\n'
                                     '      responses:\n        "200": {description: ok, headers: [X-Bad]}\n')
    loaded = load_spec(tmp_path / "h.yaml", "h.yaml")
    check_schemas(loaded)
    assert ResponseValidator(loaded, loaded.operations[0]).check(200, {}, b"", None) == []


def test_a_response_header_described_by_content_is_compiled_and_checked(tmp_path):
    # (vtex.local's specs in APIs.guru: a header with `content` instead of `schema` was a KeyError)
    (tmp_path / "h.yaml").write_text(
        'openapi: 3.0.3\ninfo: {title: t, version: "1"}\npaths:\n  /a:\n    get:\n      responses:\n'
        '        "200":\n          description: ok\n          headers:\n            X-Count:\n'
        '              content: {text/plain: {schema: {type: integer, minimum: 1}}}\n')
    loaded = load_spec(tmp_path / "h.yaml", "h.yaml")
    check = ResponseValidator(loaded, loaded.operations[0]).check
    assert check(200, {"x-count": "3"}, b"", None) == []
    found = one(check(200, {"x-count": "0"}, b"", None))
    assert found.location == "header.X-Count"
    assert found.schema == "h.yaml#/paths/~1a/get/responses/200/headers/X-Count/content/text~1plain/schema/minimum"


def test_a_valid_pattern_too_big_for_the_rust_engine_loads_and_is_checked(tmp_path):
    # (adyen.com's `^.{0,262144}$`, seldon.local's `^.{1,2097152}`, amazonaws.com's `\\S{1,8192}` and
    # lone surrogates in a class: ECMA-262 patterns jsonschema-rs's regex engine refuses; they were
    # refused as "not a regular expression")
    def spec_with(pattern: str) -> Spec:
        doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"responses": {
            "200": {"description": "ok", "content": {JSON: {"schema": {
                "type": "object", "properties": {"note": {"type": "string", "pattern": pattern}}}}}}}}}}}
        (tmp_path / "p.json").write_text(json.dumps(doc))
        return load_spec(tmp_path / "p.json", "p.json")

    at = "p.json#/paths/~1a/get/responses/200/content/application~1json/schema/properties/note/pattern"
    for pattern, good, bad in [("^.{0,262144}$", "x" * 1000, "x" * 262145), ("^\\S{1,8192}$", "abc", "a b"),
                               ("^[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDBFF-\\uDC00\\uDFFF]*$", "ok", "\x01")]:
        loaded = spec_with(pattern)
        check = ResponseValidator(loaded, loaded.operations[0]).check
        assert check(200, {}, json.dumps({"note": good}).encode(), JSON) == []
        found = one(check(200, {}, json.dumps({"note": bad}).encode(), JSON))
        assert (found.pointer, found.schema) == ("/note", at)
    # what is not ECMA-262 stays refused (Java's \\p{XDigit}; a range from a class, [\\w-.])
    for pattern in ("^\\p{XDigit}{8}$", "^[\\w-.]+$"):
        with pytest.raises(SpecError, match="is not a regular expression"):
            spec_with(pattern)


def test_a_wildcard_response_media_type():
    check = response("cases30.yaml", "PUT /nodes").check
    assert check(200, {}, b'{"name": "x"}', "application/json") == []
    found = one(check(200, {}, b'{"name": 3}', "application/json"))
    assert found.schema == "cases30.yaml#/components/schemas/Node/properties/name/type"
    assert check(200, {}, b"plain text", "text/plain") == []  # */* took it; no reader for text


# == problem() ===================================================================================

def test_problem_body_shape():
    found = req("shop30.yaml", "POST /orders", body={**ORDER, "items": [{"sku": "abc", "qty": 0}, {}]})
    body = json.loads(problem(found))
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert (body["type"], body["title"], body["status"]) == ("about:blank", "Request does not match the contract", 400)
    assert body["detail"] == ('body/items/0/sku: must match the pattern ^[A-Z]{3}-[0-9]+$, got "abc"; '
                              "body/items/0/qty: must be >= 1, got 0; "
                              'body/items/1: missing required property "sku" (and 1 more)')
    assert body["errors"] == [v.as_dict() for v in found]
    assert body["errors"][0] == {"location": "body", "pointer": "/items/0/sku",
                                 "message": 'must match the pattern ^[A-Z]{3}-[0-9]+$, got "abc"',
                                 "schema": f"{SCHEMAS}/Item/properties/sku/pattern"}


def test_problem_with_a_status_a_title_and_text_that_is_not_ascii():
    violation = Violation("query.name", "", "must be one of \"é\", got \"ü\"", "x.yaml#/a")
    raw = problem([violation], 422, "Unprocessable")
    assert "é".encode() in raw
    body = json.loads(raw)
    assert (body["status"], body["title"], body["detail"]) == (422, "Unprocessable",
                                                               'query.name: must be one of "é", got "ü"')


# == the validators against an independent one ==================================================

def _oracle() -> Any:
    doc = yaml.safe_load((SPECS / "shop30.yaml").read_text())
    schema = {"$ref": "#/components/schemas/Order", "components": doc["components"]}
    return OAS30WriteValidator(schema, format_checker=oas30_format_checker)


@pytest.mark.parametrize("body", [
    ORDER,
    {**ORDER, "items": []},
    {**ORDER, "items": [{"sku": "ABC-1", "qty": 0}, {"sku": "x"}, "no"]},
    {**ORDER, "customer": {"email": "not an address"}},
    # (not status: null: nullable adds null to an enum here, where 3.0.3 read strictly, and the
    # independent validator, do not; see test_30_nullable_on_types_enums_and_composites)
    {**ORDER, "note": None},
    {**ORDER, "note": "01234567890", "status": "lost"},
    {**ORDER, "total": 0},
    {**ORDER, "total": -1},
    {**ORDER, "secret": "abc"},
    {"items": [{"sku": "ABC-1", "qty": 1}]},
    {**ORDER, "gift": {"code": 1}},
    [],
    "order",
])
def test_verdicts_and_pointers_agree_with_openapi_schema_validator(body):
    oracle = sorted({"".join(f"/{p}" for p in e.absolute_path) for e in _oracle().iter_errors(body)})
    ours = sorted({v.pointer for v in req("shop30.yaml", "POST /orders", body=body)})
    assert ours == oracle


# == schemas that are not schemas ===============================================================

@pytest.mark.parametrize(("name", "file", "where", "message"), [
    ("bad-type.yaml", "bad-type.yaml", "/components/schemas/Pet/properties/name/type",
     "type 'strin' is not a type (string, number, integer, boolean, array, object, null)"),
    ("bad-minimum.yaml", "bad-minimum.yaml", "/paths/~1pets/get/parameters/0/schema/minimum",
     'minimum: "x" is not of type "number"'),
    ("bad-required.yaml", "bad-required.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema/properties/name/required",
     'required: true is not of type "array"'),
    ("bad-pattern.yaml", "bad-pattern.yaml", "/paths/~1pets~1{id}/get/parameters/0/schema/pattern",
     "pattern '(' is not a regular expression"),
    ("bad-nullable.yaml", "bad-nullable.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema/allOf/0/properties/tags/maxItems",
     'maxItems: "many" is not of type "integer"'),
    ("bad-other-file.yaml", "schemas/pet.yaml", "/Tag/pattern", "pattern '[a-z' is not a regular expression"),
    ("bad-ref.yaml", "bad-ref.yaml",
     "/paths/~1pets/post/requestBody/content/application~1json/schema/properties/owner/$ref",
     "a $ref is a reference (a string), got int 5"),
    # of two, the one the first operation reaches
    ("two-bad.yaml", "two-bad.yaml", "/components/schemas/First/properties/a/minLength",
     "minLength: -1 is less than the minimum of 0"),
    # schemas no operation uses are checked too
    ("unused-schema.yaml", "unused-schema.yaml", "/components/schemas/Legacy/properties/code/maxLength",
     "maxLength: -1 is less than the minimum of 0"),
    ("unused-definition.yaml", "unused-definition.yaml", "/definitions/Legacy/properties/code/pattern",
     "pattern '[unclosed' is not a regular expression"),
    ("not-a-schema.yaml", "not-a-schema.yaml",
     "/paths/~1pets/get/responses/200/content/application~1json/schema/properties/name",
     "a schema is an object, got str 'string'"),
])
def test_an_invalid_schema_is_a_spec_error_naming_file_and_pointer(name, file, where, message):
    broken = load_spec(SPECS / "broken" / name, name, strict=False)
    with pytest.raises(SpecError) as caught:
        check_schemas(broken)
    error = caught.value
    assert (error.file, error.where, error.message) == (file, where, f"not a valid schema: {message}")
    assert str(error) == f"{file}#{where}: not a valid schema: {message}"


def test_the_corpus_invalid_schema_is_found():
    broken = load_spec(CORPUS / "broken" / "invalid-schema.yaml", "invalid-schema.yaml", strict=False)
    with pytest.raises(SpecError) as caught:
        check_schemas(broken)
    assert caught.value.file == "invalid-schema.yaml"
    assert caught.value.where.startswith("/paths/~1pets/get/responses/200/content/application~1json/schema")


@pytest.mark.parametrize("path", [
    *sorted(SPECS.glob("*.yaml")), SPECS / "multi" / "main.yaml",
    *sorted(p for p in CORPUS.glob("*.*") if p.is_file()), *sorted(CORPUS.glob("rich-*/openapi.yaml")),
], ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def test_valid_specs_pass_check_schemas(path):
    loaded = load_spec(path, path.name)
    check_schemas(loaded)
    assert not [note for note in loaded.notes if "not a valid schema" in note]


def test_validators_of_a_spec_with_an_invalid_schema_still_work():
    """Built without check_schemas, the invalid schema accepts anything (and the notes say so,
    once); the spec's other schemas are still checked."""
    broken = load_spec(SPECS / "broken" / "bad-other-file.yaml", "bad-other-file.yaml", strict=False)
    with pytest.raises(SpecError):
        check_schemas(broken)  # compiles, and drops what it compiled
    validator = RequestValidator(broken, broken.operations[0])  # compiles again
    assert validator.check({}, {}, {}, b'{"name": "x", "tag": "(((("}', JSON) == []
    assert broken.notes == ["schemas/pet.yaml#/Tag/pattern: not a valid schema (pattern '[a-z' is not a regular "
                            "expression), not validated"]
    minimum = load_spec(SPECS / "broken" / "bad-minimum.yaml", "bad-minimum.yaml", strict=False)
    validator = RequestValidator(minimum, minimum.operations[0])
    assert validator.check({}, {"limit": ["-5"]}, {}, b"", None) == []
    assert triples(validator.check({}, {"limit": ["x"]}, {}, b"", None)) == []  # the whole schema is off


def test_a_ref_that_is_not_a_reference_accepts_anything():
    """(It once became a reference to the root of the compiled tree, which checks an object's
    members named like its entries: {"s0": 1} against entry s0.)"""
    broken = load_spec(SPECS / "broken" / "bad-ref.yaml", "bad-ref.yaml", strict=False)
    validator = RequestValidator(broken, broken.operations[0])
    assert validator.check({}, {}, {}, b'{"owner": {"s0": 1, "s1": 1}}', JSON) == []
    assert triples(validator.check({}, {}, {}, b"[]", JSON)) == [
        ("body", "", "bad-ref.yaml#/paths/~1pets/post/requestBody/content/application~1json/schema/type")]


def test_a_valid_schema_next_to_an_invalid_one_is_still_checked():
    broken = load_spec(SPECS / "broken" / "bad-other-file.yaml", "bad-other-file.yaml", strict=False)
    validator = RequestValidator(broken, broken.operations[0])
    found = one(validator.check({}, {}, {}, b'{"name": 1}', JSON))
    assert (found.pointer, found.schema) == ("/name", "schemas/pet.yaml#/Pet/properties/name/type")


# == cost =======================================================================================

def test_a_spec_with_a_long_cycle_of_schemas_compiles_once_per_direction(tmp_path, monkeypatch):
    """Every schema refers to the next and the last to the first: the whole cycle is reachable
    from every operation (validator_map_for, compiling each subschema apart, took minutes for
    specs of this shape). The spec's schemas are one tree per direction, compiled once, however
    many operations use them."""
    compile_one = jsonschema_rs.validator_for
    trees: list[int] = []

    def counted(schema: Any, **options: Any) -> Any:
        if isinstance(schema, dict) and "$defs" in schema:
            trees.append(len(schema["$defs"]))
        return compile_one(schema, **options)

    monkeypatch.setattr(jsonschema_rs, "validator_for", counted)
    count = 300
    schemas = {f"S{i}": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer", "format": "int32"}, "name": {"type": "string", "nullable": True},
        "next": {"$ref": f"#/components/schemas/S{(i + 1) % count}"},
        "all": {"type": "array", "items": {"$ref": f"#/components/schemas/S{(i * 7) % count}"}}}}
        for i in range(count)}
    paths = {f"/s{i}": {"post": {"requestBody": {"content": {JSON: {"schema": {"$ref": f"#/components/schemas/S{i}"}}}},
                                 "responses": {"200": {"description": "ok", "content": {JSON: {
                                     "schema": {"$ref": f"#/components/schemas/S{i}"}}}}}}}
             for i in range(count)}
    doc = {"openapi": "3.0.3", "info": {"title": "cycle", "version": "1"}, "paths": paths,
           "components": {"schemas": schemas}}
    (tmp_path / "cycle.json").write_text(json.dumps(doc))
    loaded = load_spec(tmp_path / "cycle.json", "cycle.json")  # (its schemas checked: both directions)
    validators = [RequestValidator(loaded, op) for op in loaded.operations]
    ResponseValidator(loaded, loaded.operations[0])
    check_schemas(loaded)
    assert len(trees) == 2, trees
    found = one(validators[5].check({}, {}, {}, b'{"id": 1, "next": {"id": 1, "next": {"id": "x"}}}', JSON))
    assert (found.pointer, found.schema) == ("/next/next/id", "cycle.json#/components/schemas/S7/properties/id/type")


def test_many_invalid_schemas_are_found_in_one_pass_and_the_first_reached_is_raised(tmp_path, monkeypatch):
    """Each operation's schema refers to the next; every other one has a bad pattern, the rest a
    bad minimum. The first operation's schema is the one named, and finding them all does not
    compile the whole tree once per invalid schema."""
    compile_one = jsonschema_rs.validator_for
    trees: list[int] = []

    def counted(schema: Any, **options: Any) -> Any:
        if isinstance(schema, dict) and "$defs" in schema:
            trees.append(len(schema["$defs"]))
        return compile_one(schema, **options)

    monkeypatch.setattr(jsonschema_rs, "validator_for", counted)
    count = 400
    schemas = {f"S{i}": {"type": "object", "properties": {
        "code": {"type": "string", "pattern": "([" if i % 2 else "^a"},
        "size": {"type": "integer", "minimum": 0 if i % 2 else "x"},
        "next": {"$ref": f"#/components/schemas/S{(i + 1) % count}"}}} for i in range(count)}
    paths = {f"/s{i}": {"post": {"requestBody": {"content": {JSON: {"schema": {"$ref": f"#/components/schemas/S{i}"}}}},
                                 "responses": {"204": {"description": "ok"}}}} for i in range(count)}
    doc = {"openapi": "3.0.3", "info": {"title": "bad", "version": "1"}, "paths": paths,
           "components": {"schemas": schemas}}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    loaded = load_spec(tmp_path / "bad.json", "bad.json", strict=False)
    with pytest.raises(SpecError) as caught:
        check_schemas(loaded)
    assert str(caught.value) == ('bad.json#/components/schemas/S0/properties/size/minimum: not a valid schema: '
                                 'minimum: "x" is not of type "number"')
    assert len(loaded.notes) == count
    assert len(trees) <= 4, trees  # request: refused, then compiled; response: compiled
