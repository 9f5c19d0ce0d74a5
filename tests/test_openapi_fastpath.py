"""The one-pass JSON body check (openapi/fastpath.py) never accepts what jsonschema-rs refuses.

It is an accelerator in front of the full validator, so its one duty is one-sided: a body it
accepts must be valid; a body it refuses goes to the full path, which decides. Held to that:
- case by case, where pydantic-core and jsonschema-rs read a schema differently (ASCII \\d, strict
  types, a nullable enum, formats, a 3.1 $ref with siblings, float bounds past 2^53);
- on every JSON body schema of the test specs: values generated from each schema, and six random
  mutations of each (a key dropped or added, a string grown, a number nudged, a value swapped for
  an odd one), each judged by both; and the fast path must accept nearly every valid one (else it
  is dead weight, and a test that it is consistent would pass with an acceptor that refuses all);
- formats: random strings near each format's shape, the format's pattern against jsonschema-rs;
- over the wire: bodies the fast path leaves to the full path get its answer (2.0 is an integer).
"""
from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from conftest import ROOT, call
from stuntman.openapi.document import Spec, load_spec, walk_pointer
from stuntman.openapi.fastpath import _FORMAT_PATTERNS, acceptor, ecma_to_rust
from stuntman.openapi.generate import GenerateError, Generator
from stuntman.openapi.validate import RequestValidator, ResponseValidator

SPEC_FILES = sorted(p for folder in ("specs", "validate") for p in (ROOT / "tests" / "openapi" / folder).rglob("*")
                    if p.suffix in (".yaml", ".json") and "broken" not in p.parts and p.parent.name not in
                    ("schemas", "paths", "multi") or p.name == "main.yaml")
BENCH = ROOT / "bench" / "stubs" / "openapi" / "contract.yaml"


def fast(schema: dict, defs: dict | None = None):
    return acceptor({"s0": schema, **(defs or {})}, "s0")


def rs_valid(schema: dict, value: Any, defs: dict | None = None) -> bool:
    return jsonschema_rs.validator_for({"$defs": {"s0": schema, **(defs or {})}, "$ref": "#/$defs/s0"},
                                       validate_formats=True).is_valid(value)


# -- case by case --------------------------------------------------------------------------------

CASES = [  # (schema, JSON body, whether the fast path accepts it) — every accepted one is valid
    ({"type": "string", "pattern": r"^\d+$"}, '"123"', True),
    ({"type": "string", "pattern": r"^\d+$"}, '"\\u0663\\u0664"', False),  # Arabic digits: \d is ASCII
    ({"type": "string", "pattern": r"^[\w-]+$"}, '"\\u00e9t\\u00e9"', False),
    ({"type": "string", "pattern": r"^\D$"}, '"a"', True),
    ({"type": "string", "pattern": "[0-9]"}, '"a1"', True),  # a search, not a full match
    ({"type": "string", "pattern": "^ab$"}, '"ab\\n"', False),
    ({"type": "string", "maxLength": 1}, '"\\ud83d\\ude00"', True),  # one code point
    ({"type": "integer"}, "2.0", False),  # an integer to JSON Schema: the full path says so
    ({"type": "integer"}, "true", False),
    ({"type": "integer"}, '"2"', False),
    ({"type": "number", "maximum": 10}, "NaN", False),
    ({"type": "number"}, "1e400", False),
    ({"type": "integer", "multipleOf": 3}, "9", True),
    ({"type": "integer", "multipleOf": 3}, "10", False),
    ({"type": ["string", "null"], "enum": ["a", "b"]}, "null", False),  # null is not in the enum
    ({"type": ["string", "null"], "enum": ["a", None]}, "null", True),
    ({"type": "string", "enum": ["a", "b"]}, '"c"', False),
    ({"type": "integer", "enum": [1, 2]}, "true", False),
    ({"type": "object", "required": ["a"]}, '{"b": 1}', False),
    ({"type": "object", "required": ["a"]}, '{"a": null}', True),
    ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}, '{"b": 1}', False),
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, '{"a": 1, "a": "x"}', False),  # the last wins
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, '{"a": "x", "a": 1}', True),
    ({"type": "array", "items": {"type": "integer"}, "maxItems": 2}, "[1, 2, 3]", False),
    ({"type": "string", "format": "email"}, '"ada@example.com"', True),
    ({"type": "string", "format": "email"}, '"a..b@example.com"', False),
    ({"type": "string", "format": "date"}, '"2023-02-29"', False),
    ({"type": "string", "format": "date"}, '"2024-02-29"', False),  # valid, but left to the full path
    ({"type": "string", "format": "date-time"}, '"2024-01-15T09:30:00.5+01:00"', True),
    ({"type": "string", "format": "uuid"}, '"123e4567-e89b-12d3-a456-426614174000"', True),
    ({"type": "string", "format": "binary"}, '"anything"', True),  # a format jsonschema-rs does not check
    ({"type": "integer", "format": "email"}, "3", True),  # formats are about strings
    ({}, '{"any": ["thing"]}', True),
    ({"type": "object"}, ' {} ', True),
    ({"type": "object"}, "\ufeff{}", False),  # a BOM: the full path reads it
    ({"type": "object"}, "{} x", False),
]


@pytest.mark.parametrize(("schema", "body", "accepted"), CASES, ids=[f"{i}:{c[1][:24]}" for i, c in enumerate(CASES)])
def test_each_case_is_accepted_only_when_valid(schema, body, accepted):
    check = fast(schema)
    assert check is not None
    assert check(body.encode()) is accepted
    if accepted:
        assert rs_valid(schema, json.loads(body))


UNCOMPILED = [  # schemas the fast path leaves alone: no acceptor, every body to the full path
    {"type": "string", "pattern": r"\bword\b"},
    {"type": "string", "pattern": "(?=a)a"},
    {"type": "string", "pattern": r"\p{L}"},
    {"type": "string", "pattern": "[a-z[0-9]]"},
    {"type": "string", "format": "hostname"},
    {"type": "number", "multipleOf": 0.1},
    {"type": ["integer", "number"], "multipleOf": 2},  # number would lose the step
    {"type": "number", "maximum": 2 ** 60},
    {"type": "integer", "minimum": 0.5},
    {"type": "array", "uniqueItems": True},
    {"type": "object", "additionalProperties": {"type": "string"}},
    {"type": "object", "minProperties": 1},
    {"allOf": [{"type": "object"}]},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"$ref": "#/$defs/s1", "type": "object"},  # 3.1: the sibling applies too
    {"enum": ["a", 1]},
    {"properties": {"a": {"type": "string"}}},  # no type: properties for objects only
    {"type": "string", "x-stuntman-pattern": ".{0,300000}"},
    {"$ref": "#/$defs/nothing"},
]


@pytest.mark.parametrize("schema", UNCOMPILED, ids=[json.dumps(s)[:40] for s in UNCOMPILED])
def test_what_does_not_translate_exactly_gets_no_acceptor(schema):
    assert fast(schema, {"s1": {"type": "object"}}) is None


def test_recursive_and_shared_schemas_compile_once_each():
    node = {"type": "object", "required": ["n"], "properties": {
        "n": {"type": "integer"}, "child": {"type": ["object", "null"], "$ref": "#/$defs/s0"}}}
    node["properties"]["child"] = {"$ref": "#/$defs/s0"}
    tree = {"type": "object", "properties": {"left": {"$ref": "#/$defs/s0"}, "right": {"$ref": "#/$defs/s0"}}}
    check = acceptor({"s0": node, "s1": tree}, "s1")
    assert check is not None
    assert check(b'{"left": {"n": 1, "child": {"n": 2}}, "right": {"n": 3}}')
    assert not check(b'{"left": {"n": 1, "child": {"n": "2"}}}')


def test_patterns_are_rewritten_to_ascii_classes():
    assert ecma_to_rust(r"^\d{3}-\w+[\d_-]\D$") == "^[0-9]{3}-[0-9A-Za-z_]+[0-9_-][^0-9]$"
    assert ecma_to_rust(r"a\.b\s\-") == r"a\.b\s\-"


# -- every JSON body of the test specs, generated and mutated ------------------------------------

ODD = [None, True, False, 0, -1, 1, 2.0, 1.5, -0.5, 10 ** 20, 2 ** 53 + 1, 1e300, "", " ", "x" * 300,
       "\u0663\u0664", "a\rb", "a\nb", "\u00e9", "2024-02-30", "2024-01-15T09:30:00Z", "2024-13-01", "a@b",
       "a..b@x.com", "123e4567-e89b-12d3-a456-42661417400", "1.2.3.4", "256.1.1.1", "ABC-1234", "abc", {}, [],
       [1], {"a": 1}, "null", "1"]


def _places(value: Any, at: tuple = ()) -> list[tuple]:
    found = [at]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _places(sub, (*at, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found += _places(sub, (*at, i))
    return found


def mutated(value: Any, rng: random.Random) -> Any:
    """value with one random change at a random place."""
    box = {"root": json.loads(json.dumps(value))}
    parent: Any = box
    key: Any = "root"
    for step in rng.choice(_places(box["root"])):
        parent, key = parent[key], step
    old = parent[key]
    kind = rng.randrange(8)
    if kind == 0 and isinstance(old, dict) and old:
        del old[rng.choice(list(old))]
    elif kind == 1 and isinstance(old, dict):
        old[rng.choice(["zz", "id", "type", "name"])] = rng.choice(ODD)
    elif kind == 2 and isinstance(old, str):
        parent[key] = rng.choice([old + old[-1:] * rng.randrange(1, 5), old[:-1], old.upper(), old + "\n"])
    elif kind == 3 and isinstance(old, (int, float)) and not isinstance(old, bool):
        parent[key] = rng.choice([old + 1, old - 1, -old, old * 1000, float(old), old + 0.5])
    elif kind == 4 and isinstance(old, list):
        parent[key] = rng.choice([[], old * 3, old[:1], [*old, rng.choice(ODD)]])
    else:
        parent[key] = rng.choice(ODD)
    return box["root"]


def json_media(spec: Spec):
    """(direction, _Media) of every JSON body schema of spec, each compiled schema once."""
    seen = set()
    for op in spec.operations:
        request, response = RequestValidator(spec, op), ResponseValidator(spec, op)
        contents = [("request", request.body)] if request.body else []
        contents += [("response", rule.content) for rule in (*response.exact.values(), *response.ranges.values(),
                                                             response.default) if rule is not None and rule.content]
        for direction, content in contents:
            for media in (*content.exact.values(), *(r[2] for r in content.ranges)):
                schema = media.schema
                if schema is not None and media.reader == "json" and (id(schema.compiled), schema.entry) not in seen:
                    seen.add((id(schema.compiled), schema.entry))
                    yield direction, media


def test_no_generated_or_mutated_body_is_accepted_that_jsonschema_rs_refuses():
    counts = {"schemas": 0, "compiled": 0, "valid": 0, "accepted": 0, "invalid": 0}
    wrong = []
    for path in [*SPEC_FILES, BENCH]:
        spec = load_spec(path, path.name)
        generator = Generator(spec)
        rng = random.Random(path.name)
        for direction, media in json_media(spec):
            counts["schemas"] += 1
            schema = media.schema
            check = acceptor(schema.compiled.defs, schema.entry)
            if check is None:
                continue
            counts["compiled"] += 1
            node = walk_pointer(spec.doc, schema.compiled.origin[schema.entry])
            for seed in range(6):
                try:
                    value = generator.value(node, seed, direction=direction)  # type: ignore[arg-type]
                except GenerateError:
                    continue
                for candidate in (value, *(mutated(value, rng) for _ in range(6))):
                    try:
                        valid = schema.is_valid(candidate)
                    except UnicodeEncodeError:  # (a lone surrogate: jsonschema-rs cannot take it as a value)
                        continue
                    accepted = check(json.dumps(candidate).encode())
                    counts["valid" if valid else "invalid"] += 1
                    counts["accepted"] += accepted
                    if accepted and not valid:
                        wrong.append((path.name, schema.entry, candidate))
    assert not wrong, wrong[:5]
    # it is used, and it is useful: a third of these body schemas compile (they are written to hold
    # every composition; in APIs.guru's corpus 70% do), and nearly every valid body is accepted
    assert counts["compiled"] >= 0.3 * counts["schemas"] and counts["invalid"] > 200, counts
    assert counts["accepted"] >= 0.8 * counts["valid"], counts


# -- formats ------------------------------------------------------------------------------------

SHAPES = {
    "email": ["ada@example.com", "a.b+c@x-y.io", "a@b", "x@[127.0.0.1]"],
    "uuid": ["123e4567-e89b-12d3-a456-426614174000"],
    "date": ["2024-01-15", "1999-12-28"],
    "date-time": ["2024-01-15T09:30:00Z", "2024-01-15T23:59:59.123456+05:30"],
    "ipv4": ["127.0.0.1", "255.255.255.0"],
}
ALPHABET = string.ascii_letters + string.digits + ".-_@+:TZtz %[]\"\\\n\u0663"


@pytest.mark.parametrize("fmt", sorted(_FORMAT_PATTERNS))
def test_a_format_pattern_accepts_only_what_the_format_allows(fmt):
    check = fast({"type": "string", "format": fmt})
    assert check is not None
    rs = jsonschema_rs.validator_for({"format": fmt}, validate_formats=True)
    rng = random.Random(fmt)
    accepted = 0
    for _ in range(3000):
        text = list(rng.choice(SHAPES[fmt]))
        for _ in range(rng.randrange(4)):  # a few characters changed, dropped or added
            i = rng.randrange(len(text))
            text[i:i + rng.randrange(2)] = rng.choice(ALPHABET) * rng.randrange(3)
        value = "".join(text)
        if check(json.dumps(value).encode()):
            accepted += 1
            assert rs.is_valid(value), value
    assert accepted > 100  # (the mutations keep many values valid: the pattern is not too narrow to use)


# -- over the wire ------------------------------------------------------------------------------

ORDER = {"sku": "ABC-1234", "qty": 2, "note": "fast", "customer": {"id": 42, "email": "ada@example.com"}}


def post(port: int, body: bytes) -> tuple[int, Any]:
    status, _, answer = call(port, "POST", "/api/v1/orders", body, {"Content-Type": "application/json"})
    return status, json.loads(answer)


def test_bodies_the_fast_path_leaves_get_the_full_validators_answer(stuntman):
    st = stuntman({}, openapi=(BENCH,))
    assert post(st.port, json.dumps(ORDER).encode())[0] == 201
    assert post(st.port, json.dumps({**ORDER, "qty": 2.0}).encode())[0] == 201  # integer to JSON Schema
    assert post(st.port, b"\xef\xbb\xbf" + json.dumps(ORDER).encode())[0] == 201  # a BOM: json reads it
    status, problem = post(st.port, json.dumps({**ORDER, "sku": "ABC-\u0661\u0662"}).encode())
    assert status == 400 and [v["pointer"] for v in problem["errors"]] == ["/sku"]
    status, problem = post(st.port, json.dumps({**ORDER, "qty": 200, "customer": {"id": 0}}).encode())
    assert status == 400 and sorted(v["pointer"] for v in problem["errors"]) == \
        ["/customer", "/customer/id", "/qty"]


def test_the_bench_order_takes_the_fast_path():
    spec = load_spec(BENCH, BENCH.name)
    [op] = [op for op in spec.operations if op.request_body is not None]
    media = RequestValidator(spec, op).body.exact["application/json"]  # type: ignore[union-attr]
    keeps = media.schema.keeps()  # type: ignore[union-attr]
    assert keeps.__module__ == "stuntman.openapi.fastpath" and keeps(json.dumps(ORDER).encode())


def test_paths_here_exist():
    assert BENCH.exists() and len(SPEC_FILES) >= 8 and all(isinstance(p, Path) for p in SPEC_FILES)
