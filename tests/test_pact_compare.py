"""The Pact comparison below the wire: the specification's response cases (every version)
through stuntman.pact.compare.compare_response (they go over the wire once `verify-pact` runs
them against a live server), the specification's own weighting examples, and the details the
cases leave open (numbers, header values, query decoding, JSON key rules by direction)."""
from __future__ import annotations

from pathlib import Path

import pytest

import pact_cases as pc
from stuntman.pact.compare import Received, compare_request, compare_response
from stuntman.pact.document import load_pact
from stuntman.pact.paths import parse, weight
from stuntman.pact.rules import Rules

RESPONSES = [(v, name, case) for v in pc.VERSIONS for name, case in pc.cases(v, "response")
             if pc.unsendable(case, "response") is None]


@pytest.mark.parametrize("version, name, case", RESPONSES, ids=[f"{v}/{n}" for v, n, _ in RESPONSES])
def test_a_response_case_is_judged_as_the_specification_says(version, name, case):
    pact = load_pact(Path(f"{name}.json"), name, pc.pact_for(case, version, "response"))
    actual = case["actual"]
    body, declared = pc.body_bytes(actual, version)
    headers: dict[str, str] = {}
    for n, v in pc.headers_of(actual):
        headers[n.lower()] = v if n.lower() not in headers else f"{headers[n.lower()]}, {v}"
    if declared and "content-type" not in headers:
        headers["content-type"] = declared
    found = compare_response(pact.interactions[0].response, actual.get("status", 200), headers, body or b"")
    assert (not found) == case["match"], f"{case.get('comment')}: {[str(m) for m in found]}"


def test_all_response_cases_but_one_folded_header_are_judged():
    assert len(RESPONSES) == sum(len(pc.cases(v, "response")) for v in pc.VERSIONS) - 2 == 355


@pytest.mark.parametrize("rule, weight_", [
    ("$.item1.level[1].id", 32), ("$.item1.level[*].id", 16), ("$.*.level[*].id", 8), ("$.item1.level[2].id", 0),
    ("$.item1", 4), ("$", 2), ("$.item2", 0), ("$['item1'].level[1]['id']", 32),
])
def test_the_specification_weighting_examples(rule, weight_):
    """v2 README, "Matching rules": the weight of each rule for the value at $.item1.level[1].id
    (the star over a name counts 1, as over an index)."""
    assert weight(parse(rule), ["$", "item1", "level", "1", "id"]) == weight_


def test_the_heaviest_rule_applies_and_a_tie_goes_to_the_deeper_one():
    from stuntman.pact import matchers
    from stuntman.pact.rules import parse_rules

    rules = parse_rules({"body": {"$.a": {"matchers": [{"match": "type"}]},
                                  "$.*.*.*.*": {"matchers": [{"match": "equality"}]},
                                  "$.b": {"matchers": [{"match": "type"}]},
                                  "$.b.*": {"matchers": [{"match": "integer"}]}}}, "", matchers.compile)
    chosen, cascaded = rules.at(["$", "a", "x", "y", "z"])
    assert chosen.path == "$.a" and cascaded  # 4 beats the all-star 2 (the reference picks the stars)
    assert rules.at(["$", "b", "c"])[0].path == "$.b.*"  # 8 and 8: the deeper one
    assert Rules().at(["$"]) is None


def _request(pact_json: dict, **got) -> list[str]:
    pact = load_pact(Path("p.json"), "p.json", pact_json)
    received = Received(got.get("method", "GET"), got.get("path", "/"), got.get("query", ""),
                        got.get("headers", {}), got.get("body", b""), got.get("content_type"))
    return [str(m) for m in compare_request(pact, pact.interactions[0].request, received)]


def _one(request: dict, version: str = "3.0.0") -> dict:
    return {"interactions": [{"description": "x", "request": request, "response": {"status": 200}}],
            "metadata": {"pactSpecification": {"version": version}}}


def test_numbers_are_json_values_and_keys_follow_the_direction():
    p = _one({"method": "POST", "path": "/", "body": {"a": 1}})
    assert _request(p, method="POST", body=b'{"a": 1.0}', content_type="application/json") == \
        ["body $.a: expected 1, got 1.0"]
    assert _request(p, method="POST", body=b'{"a": 1, "b": 2}', content_type="application/json") == \
        ["body: unexpected key 'b'"]
    assert _request(p, method="POST", body=b'{"a": true}', content_type="application/json") == \
        ["body $.a: expected 1 (number), got true (boolean)"]


def test_query_values_are_decoded_and_names_order_free_values_ordered():
    p = _one({"method": "GET", "path": "/", "query": {"a": ["x y", "z"], "b": ["1"]}})
    assert _request(p, query="b=1&a=x+y&a=z") == []
    assert _request(p, query="a=x%20y&a=z&b=1") == []
    assert _request(p, query="a=z&a=x+y&b=1") == ['query.a: expected ["x y", "z"], got ["z", "x y"]']
    assert _request(p, query="a=x+y&a=z&b=1&c=2") == ["query.c: unexpected parameter ('2')"]


def test_header_values_compare_after_normalization():
    p = _one({"method": "GET", "path": "/", "headers": {"Accept": "application/json, text/plain",
                                                         "Content-Type": "application/json; charset=UTF-8",
                                                         "X-Flags": "a,b"}})
    headers = {"accept": "application/json,text/plain", "content-type": "application/json;charset=utf-8",
               "x-flags": "a, b", "x-extra": "allowed"}
    assert _request(p, headers=headers) == []
    assert _request(p, headers={**headers, "x-flags": "b, a"}) == ["header.x-flags: expected 'a,b', got 'b, a'"]
    assert _request(p, headers={**headers, "content-type": "application/json; charset=UTF-16"})[0].startswith(
        "header.content-type: expected")


def test_the_compiled_body_check_agrees_with_the_explaining_comparison_on_every_json_case():
    """A route judges a JSON body with the closures stuntman.pact.plan compiles; the near-miss
    report explains with JsonComparer. Both must give the same verdict on every JSON case of
    the specification, requests (strict) and responses (loose)."""
    import json

    from stuntman.pact.body import JsonComparer
    from stuntman.pact.plan import compile_json

    compared = 0
    for side in ("request", "response"):
        for version in pc.VERSIONS:
            for name, case in pc.cases(version, side):
                pact = load_pact(Path(f"{name}.json"), name, pc.pact_for(case, version, side))
                message = getattr(pact.interactions[0], side)
                body, _ = pc.body_bytes(case["actual"], version)
                if message.body.value is None or not body:
                    continue
                try:
                    value = json.loads(body)
                except ValueError:
                    continue
                fast = compile_json(message.body.value, message.rules, side == "request")(value)
                slow = not JsonComparer(message.rules, side == "request").compare(message.body.value, value)
                assert fast == slow, f"{version}/{side}/{name}: compiled {fast}, explained {slow}"
                compared += 1
    assert compared >= 288
