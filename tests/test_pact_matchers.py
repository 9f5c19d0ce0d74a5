"""Every Pact matcher the specification's test cases do not reach (they use regex, type, min and
max), each held to a value it must accept and one it must refuse, through the request comparison:
v3's equality, include, integer, decimal, number, datetime, date, time, null, boolean,
contentType, values, AND/OR; v4's arrayContains, statusCode, notEmpty, semver, eachKey,
eachValue; and the rules that cannot be read, each a PactError naming its JSON pointer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stuntman.pact.compare import Received, compare_request, compare_response
from stuntman.pact.document import PactError, load_pact


def pact_with(rules: dict, body, version: str = "4.0", content_type: str = "application/json") -> dict:
    request = {"method": "POST", "path": "/", "headers": {"Content-Type": content_type},
               "body": body, "matchingRules": {"body": rules}}
    entry = {"description": "x", "request": request, "response": {"status": 200}}
    if version.startswith("4"):
        entry["type"] = "Synchronous/HTTP"
    return {"interactions": [entry], "metadata": {"pactSpecification": {"version": version}}}


def mismatches(rules: dict, example, actual, version: str = "4.0") -> list[str]:
    pact = load_pact(Path("m.json"), "m.json", pact_with(rules, example, version))
    got = Received("POST", "/", "", {"content-type": "application/json"}, json.dumps(actual).encode(),
                   "application/json")
    return [str(m) for m in compare_request(pact, pact.interactions[0].request, got)]


def rule(*matchers: dict, combine: str = "AND") -> dict:
    return {"matchers": list(matchers), "combine": combine}


CASES = [
    # (matcher, example, accepted, refused)
    ({"match": "equality"}, "a", "a", "b"),
    ({"match": "include", "value": "ell"}, "hello", "yellow", "help"),
    ({"match": "integer"}, 1, 42, 4.5),
    ({"match": "integer"}, 1, 7, "7"),
    ({"match": "decimal"}, 1.5, 0.5, "0.5"),
    ({"match": "number"}, 1, 2, "2"),
    ({"match": "decimal"}, 1.5, 2.25, 2),
    ({"match": "number"}, 1, 2.5, "two"),
    ({"match": "datetime", "format": "yyyy-MM-dd'T'HH:mm:ss"}, "2020-01-01T10:00:00", "2024-02-29T23:59:59",
     "2023-02-29T23:59:59"),
    ({"match": "date", "format": "dd/MM/yyyy"}, "01/01/2020", "31/12/1999", "32/12/1999"),
    ({"match": "time", "format": "HH:mm"}, "10:00", "23:59", "24:01"),
    ({"match": "timestamp", "timestamp": "yyyy-MM-dd"}, "2020-01-01", "2021-06-30", "2021-06-31"),
    ({"match": "null"}, None, None, 0),
    ({"match": "boolean"}, True, False, "yes"),
    ({"match": "notEmpty"}, "x", "y", ""),
    ({"match": "notEmpty"}, [1], [2, 3], []),
    ({"match": "semver"}, "1.0.0", "2.10.3-rc.1+build.5", "1.0"),
    ({"match": "regex", "regex": "\\d{3}"}, "123", "456", "1234"),
    ({"match": "type", "min": 2}, [1, 2], [5, 6, 7], [5]),
    ({"match": "type", "max": 2}, [1], [5, 6], [5, 6, 7]),
]


@pytest.mark.parametrize("matcher, example, good, bad", CASES, ids=[
    f"{c[0]['match']}-{i}" for i, c in enumerate(CASES)])
def test_a_matcher_accepts_what_it_should_and_refuses_the_rest(matcher, example, good, bad):
    rules = {"$.v": rule(matcher)}
    assert mismatches(rules, {"v": example}, {"v": good}) == []
    found = mismatches(rules, {"v": example}, {"v": bad})
    assert len(found) == 1 and found[0].startswith("body $.v: "), found


def test_or_needs_one_matcher_and_and_needs_all():
    either = {"$.v": rule({"match": "integer"}, {"match": "null"}, combine="OR")}
    assert mismatches(either, {"v": 1}, {"v": None}) == []
    assert mismatches(either, {"v": 1}, {"v": "x"}) == ["body $.v: expected an integer, got 'x' or expected null, "
                                                        "got 'x'"]
    both = {"$.v": rule({"match": "regex", "regex": "[a-z]+"}, {"match": "include", "value": "b"})}
    assert mismatches(both, {"v": "abc"}, {"v": "xbz"}) == []
    assert len(mismatches(both, {"v": "abc"}, {"v": "xyz"})) == 1


def test_values_frees_an_objects_keys_and_holds_each_value_to_the_example():
    rules = {"$.prices": rule({"match": "values"}), "$.prices.*": rule({"match": "number"})}
    assert mismatches(rules, {"prices": {"a": 1}}, {"prices": {"x": 2, "y": 3.5}}) == []
    assert mismatches(rules, {"prices": {"a": 1}}, {"prices": {"x": "free"}}) == \
        ["body $.prices.x: expected a number, got 'free'"]


def test_each_key_and_each_value():
    rules = {"$.tags": rule({"match": "eachKey", "rules": [{"match": "regex", "regex": "[a-z]+"}], "value": "a"},
                            {"match": "eachValue", "rules": [{"match": "type"}], "value": "x"})}
    assert mismatches(rules, {"tags": {"a": "x"}}, {"tags": {"red": "1", "blue": "2"}}) == []
    found = mismatches(rules, {"tags": {"a": "x"}}, {"tags": {"Red": "1", "blue": 2}})
    assert found == ["body $.tags.Red: key 'Red': expected a value matching /[a-z]+/, got 'Red'",
                     "body $.tags.blue: expected a string (by type), got a number 2"]
    items = {"$.ids": rule({"match": "eachValue", "rules": [{"match": "integer"}], "value": 1})}
    assert mismatches(items, {"ids": [1]}, {"ids": [4, 5, 6]}) == []
    assert mismatches(items, {"ids": [1]}, {"ids": [4, "x"]}) == ["body $.ids[1]: expected an integer, got 'x'"]
    # in a JSON body a string of digits is not an integer (it is in a query or a header)
    assert mismatches(items, {"ids": [1]}, {"ids": [4, "5"]}) == ["body $.ids[1]: expected an integer, got '5'"]


def test_array_contains_finds_each_variant_anywhere():
    rules = {"$.items": rule({"match": "arrayContains", "variants": [
        {"index": 0, "rules": {"$.id": rule({"match": "integer"})}},
        {"index": 1}]})}
    example = {"items": [{"id": 1, "kind": "a"}, {"id": 2, "kind": "b"}]}
    assert mismatches(rules, example, {"items": [{"id": 2, "kind": "b"}, {"x": 0}, {"id": 99, "kind": "a"}]}) == []
    assert mismatches(rules, example, {"items": [{"id": 99, "kind": "a"}]}) == \
        ['body $.items: no element matches {"id": 2, "kind": "b"} (arrayContains variant 1)']


def test_status_code_classes_and_lists_on_a_response():
    def pact(status_rule: dict) -> dict:
        return {"interactions": [{"type": "Synchronous/HTTP", "description": "x", "request": {"path": "/"},
                                  "response": {"status": 200, "matchingRules": {"status": rule(status_rule)}}}],
                "metadata": {"pactSpecification": {"version": "4.0"}}}

    success = load_pact(Path("s.json"), "s.json", pact({"match": "statusCode", "status": "success"}))
    assert compare_response(success.interactions[0].response, 204, {}, b"") == []
    assert [str(m) for m in compare_response(success.interactions[0].response, 404, {}, b"")] == \
        ["status: expected a status success, got 404"]
    listed = load_pact(Path("s.json"), "s.json", pact({"match": "statusCode", "status": [200, 201]}))
    assert compare_response(listed.interactions[0].response, 201, {}, b"") == []
    assert compare_response(listed.interactions[0].response, 202, {}, b"") != []


def test_content_type_looks_at_the_bytes():
    pact = {"interactions": [{"type": "Synchronous/HTTP", "description": "x", "request": {
        "method": "POST", "path": "/", "headers": {"Content-Type": "image/png"},
        "body": {"content": "iVBORw0KGgo=", "contentType": "image/png", "encoded": "base64"},
        "matchingRules": {"body": {"$": rule({"match": "contentType", "value": "image/png"})}}},
        "response": {"status": 200}}], "metadata": {"pactSpecification": {"version": "4.0"}}}
    loaded = load_pact(Path("c.json"), "c.json", pact)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    got = Received("POST", "/", "", {"content-type": "image/png"}, png, "image/png")
    assert compare_request(loaded, loaded.interactions[0].request, got) == []
    got = Received("POST", "/", "", {"content-type": "image/png"}, b"GIF89a....", "image/png")
    assert [str(m) for m in compare_request(loaded, loaded.interactions[0].request, got)] == \
        ["body: expected content of type image/png, got image/gif"]


@pytest.mark.parametrize("rules, pointer, message", [
    ({"$.a": {"matchers": [{"match": "regex", "regex": "("}]}}, "/body/$.a/matchers/0/regex",
     "not a regular expression"),
    ({"$.a": {"matchers": [{"match": "date", "format": "yyyy-BB"}]}}, "/body/$.a/matchers/0/format",
     "not a date/time format"),
    ({"$.a": {"matchers": [{"match": "nope"}]}}, "/body/$.a/matchers/0/match", "unknown matcher type 'nope'"),
    ({"$.a": {"matchers": [{"match": "type"}], "combine": "XOR"}}, "/body/$.a/combine", "combine is AND or OR"),
    ({"$.a": {"matchers": []}}, "/body/$.a", "a non-empty list of matchers"),
    ({"$.a": {"matchers": [{"match": "type", "min": "many"}]}}, "/body/$.a/matchers/0/min", "a whole number"),
    ({"$a": {"matchers": [{"match": "type"}]}}, "/body/$a", "unexpected 'a' at 1"),
])
def test_a_rule_that_cannot_be_read_names_its_pointer(rules, pointer, message):
    with pytest.raises(PactError) as err:
        load_pact(Path("bad.json"), "bad.json", pact_with(rules, {"a": 1}))
    assert err.value.pointer == f"/interactions/0/request/matchingRules{pointer}", err.value
    assert message in err.value.message, err.value.message


def test_an_unknown_category_and_a_v2_path_outside_the_request_are_errors():
    with pytest.raises(PactError) as err:
        load_pact(Path("b.json"), "b.json", {"interactions": [{"description": "x", "request": {
            "path": "/", "matchingRules": {"cookies": {}}}}], "metadata": {"pactSpecification": {"version": "3.0.0"}}})
    assert err.value.pointer.endswith("/matchingRules/cookies") and "unknown matching rule category" in str(err.value)
    with pytest.raises(PactError) as err:
        load_pact(Path("b.json"), "b.json", {"interactions": [{"description": "x", "request": {
            "path": "/", "matchingRules": {"$.cookies.a": {"match": "type"}}}}],
            "metadata": {"pactSpecification": {"version": "2.0.0"}}})
    assert "a v2 rule path starts $.body" in str(err.value)
