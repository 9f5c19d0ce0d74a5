"""stuntman.openapi.generate: data made from OpenAPI schemas validates against them (checked by an
independent validator, openapi-schema-validator, with formats checked), is the same for the same
seed (in another process too), and covers formats, constraints, composition, discriminators,
readOnly/writeOnly, recursion, hints and examples."""
from __future__ import annotations

import base64
import ipaddress
import json
import re
import subprocess
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
)

from stuntman.openapi.document import Spec, load_spec
from stuntman.openapi.generate import GenerateError, Generator

SPECS = Path(__file__).parent / "openapi" / "generate"
HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*")


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) and " " not in value


def _is_hostname(value: object) -> bool:
    return not isinstance(value, str) or bool(HOSTNAME.fullmatch(value))


def _format_checker() -> FormatChecker:
    """jsonschema's own checks (date, date-time, time, email, ipv4, ipv6, uuid), OpenAPI's (int32,
    int64, float, double, byte...), and uri/url/hostname (whose jsonschema checks need packages
    that are not installed)."""
    checker = FormatChecker(formats=())
    checker.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)  # not draft 3's `time`
    for name in ("int32", "int64", "float", "double", "byte", "binary", "password"):  # OpenAPI's own
        checker.checkers[name] = oas30_format_checker.checkers[name]
    for name in ("uri", "url"):
        checker.checks(name)(_is_uri)
    checker.checks("hostname")(_is_hostname)
    return checker


FORMATS = _format_checker()


def problems(spec: Spec, schema: dict, value: Any, direction: str = "response") -> list[str]:
    """What the independent validator finds wrong with value ([] when it validates). The whole
    bundle is the root document, so #/components/... $refs resolve (for 3.0 a root `$ref` hides
    its siblings; for 3.1 the bundle's other keys are not keywords)."""
    if spec.dialect == "oas30":
        cls = OAS30ReadValidator if direction == "response" else OAS30WriteValidator
    else:
        cls = OAS31Validator
    validator = cls({**spec.doc, **schema}, format_checker=FORMATS)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


def hidden_found(spec: Spec, schema: Any, value: Any, direction: str) -> list[str]:
    """readOnly properties in a request, writeOnly ones in a response (OAS31Validator does not
    check them): the names found, anywhere in value."""
    flag = "readOnly" if direction == "request" else "writeOnly"
    found: list[str] = []

    def walk(node: Any, val: Any) -> None:
        node = spec.resolve(node)
        if not isinstance(node, dict):
            return
        for branch in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
            walk(branch, val)
        if isinstance(val, dict):
            for key, sub in (node.get("properties") or {}).items():
                if key in val:
                    if spec.resolve(sub).get(flag) is True:
                        found.append(key)
                    walk(sub, val[key])
        if isinstance(val, list) and isinstance(node.get("items"), dict):
            for item in val:
                walk(node["items"], item)

    walk(schema, value)
    return found


def ref(name: str, spec: Spec | None = None) -> dict:
    if spec is not None and spec.version == "2.0":
        return {"$ref": f"#/definitions/{name}"}
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture(scope="module")
def spec30() -> Spec:
    return load_spec(SPECS / "shop30.yaml")


@pytest.fixture(scope="module")
def spec31() -> Spec:
    return load_spec(SPECS / "shop31.yaml")


@pytest.fixture(scope="module")
def spec2() -> Spec:
    return load_spec(SPECS / "petstore2.yaml")


@pytest.fixture(scope="module")
def gen30(spec30: Spec) -> Generator:
    return Generator(spec30)


@pytest.fixture(scope="module")
def gen31(spec31: Spec) -> Generator:
    return Generator(spec31)


def valid(gen: Generator, schema: dict, seed: int | str, direction: str = "response", **options: Any) -> Any:
    """A generated value, asserted valid (and free of hidden properties)."""
    value = gen.value(schema, seed, direction=direction, **options)  # type: ignore[arg-type]
    assert problems(gen.spec, schema, value, direction) == [], (seed, value)
    assert hidden_found(gen.spec, schema, value, direction) == [], (seed, value)
    return value


# -- the harness: the independent validator does catch what these tests rely on ----------------

@pytest.mark.parametrize("fmt, bad", [
    ("date-time", "2024-13-01T00:00:00Z"), ("date", "2024-02-30"), ("time", "25:00:00Z"), ("uuid", "1234"),
    ("email", "nobody"), ("ipv4", "300.1.1.1"), ("ipv6", "::g"), ("byte", "a==b"), ("uri", "not a uri"),
    ("hostname", "-bad-.example"), ("int32", 2**31),
])
def test_the_validator_checks_formats(spec30: Spec, fmt: str, bad: Any) -> None:
    kind = "integer" if fmt == "int32" else "string"
    assert problems(spec30, {"type": kind, "format": fmt}, bad)


def test_the_validator_checks_nullable_and_read_write_only(spec30: Spec) -> None:
    assert problems(spec30, {"type": "string"}, None)
    assert not problems(spec30, {"type": "string", "nullable": True}, None)
    assert problems(spec30, ref("Account"), {"login": "a"}, "request")  # password is required in a request
    assert problems(spec30, ref("Account"), {"login": "a", "password": "p", "id": 1}, "request")
    assert problems(spec30, ref("Account"), {"login": "a", "password": "p", "id": 1, "created": "x"}, "response")


# -- formats and constraints -------------------------------------------------------------------

def test_every_format(gen30: Generator) -> None:
    for seed in range(30):
        v = valid(gen30, ref("Formats"), seed)
        assert datetime.fromisoformat(v["dateTime"].replace("Z", "+00:00"))
        assert date.fromisoformat(v["date"]) and len(v["date"]) == 10
        assert re.fullmatch(r"\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", v["time"])
        assert str(uuid.UUID(v["uuid"])) == v["uuid"]
        assert re.fullmatch(r"[a-z]+\.[a-z]+@example\.(com|org|net)", v["email"])
        assert urlsplit(v["uri"]).scheme == "https" and urlsplit(v["url"]).netloc
        assert HOSTNAME.fullmatch(v["hostname"])
        assert ipaddress.IPv4Address(v["ipv4"]) and ipaddress.IPv6Address(v["ipv6"])
        assert base64.b64decode(v["byte"], validate=True)
        assert isinstance(v["binary"], str) and v["binary"]
        assert isinstance(v["int32"], int) and -(2**31) <= v["int32"] < 2**31
        assert isinstance(v["int64"], int) and -(2**63) <= v["int64"] < 2**63
        assert isinstance(v["float"], float) and isinstance(v["double"], float)
        assert isinstance(v["password"], str) and len(v["password"]) >= 8


def test_numeric_and_string_constraints(gen30: Generator) -> None:
    seen_small = set()
    for seed in range(60):
        v = valid(gen30, ref("Constraints"), seed)
        seen_small.add(v["small"])
        assert 3 <= v["small"] <= 5
        assert v["exclusive"] == 4                       # 3.0: minimum 3 / maximum 5, both exclusive
        assert v["negative"] <= -10
        assert 0.5 <= v["price"] < 0.75
        assert v["step"] % 7 == 0 and 100 <= v["step"] <= 140
        assert round(v["cents"] * 100, 6).is_integer() and 1 <= v["cents"] <= 2
        assert re.fullmatch(r"[A-Z]{3}-\d{4}", v["code"])
        assert re.fullmatch(r"[a-z]{20,22}", v["sku"])   # pattern and length limits together
        assert len(v["short"]) <= 3 and 40 <= len(v["long"]) <= 45
        assert 3 <= len(v["tags"]) <= 4 and len(set(v["tags"])) == len(v["tags"])
        assert v["color"] in ("red", "green", "blue")
        assert isinstance(v["maybe"], str)               # nullable: the non-null type preferred
    assert seen_small == {3, 4, 5}


def test_31_keywords(gen31: Generator) -> None:
    for seed in range(60):
        v = valid(gen31, ref("Item"), seed)
        assert v["id"] in (1, 2)                         # 3.1: exclusiveMinimum 0, exclusiveMaximum 3
        assert isinstance(v["label"], str) and 2 <= len(v["label"]) <= 4  # [string, null]: a string
        assert v["kind"] == "widget"                     # const
        assert 1.5 < v["score"] <= 1.75
        assert v["ratio"] in (0.25, 0.5, 0.75, 1.0)      # multipleOf 0.25, exclusiveMinimum 0
        assert 1 <= len(v["tuple"]) <= 2 and date.fromisoformat(v["tuple"][0])  # prefixItems, items: false
        assert isinstance(v["ts"], str)


def test_31_ref_with_siblings(gen31: Generator) -> None:
    for seed in range(10):
        v = valid(gen31, ref("Described"), seed)
        assert "created" in v and isinstance(v["extra"], bool)  # $ref'd Meta and the siblings both apply


def test_objects_and_maps(gen30: Generator) -> None:
    for seed in range(40):
        v = valid(gen30, ref("Maps"), seed)
        assert 1 <= len(v["counts"]) <= 2 and all(isinstance(n, int) and n >= 0 for n in v["counts"].values())
        assert set(v["closed"]) == {"a"}
        assert 4 <= len(v["sized"]) <= 5
        assert len(v["patterned"]) >= 2 and all(re.fullmatch(r"x-[a-z]+", k) for k in v["patterned"])
        assert not isinstance(v["notString"], str)


@pytest.mark.parametrize("pattern, low, high", [
    (r"^[A-Z]{2}\d{6}$", 0, None), (r"^\+?[1-9]\d{1,14}$", 0, None), (r"^(foo|bar|bazz)-\w{3,5}$", 0, None),
    (r"^[a-f0-9]{8}(-[a-f0-9]{4}){3}-[a-f0-9]{12}$", 0, None), (r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", 0, None),
    (r"^(?<year>\d{4})-(0[1-9]|1[0-2])$", 0, None), (r"ab+c", 10, 12), (r"^\d+$", 30, 30),
    (r"^[A-Za-z ]*$", 5, 8), (r"^(\w)\1$", 0, None), (r"^[\u00e0-\u00ff]{3}$", 0, None), (r"x", 4, 6),
])
def test_patterns(spec31: Spec, gen31: Generator, pattern: str, low: int, high: int | None) -> None:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, "minLength": low}
    if high is not None:
        schema["maxLength"] = high
    for seed in range(25):
        text = gen31.value(schema, seed)
        assert re.search(pattern.replace("(?<year>", "(?P<year>"), text), (pattern, text)
        assert low <= len(text) <= (high if high is not None else len(text)), (pattern, text)


def test_integer_and_decimal_multiples(gen31: Generator) -> None:
    for seed in range(40):
        assert gen31.value({"type": "integer", "multipleOf": 0.5, "minimum": 3, "maximum": 9}, seed) in range(3, 10)
        n = gen31.value({"type": "integer", "multipleOf": 12, "minimum": -50, "maximum": -1}, seed)
        assert n % 12 == 0 and -50 <= n <= -1
        x = gen31.value({"type": "number", "multipleOf": 0.1, "minimum": 0.2, "maximum": 0.9}, seed)
        assert not problems(gen31.spec, {"type": "number", "multipleOf": 0.1}, x) and 0.2 <= x <= 0.9


# -- composition ---------------------------------------------------------------------------------

def test_all_of_merges_bounds_and_properties(gen30: Generator) -> None:
    assert {gen30.value(ref("Merged"), seed) for seed in range(30)} == {5, 6}
    for seed in range(20):
        v = valid(gen30, ref("MergedObject"), seed)
        assert {"id", "email", "nickname"} <= v.keys() and 3 <= len(v["nickname"]) <= 5
        assert len(v["email"]) <= 40


def test_one_of_matches_exactly_one_branch(gen30: Generator) -> None:
    eithers, shapes = [], set()
    for seed in range(100):
        v = valid(gen30, ref("Shapes"), seed)
        eithers.append(v["either"])
        shapes.add(next(iter(v["shape"])))
    assert all((n % 2 == 0) != (n % 3 == 0) for n in eithers)  # never a multiple of 6: both branches
    assert any(n % 2 == 0 for n in eithers) and any(n % 3 == 0 for n in eithers)
    assert shapes == {"radius", "side"}                         # anyOf: each branch is chosen sometimes


def test_discriminator_with_mapping(gen30: Generator) -> None:
    kinds = set()
    for seed in range(60):
        v = valid(gen30, ref("AnyPet"), seed)
        kinds.add(v["petType"])
        expected = {"cat": "indoor", "dog": "bark", "Lizard": "name"}[v["petType"]]
        assert expected in v
    assert kinds == {"cat", "dog", "Lizard"}  # mapped keys, and the schema name where unmapped


def test_discriminator_implicit(gen30: Generator) -> None:
    kinds = set()
    for seed in range(40):
        v = valid(gen30, ref("ImplicitPet"), seed)
        kinds.add(v["petType"])
        assert ("indoor" in v) == (v["petType"] == "Cat") and ("bark" in v) == (v["petType"] == "Dog")
    assert kinds == {"Cat", "Dog"}


def test_discriminator_on_a_parent_through_all_of(gen30: Generator, spec2: Spec) -> None:
    for seed in range(10):
        assert valid(gen30, ref("Cat"), seed)["petType"] == "Cat"
        assert valid(gen30, ref("Dog"), seed)["petType"] == "Dog"
    gen2 = Generator(spec2)  # Swagger 2.0: `discriminator: petType`, the definition's name
    assert valid(gen2, ref("Cat", spec2), 1)["petType"] == "Cat"


def test_discriminator_mapping_by_name_31(gen31: Generator) -> None:
    kinds = set()
    for seed in range(30):
        v = valid(gen31, ref("Vehicle"), seed)
        kinds.add(v["kind"])
        assert ("doors" in v) == (v["kind"] == "car") and ("gears" in v) == (v["kind"] == "bike")
    assert kinds == {"car", "bike"}


# -- readOnly / writeOnly ------------------------------------------------------------------------

def test_read_only_and_write_only_per_direction(gen30: Generator, gen31: Generator) -> None:
    for seed in range(10):
        out = valid(gen30, ref("Account"), seed, "response")
        assert {"id", "login", "created"} <= out.keys() and "password" not in out
        sent = valid(gen30, ref("Account"), seed, "request")
        assert {"login", "password"} <= sent.keys() and not {"id", "created"} & sent.keys()
        pet = valid(gen30, ref("Pet"), seed, "response")  # nested: the owner's password is writeOnly
        assert "password" not in pet["owner"] and "secret" not in pet and "created" in pet["owner"]
        assert "created" not in valid(gen30, ref("Pet"), seed, "request")["owner"]
        assert "token" in valid(gen31, ref("Flags"), seed, "response")
        assert "pin" in valid(gen31, ref("Flags"), seed, "request")
        assert "pin" not in gen31.value(ref("Flags"), seed, direction="response")
        assert "token" not in gen31.value(ref("Flags"), seed, direction="request")


# -- recursion -------------------------------------------------------------------------------------

def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("max_depth", [2, 4, 6])
def test_recursion_is_bounded(spec30: Spec, max_depth: int) -> None:
    gen = Generator(spec30, max_depth=max_depth)
    deepest = 0
    for seed in range(10):
        tree = valid(gen, ref("Tree"), seed)
        deepest = max(deepest, nesting(tree))
        assert nesting(tree) <= max_depth + 2  # arrays count as a level in nesting(), objects too
        valid(gen, ref("Ping"), seed)           # Ping → Pong → [Ping]: ends with an empty array
    assert deepest >= max_depth                 # optional properties are included until the limit


def test_recursion_through_nullable_ends_with_null(gen31: Generator) -> None:
    for seed in range(10):
        chain = valid(gen31, ref("Chain"), seed)
        assert nesting(chain) <= gen31.max_depth + 2
        valid(gen31, ref("MaybeItem"), seed)


def test_required_recursion_without_end_is_an_error(gen30: Generator) -> None:
    with pytest.raises(GenerateError) as caught:
        gen30.value(ref("Endless"), 1)
    assert "recursion" in caught.value.message


# -- determinism, seeds --------------------------------------------------------------------------

def test_same_seed_same_value(gen30: Generator, spec30: Spec) -> None:
    for seed in (0, 1, "abc", 12345678901234):
        first = gen30.value(ref("Everything"), seed)
        assert gen30.value(ref("Everything"), seed) == first
        assert Generator(spec30).value(ref("Everything"), seed) == first  # not state of one generator


def test_same_seed_same_value_in_another_process(gen30: Generator) -> None:
    script = ("import json, sys; from pathlib import Path; from stuntman.openapi.document import load_spec; "
              "from stuntman.openapi.generate import Generator; "
              f"g = Generator(load_spec(Path({str(SPECS / 'shop30.yaml')!r}))); "
              "print(json.dumps([g.value({'$ref': '#/components/schemas/Everything'}, s) for s in (7, 'x')]))")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1]
    here = [gen30.value(ref("Everything"), s) for s in (7, "x")]
    assert json.loads(runs[0]) == json.loads(json.dumps(here))


def test_different_seeds_differ(gen30: Generator) -> None:
    values = {json.dumps(gen30.value(ref("Pet"), seed), sort_keys=True) for seed in range(30)}
    assert len(values) >= 28
    numbers = {gen30.value({"type": "integer"}, seed) for seed in range(30)}
    assert len(numbers) >= 20


def test_sweep_every_value_validates(gen30: Generator, spec2: Spec) -> None:
    for seed in range(200):
        for direction in ("response", "request"):
            valid(gen30, ref("Everything"), seed, direction, use_examples=bool(seed % 2))
    gen2 = Generator(spec2)
    for seed in range(100):
        valid(gen2, ref("Pet", spec2), seed)
        upload = valid(gen2, ref("Upload", spec2), seed, "request")
        assert isinstance(upload["file"], str)  # type: file → a binary string


def test_sweep_31(gen31: Generator) -> None:
    for seed in range(200):
        for name in ("Item", "Vehicle", "Chain", "Flags"):
            valid(gen31, ref(name), seed, "request" if seed % 3 == 0 else "response", use_examples=bool(seed % 2))


# -- hints -------------------------------------------------------------------------------------------

def test_hints_echo_where_the_type_allows(gen30: Generator) -> None:
    v = valid(gen30, ref("Envelope"), 1, hints={"id": "42"})
    assert v["data"]["id"] == 42               # "42" as an integer, nested
    assert v["id"] != "42"                     # a uuid: "42" does not fit, so it is generated
    assert valid(gen30, ref("Pet"), 1, hints={"id": "42"})["id"] == 42
    assert valid(gen30, ref("Owner"), 1, hints={"id": "4a3e4f3c-3bbd-4bb0-9b06-d6a1a7c5b0a1"})["id"] == \
        "4a3e4f3c-3bbd-4bb0-9b06-d6a1a7c5b0a1"
    assert isinstance(valid(gen30, ref("Envelope"), 1, hints={"id": "abc"})["data"]["id"], int)
    assert valid(gen30, ref("Sample"), 1, hints={"id": "9"}) == {"id": 9, "name": "Rex"}  # into an example


# -- examples ------------------------------------------------------------------------------------------

def test_examples_used_and_not(gen30: Generator, gen31: Generator) -> None:
    assert valid(gen30, ref("Sample"), 1) == {"id": 7, "name": "Rex"}
    dynamic = [valid(gen30, ref("Sample"), seed, use_examples=False) for seed in range(10)]
    assert all(v != {"id": 7, "name": "Rex"} for v in dynamic)
    props = "#/components/schemas/Sample/properties"
    assert gen30.value({"$ref": f"{props}/name"}, 1) == "Fido"
    assert gen30.value({"$ref": f"{props}/age"}, 1) == 3            # default
    assert gen30.value({"$ref": f"{props}/kind"}, 1) == "dog"       # first of enum
    assert {gen30.value({"$ref": f"{props}/kind"}, s, use_examples=False) for s in range(20)} == {"dog", "cat"}
    assert "Fido" not in {gen30.value({"$ref": f"{props}/name"}, s, use_examples=False) for s in range(10)}
    assert isinstance(valid(gen30, ref("BadSample"), 1)["id"], int)  # an example that does not validate
    assert gen31.value({"$ref": "#/components/schemas/Item/properties/nick"}, 1) == "bob"  # 3.1: examples[0]
    assert gen31.value({"$ref": "#/components/schemas/Flags/properties/role"}, 1) == "user"


# -- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [("Impossible", "minimum 10 and maximum 5"), ("BadEnum", '["a"]')])
def test_unsatisfiable_schemas_raise(gen30: Generator, name: str, words: str) -> None:
    with pytest.raises(GenerateError) as caught:
        gen30.value(ref(name), 1)
    assert caught.value.pointer == f"/components/schemas/{name}" and words in caught.value.message


@pytest.mark.parametrize("schema", [
    {"type": "string", "minLength": 5, "maxLength": 2},
    {"type": "string", "format": "date-time", "maxLength": 5},
    {"type": "string", "pattern": "^[a-z]{3}$", "minLength": 5},
    {"type": "array", "minItems": 3, "maxItems": 1},
    {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"type": "boolean"}},
    {"type": "object", "required": ["a", "b"], "maxProperties": 1},
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "integer", "minimum": 1, "maximum": 2, "multipleOf": 5},
])
def test_more_unsatisfiable_schemas_raise(gen31: Generator, schema: dict) -> None:
    with pytest.raises(GenerateError):
        gen31.value(schema, 1)


# -- realistic strings and speed -----------------------------------------------------------------------

def test_realistic_strings_by_property_name(gen30: Generator) -> None:
    v = valid(gen30, ref("Person"), 3)
    assert re.fullmatch(r"[A-Z][a-z]+", v["firstName"]) and re.fullmatch(r"\S+@\S+\.\S+", v["email"])
    assert v["description"].endswith(".") and " " in v["description"]


def test_generating_a_twenty_field_object_is_fast(gen30: Generator) -> None:
    gen30.value(ref("Twenty"), 0)  # the Faker pools are drawn once, on first use
    rounds = 300
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for seed in range(rounds):
            gen30.value(ref("Twenty"), seed)
        best = min(best, (time.perf_counter() - start) / rounds)
    print(f"20-field object: {best * 1e6:.0f} µs")
    assert best < 0.005  # well under 1 ms on a quiet machine; the bound leaves room for a loaded one


def test_31_boolean_schemas(gen31: Generator) -> None:
    assert gen31.value(True, 1) is not None
    assert isinstance(gen31.value({"type": "array"}, 1), list)  # no items: any items
    schema = {"type": "object", "properties": {"x": False, "y": {"type": "integer"}}}
    for seed in range(10):
        value = gen31.value(schema, seed)
        assert "x" not in value and not problems(gen31.spec, schema, value)
    with pytest.raises(GenerateError):
        gen31.value({"type": "object", "required": ["x"], "properties": {"x": False}}, 1)


def test_schemas_made_per_call_do_not_grow_the_caches(gen31: Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    import stuntman.openapi.flatten as flatten

    monkeypatch.setattr(flatten, "_CACHE_LIMIT", 10)
    for seed in range(50):
        schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": seed}}}
        value = gen31.value(schema, seed)
        assert value["n"] >= seed and not problems(gen31.spec, schema, value)
    assert len(gen31.schemas._flat) <= 10


# -- found over APIs.guru's corpus (bench/openapi_corpus.py): what the validators refused ---------

def _served(tmp_path: Path, schemas: dict, body: dict, version: str = "3.0.3") -> tuple[Spec, Any]:
    """A one-operation spec whose 200 answers `body` (a schema), and that operation's ResponseValidator."""
    from stuntman.openapi.validate import ResponseValidator

    doc = {"openapi": version, "info": {"title": "t", "version": "1"}, "components": {"schemas": schemas},
           "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "content": {
               "application/json": {"schema": body}}}}}}}}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    loaded = load_spec(tmp_path / "s.json", "s.json")
    return loaded, ResponseValidator(loaded, loaded.operations[0])


def test_every_format_the_validator_checks_is_generated_valid(tmp_path: Path) -> None:
    # (azure.com's `format: duration`, gsmtasks' and telnyx's json-pointer were made as plain words)
    formats = ("duration", "json-pointer", "relative-json-pointer", "uri-template", "regex", "uri",
               "uri-reference", "iri", "iri-reference", "date-time", "date", "time", "email", "hostname",
               "idn-hostname", "ipv4", "ipv6", "uuid", "byte")
    body = {"type": "object", "required": list(formats),
            "properties": {f: {"type": "string", "format": f} for f in formats}}
    loaded, validator = _served(tmp_path, {}, body)
    gen = Generator(loaded)
    for seed in range(20):
        value = gen.value(body, seed, use_examples=False)
        assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == [], value


def test_an_example_the_format_refuses_is_not_answered(tmp_path: Path) -> None:
    # (codat.io: `format: uri-reference, example: /companies/{id}/data`; `{` is not allowed in a URI)
    body = {"type": "object", "required": ["href", "link"], "properties": {
        "href": {"type": "string", "format": "uri-reference", "example": "/companies/{id}/data"},
        "link": {"type": "string", "format": "uri", "example": "https://x.example/a?ref={PNR}"}}}
    loaded, validator = _served(tmp_path, {}, body)
    value = Generator(loaded).value(body, 1)
    assert "{" not in value["href"] and "{" not in value["link"]
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_a_discriminated_one_of_whose_branches_overlap(tmp_path: Path, version: str) -> None:
    # (influxdata.com's NotificationEndpoint: an Http value is a Slack one too. 3.0: the
    # discriminator names the branch, both kinds are made; 3.1: it is an annotation, and the
    # oneOf is JSON Schema's, so only values matching one branch are)
    base = {"type": "object", "required": ["type", "name"],
            "properties": {"type": {"type": "string", "enum": ["slack", "http"]}, "name": {"type": "string"}}}
    schemas = {
        "Base": base,
        "Slack": {"allOf": [{"$ref": "#/components/schemas/Base"},
                            {"type": "object", "properties": {"url": {"type": "string"}}}]},
        "Http": {"allOf": [{"$ref": "#/components/schemas/Base"},
                           {"type": "object", "required": ["url", "method"],
                            "properties": {"url": {"type": "string"}, "method": {"type": "string"}}}]},
    }
    body = {"oneOf": [{"$ref": "#/components/schemas/Slack"}, {"$ref": "#/components/schemas/Http"}],
            "discriminator": {"propertyName": "type", "mapping": {"slack": "#/components/schemas/Slack",
                                                                  "http": "#/components/schemas/Http"}}}
    loaded, validator = _served(tmp_path, schemas, body, version)
    gen = Generator(loaded)
    kinds = set()
    for seed in range(20):
        value = gen.value(body, seed, use_examples=False)
        kinds.add(value["type"])
        assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == [], value
        assert problems(loaded, body, value) == []
    assert kinds == ({"slack", "http"} if version.startswith("3.0") else {"slack"})


def test_a_body_of_many_optional_nested_objects_stays_small_and_valid(tmp_path: Path) -> None:
    # (stripe.com in APIs.guru: each object has dozens of optional object properties, so a charge
    # was 800 KB and took 1.2 s at depth 6; past a size budget only what is required is made)
    props = {f"p{i}": {"$ref": "#/components/schemas/Wide"} for i in range(12)}
    schemas = {"Wide": {"type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"}, **props}}}
    body = {"$ref": "#/components/schemas/Wide"}
    loaded, validator = _served(tmp_path, schemas, body)
    gen = Generator(loaded)
    start = time.perf_counter()
    value = gen.value(body, 1, use_examples=False)
    elapsed = time.perf_counter() - start
    text = json.dumps(value)
    assert len(text) < 200_000 and elapsed < 2.0, (len(text), elapsed)  # 12^6 objects without the budget
    assert len(value) > 1  # the top levels still have their optional properties
    assert validator.check(200, {}, text.encode(), "application/json") == []


def test_unicode_property_classes_in_patterns(tmp_path: Path) -> None:
    # (amazonaws.com's tags, `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`: jsonschema-rs checks \p{..}, Python's re
    # cannot read it, so no string was made: "not a regular expression this generator reads")
    patterns = [r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$", r"^[-._\p{L}\p{N}]+$", r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+",
                r"^\P{C}*$", r"^\p{Lu}\p{Ll}+$"]
    body = {"type": "object", "required": [f"p{i}" for i in range(len(patterns))],
            "properties": {f"p{i}": {"type": "string", "pattern": p, "minLength": 1} for i, p in enumerate(patterns)}}
    loaded, validator = _served(tmp_path, {}, body)
    gen = Generator(loaded)
    for seed in range(10):
        value = gen.value(body, seed, use_examples=False)
        assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == [], value


def test_a_required_property_whose_flag_is_behind_all_of_is_made(tmp_path: Path) -> None:
    # (atlassian.com's jira: `position: {allOf: [$ref: Position], readOnly: true}`, Position
    # `writeOnly`: the validators keep it required in a response, the generator left it out)
    schemas = {"Position": {"type": "object", "writeOnly": True, "properties": {"row": {"type": "integer"}}},
               "Gadget": {"type": "object", "required": ["id", "position"], "additionalProperties": False,
                          "properties": {"id": {"type": "integer"},
                                         "position": {"allOf": [{"$ref": "#/components/schemas/Position"}]}}}}
    body = {"$ref": "#/components/schemas/Gadget"}
    loaded, validator = _served(tmp_path, schemas, body)
    value = Generator(loaded).value(body, 1, use_examples=False)
    assert "position" in value
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []


def test_a_discriminator_name_the_property_does_not_allow_is_not_forced(tmp_path: Path) -> None:
    # (azure.com's alertsMetaDataProperties: `discriminator: metadataIdentifier`, whose enum is
    # [MonitorServiceList]; the schema's own name was put there)
    schemas = {"Props": {"type": "object", "required": ["kind"], "discriminator": {"propertyName": "kind"},
                         "properties": {"kind": {"type": "string", "enum": ["MonitorServiceList"]}}}}
    body = {"type": "object", "properties": {"props": {"$ref": "#/components/schemas/Props"}}}
    loaded, validator = _served(tmp_path, schemas, body)
    value = Generator(loaded).value(body, 1, use_examples=False)
    assert value["props"]["kind"] == "MonitorServiceList"
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []


def test_a_pattern_that_backtracks_catastrophically_does_not_hang(tmp_path: Path) -> None:
    # (beezup.com in APIs.guru: an example checked against its pattern with Python's re never
    # finished; the validators' engine is linear)
    body = {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string", "pattern": "^(a+)+$", "example": "a" * 40 + "!"}}}
    loaded, validator = _served(tmp_path, {}, body)
    start = time.perf_counter()
    value = Generator(loaded).value(body, 1)
    assert time.perf_counter() - start < 2.0
    assert value["code"] != "a" * 40 + "!"  # the example does not fit: a value is made
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []


def test_a_pattern_with_surrogates_makes_strings_a_body_can_carry(tmp_path: Path) -> None:
    # (amazonaws.com's emr specs: [\u0020-\uD7FF\uE000-\uFFFD\uD800\uDBFF-\uDC00\uDFFF]*; a lone
    # surrogate made the body impossible to encode as UTF-8: the responder raised)
    pattern = "^[\\uD800\\uDBFF-\\uDC00\\uDFFF\\u0100-\\u0180]+$"
    body = {"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "pattern": pattern}}}
    loaded, validator = _served(tmp_path, {}, body)
    gen = Generator(loaded)
    for seed in range(10):
        value = gen.value(body, seed, use_examples=False)
        encoded = json.dumps(value, ensure_ascii=False).encode()  # no UnicodeEncodeError
        assert validator.check(200, {}, encoded, "application/json") == []


def test_a_long_enum_is_read_once(tmp_path: Path) -> None:
    # (stripe.com: enums of hundreds of values, each checked value compared with every one of them
    # as JSON text, again and again: 2.5 s for one body)
    codes = [f"code_{i}" for i in range(500)]
    body = {"type": "array", "minItems": 100, "maxItems": 100,
            "items": {"type": "object", "required": ["c"], "properties": {"c": {"type": "string", "enum": codes}}}}
    loaded, validator = _served(tmp_path, {}, body)
    gen = Generator(loaded)
    start = time.perf_counter()
    value = gen.value(body, 1, use_examples=False)
    assert time.perf_counter() - start < 2.0  # (0.2 s; 40 s comparing as JSON text)
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []


def test_a_one_of_integer_or_number_never_gets_a_whole_number(tmp_path: Path) -> None:
    # (influxdata.com's defaultValue: oneOf [string, integer, number, boolean]; a whole float such
    # as 580.0 is an integer to the validators, so it matched two branches)
    body = {"type": "object", "required": ["v"], "properties": {"v": {"oneOf": [{"type": "integer"},
                                                                                {"type": "number"}]}}}
    loaded, validator = _served(tmp_path, {}, body)
    gen = Generator(loaded)
    assert not gen.checker.one_of(580.0, body["properties"]["v"], "response")
    for seed in range(30):
        value = gen.value(body, seed, use_examples=False)
        assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == [], value


def test_a_date_time_of_a_fixed_length(tmp_path: Path) -> None:
    # (unicourt.com: `format: date-time, minLength: 25, maxLength: 25`; only the 20-character
    # ...Z form was made, so no string fitted)
    props = {f"d{n}": {"type": "string", "format": "date-time", "minLength": n, "maxLength": n}
             for n in (20, 24, 25, 29)}
    body = {"type": "object", "required": list(props), "properties": props}
    loaded, validator = _served(tmp_path, {}, body)
    value = Generator(loaded).value(body, 1, use_examples=False)
    assert validator.check(200, {}, json.dumps(value).encode(), "application/json") == []
