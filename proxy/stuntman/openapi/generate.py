"""Data generated from an OpenAPI schema: the bodies a spec-served stand-in answers with.

`Generator(spec).value(schema, seed)` returns a JSON-compatible value that validates against the
schema, the same one for the same seed (in any process: seeds go through `random.Random(str)`,
which hashes with SHA-512, never `hash()`), and another one for another seed.

How a value is made: a schema is first *flattened* into the list of schema objects the value must
satisfy together (its `$ref` followed, its `allOf` branches added, a chosen `oneOf`/`anyOf`
branch added), so `allOf` needs no merged copy of its branches; each keyword is then read across
the whole list (the tightest bound wins, `required` is the union, `properties` of the same name
are satisfied together). A value made that way is checked by `_Checker`, a small validator of
the same keywords; what does not fit is made again from another seed, and a schema nothing fits
raises `GenerateError` naming where. Realistic strings come from pools drawn once from Faker.
"""
from __future__ import annotations

import base64
import copy
import importlib
import ipaddress
import json
import math
import random
import re
import string
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from .document import escape, unescape, walk_pointer

if TYPE_CHECKING:
    from .document import Spec

Direction = Literal["response", "request"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_ATTEMPTS = 4          # whole values made again (from another seed) before giving up
_CACHE_LIMIT = 20_000  # schema objects whose flattening is kept (a spec has fewer)
_DEPTH_SLACK = 12      # levels past max_depth a required chain may still go before it is cut
# values made in one value() call before the rest is made as past max_depth (required properties
# and minItems only): a spec whose objects each have dozens of optional object properties (Stripe's
# charge: 800 KB and 1.2 s at depth 6) gets a body of tens of KB
_SIZE_BUDGET = 2_000
_ANY_TYPES = ("string", "integer", "boolean", "object", "array", "number", "null")


class GenerateError(Exception):
    """A schema no value can satisfy (or one this generator cannot satisfy): where, and why."""

    def __init__(self, pointer: str, message: str):
        super().__init__(f"#{pointer}: {message}")
        self.pointer, self.message = pointer, message


@dataclass(frozen=True)
class _Part:
    """One schema object a value must satisfy; `at` is its JSON pointer, for errors."""

    schema: dict
    at: str
    done: frozenset[str] = frozenset()  # oneOf/anyOf already chosen for this value


@dataclass
class _Call:
    """One value() call: its random source and options."""

    rng: random.Random
    direction: str
    hints: Mapping[str, str]
    use_examples: bool
    made: list[int] = field(default_factory=lambda: [0])  # values made so far (shared by copies of the call)


@dataclass
class _Facts:
    """What a list of schemas says about a value, read once per list: the keywords that decide
    how it is made, and the scalar constraints (the tightest across the list)."""

    examples: bool                          # some part has example/examples/default
    enum: bool                              # some part has const/enum
    choice: tuple[int, str] | None          # the first part with an unchosen oneOf/anyOf
    nots: list[Any]
    types: list[str]                        # preferred first (null last)
    types_deep: list[str]                   # past max_depth (null first when it ends recursion)
    low: tuple[float, bool] | None          # (bound, exclusive)
    high: tuple[float, bool] | None
    bounds_error: str | None                # minimum/maximum that leave nothing
    step: Fraction | None                   # multipleOf (their least common multiple)
    formats: list[str]
    patterns: list[str]
    min_length: int
    max_length: int | None


@dataclass
class _ObjectPlan:
    """The properties of an object schema (its parts together), for one direction."""

    at: str
    order: list[str]                       # declared, then required-but-undeclared names
    declared: dict[str, Any]               # name → its (first) schema
    must: list[str]                        # required and not hidden
    optional: list[str]                    # declared, not required, not hidden, allowed
    hidden: set[str]                       # readOnly in a request, writeOnly in a response
    values: dict[str, list[_Part] | None]  # name → the schemas its value satisfies (None: forbidden)
    lowest: int                            # minProperties
    highest: int | None                    # maxProperties
    maplike: bool                          # no properties, additionalProperties: {schema}
    discriminators: list[tuple[str, Any]]  # (property, discriminator) of a parent reached through allOf


class Generator:
    def __init__(self, spec: Spec, *, max_depth: int = 6):
        self.spec = spec
        self.doc = spec.doc
        self.oas31 = spec.dialect == "oas31"
        self.max_depth = max_depth
        self.checker = _Checker(spec.doc, spec.dialect)
        self._pointers: dict[int, str] | None = None
        self._flat: dict[int, tuple[Any, list[_Part]]] = {}
        # keyed by the ids of the parts' schemas; each entry keeps its parts (so those ids are not reused)
        self._plans: dict[tuple, tuple[list[_Part], _ObjectPlan]] = {}
        self._facts: dict[tuple, tuple[list[_Part], _Facts]] = {}

    # -- the entry point -------------------------------------------------------------------------

    def value(self, schema: Any, seed: int | str, *, direction: Direction = "response",
              hints: Mapping[str, str] | None = None, use_examples: bool = True) -> Any:
        at = self._locate(schema)
        last: GenerateError | None = None
        for attempt in range(_ATTEMPTS):
            call = _Call(random.Random(f"{seed}\x00{attempt}"), direction, hints or {}, use_examples)
            try:
                value = self._generate(self._flatten(schema, at), call, 0, None, self_ref=_ref_of(schema))
            except GenerateError as exc:
                last = exc
                continue
            if self.checker.conforms(value, schema, direction):
                return value
            last = GenerateError(at, "no generated value fits the schema")
        assert last is not None
        raise last

    # -- flattening: a schema as the list of schema objects a value must satisfy ------------------

    def _flatten(self, schema: Any, at: str) -> list[_Part]:
        """Cached per schema object (the entry keeps the object, so its id is not reused); the
        list returned is shared: callers build new lists from it, never change it."""
        cached = self._flat.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        out: list[_Part] = []
        self._flatten_into(schema, at, out, set())
        if len(self._flat) >= _CACHE_LIMIT:  # schemas made per call by a caller: start again
            self._flat.clear()  # the other caches are keyed by ids of schemas this one keeps alive
            self._facts.clear()
            self._plans.clear()
        self._flat[id(schema)] = (schema, out)
        return out

    def _flatten_into(self, schema: Any, at: str, out: list[_Part], seen: set[str]) -> None:
        if schema is True or schema is None:
            return
        if schema is False:
            raise GenerateError(at, "the schema `false` admits no value")
        if not isinstance(schema, dict):
            raise GenerateError(at, "a schema is an object")
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in seen:  # allOf through itself: already in the list
                return
            seen.add(ref)
            self._flatten_into(self._target(ref, at), ref[1:], out, seen)
            if not self.oas31:  # 3.0: siblings of $ref are ignored
                return
        out.append(_Part(schema, at))
        for i, branch in enumerate(_list(schema.get("allOf"))):
            self._flatten_into(branch, f"{at}/allOf/{i}", out, seen)

    def _target(self, ref: str, at: str) -> Any:
        try:
            return walk_pointer(self.doc, ref[1:])
        except KeyError:
            raise GenerateError(at, f"$ref {ref!r} points at nothing") from None

    def _locate(self, schema: Any) -> str:
        """The pointer of a schema object in the spec ("" when it is not in it): for errors."""
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            return str(schema["$ref"])[1:]
        if self._pointers is None:
            self._pointers = {}
            stack: list[tuple[Any, str]] = [(self.doc, "")]
            while stack:
                node, ptr = stack.pop()
                if isinstance(node, dict):
                    self._pointers[id(node)] = ptr
                    stack.extend((v, f"{ptr}/{escape(str(k))}") for k, v in node.items() if isinstance(v, (dict, list)))
                elif isinstance(node, list):
                    stack.extend((v, f"{ptr}/{i}") for i, v in enumerate(node) if isinstance(v, (dict, list)))
        return self._pointers.get(id(schema), "")

    # -- one value ------------------------------------------------------------------------------

    def _generate(self, parts: list[_Part], call: _Call, depth: int, name: str | None,
                  forced: dict[str, Any] | None = None, self_ref: str | None = None) -> Any:
        parts = parts or _ANYTHING  # `true`, or an array without `items`: any value
        facts = self._facts_of(parts)
        if depth > self.max_depth + _DEPTH_SLACK:
            raise GenerateError(parts[0].at if parts else "", "recursion does not end: a required property or "
                                                              "item leads back here at every level")
        if call.use_examples and facts.examples:
            example = self._example(parts, call)
            if example is not _NOTHING:
                return example
        if facts.enum:
            return self._from_enum(parts, call)
        if facts.choice is not None:
            return self._choose(parts, *facts.choice, call, depth, name, forced)
        call.made[0] += 1
        types = facts.types_deep if self._deep(depth, call) else facts.types
        if not facts.nots:
            return self._typed(types[0], parts, facts, call, depth, name, forced, self_ref)
        for kind in types * 2:  # `not`: best effort, each allowed type tried twice
            value = self._typed(kind, parts, facts, call, depth, name, forced, self_ref)
            if not any(self.checker.conforms(value, n, call.direction) for n in facts.nots):
                return value
        raise GenerateError(parts[0].at, "no value found outside `not`")

    def _deep(self, depth: int, call: _Call) -> bool:
        """Past max_depth, or past the size budget: make what is required only."""
        return depth >= self.max_depth or call.made[0] > _SIZE_BUDGET

    def _facts_of(self, parts: list[_Part]) -> _Facts:
        key = tuple((id(p.schema), p.done) for p in parts)
        entry = self._facts.get(key)
        if entry is None:
            entry = self._facts[key] = (parts, self._read_facts(parts))
        return entry[1]

    def _read_facts(self, parts: list[_Part]) -> _Facts:
        choice = next(((i, kw) for i, p in enumerate(parts) for kw in ("oneOf", "anyOf")
                       if kw in p.schema and kw not in p.done), None)
        try:
            low, high = _bounds(parts)
            bounds_error = None
        except GenerateError as exc:
            low = high = None
            bounds_error = exc.message
        return _Facts(
            examples=any(k in p.schema for p in parts for k in ("example", "examples", "default")),
            enum=any("const" in p.schema or isinstance(p.schema.get("enum"), list) for p in parts),
            choice=choice, nots=[p.schema["not"] for p in parts if "not" in p.schema],
            types=self._types(parts, deep=False), types_deep=self._types(parts, deep=True),
            low=low, high=high, bounds_error=bounds_error, step=_multiple(parts),
            formats=[p.schema["format"] for p in parts if isinstance(p.schema.get("format"), str)],
            patterns=[p.schema["pattern"] for p in parts if isinstance(p.schema.get("pattern"), str)],
            min_length=_lower(parts, "minLength"), max_length=_upper(parts, "maxLength"))

    def _typed(self, kind: str, parts: list[_Part], facts: _Facts, call: _Call, depth: int, name: str | None,
               forced: dict[str, Any] | None, self_ref: str | None) -> Any:
        if kind == "object":
            return self._object(parts, call, depth, forced, self_ref)
        if kind == "array":
            return self._array(parts, call, depth)
        if kind == "string":
            return self._string(parts, facts, call, name)
        if kind == "integer":
            return self._integer(parts, facts, call)
        if kind == "number":
            return self._number(parts, facts, call)
        if kind == "boolean":
            return call.rng.random() < 0.5
        if kind == "never":
            raise GenerateError(parts[0].at, "the types of the schemas it must satisfy exclude each other")
        return None

    def _fits(self, value: Any, parts: list[_Part], call: _Call) -> bool:
        return all(self.checker.conforms(value, p.schema, call.direction) for p in parts)

    def _example(self, parts: list[_Part], call: _Call) -> Any:
        """A part's own example, first of `examples`, or `default`, when it fits every part."""
        for part in parts:
            for example in _examples(part.schema):
                example = self._with_hints(copy.deepcopy(example), parts, call)
                if self._fits(example, parts, call):
                    return example
        return _NOTHING

    def _with_hints(self, example: Any, parts: list[_Part], call: _Call) -> Any:
        """An object example with the hinted properties (an id from the path) put in."""
        if not call.hints or not isinstance(example, dict):
            return example
        for key in call.hints.keys() & example.keys():
            subschemas = [p.schema["properties"][key] for p in parts
                          if isinstance(p.schema.get("properties"), dict) and key in p.schema["properties"]]
            sub = [q for s in subschemas for q in self._flatten(s, "")]
            hinted = self._hinted(key, sub, call)
            if hinted is not _NOTHING:
                example[key] = hinted
        return example

    def _from_enum(self, parts: list[_Part], call: _Call) -> Any:
        """const or one of enum (that fits every part)."""
        listed = [[p.schema["const"]] for p in parts if "const" in p.schema]
        listed += [p.schema["enum"] for p in parts if isinstance(p.schema.get("enum"), list)]
        candidates = [c for c in listed[0] if self._fits(c, parts, call)]
        if not candidates:
            raise GenerateError(parts[0].at, f"no value of {_short(listed[0])} fits the schema")
        chosen = candidates[0] if call.use_examples else call.rng.choice(candidates)
        return copy.deepcopy(chosen)

    # -- composition ----------------------------------------------------------------------------

    def _choose(self, parts: list[_Part], index: int, keyword: str, call: _Call, depth: int,
                name: str | None, forced: dict[str, Any] | None) -> Any:
        """A value of one branch of oneOf/anyOf (tried in a seeded order, the next when one fails):
        for oneOf it must match that branch only; a discriminator gets the branch's name."""
        part = parts[index]
        branches = _list(part.schema[keyword])
        if not branches:
            raise GenerateError(part.at, f"an empty {keyword}")
        start = call.rng.randrange(len(branches))
        order = [(start + i) % len(branches) for i in range(len(branches))]
        if self._deep(depth, call):  # recursion: the branches that end soonest first
            order.sort(key=lambda i: self._weight(branches[i]))
        else:  # a null branch last: a value is more useful than none
            order.sort(key=lambda i: self._only_null(branches[i]))
        order = order * 3  # a branch that made a value matching two branches may make another
        discriminator = part.schema.get("discriminator")
        rest = parts[:index] + [_Part(part.schema, part.at, part.done | {keyword})] + parts[index + 1:]
        last = GenerateError(part.at, f"no branch of {keyword} can be generated")
        for i in order:
            branch = branches[i]
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            wanted = dict(forced or {})
            prop = _discriminator_property(discriminator)
            if prop is not None and isinstance(ref, str):
                wanted[prop] = _discriminator_value(discriminator, ref)
            try:
                branch_parts = self._flatten(branch, f"{part.at}/{keyword}/{i}")
                value = self._generate(rest + branch_parts, call, depth, name, wanted,
                                       ref if isinstance(ref, str) else None)
            except GenerateError as exc:
                last = exc
                continue
            if keyword == "anyOf" or self.checker.one_of(value, part.schema, call.direction):
                return value
            last = GenerateError(part.at, "every value generated matches more than one branch of oneOf")
        raise last

    def _only_null(self, schema: Any) -> bool:
        try:
            return self._facts_of(self._flatten(schema, "")).types == ["null"]
        except GenerateError:
            return False

    def _weight(self, schema: Any) -> int:
        """How far a branch may lead (0: a scalar or null ... 3: an object that requires more)."""
        try:
            parts = self._flatten(schema, "")
        except GenerateError:
            return 9
        kinds = {t for p in parts for t in _type_list(p.schema)}
        if not kinds - {"string", "integer", "number", "boolean", "null"} and kinds:
            return 0
        if any(p.schema.get("nullable") is True for p in parts) or "null" in kinds:
            return 0
        if "array" in kinds:
            return 1
        return 3 if any(p.schema.get("required") for p in parts) else 2

    def _types(self, parts: list[_Part], *, deep: bool) -> list[str]:
        """The types a value may have (every part agrees), the preferred first, null last, unless
        recursion has gone deep enough that null is what ends it."""
        allowed: list[str] | None = None
        for part in parts:
            listed = _type_list(part.schema)
            if not listed:
                continue
            if not self.oas31 and part.schema.get("nullable") is True:
                listed = [*listed, "null"]
            kinds = set(listed) | ({"integer"} if "number" in listed else set())
            allowed = [t for t in (allowed if allowed is not None else _expand(listed)) if t in kinds]
        if allowed is None:
            allowed = [_implied_type(parts)] + [t for t in _ANY_TYPES if t != _implied_type(parts)]
        if not allowed:  # made only when asked for (a oneOf branch may be tried and left)
            return ["never"]
        if "number" in allowed and "integer" in allowed and allowed.index("integer") > allowed.index("number"):
            allowed.remove("integer")  # number was named first: a number is made (and may be a whole one)
        rest = [t for t in allowed if t != "null"]
        if "null" in allowed and (not rest or deep and set(rest) <= {"object", "array"}):
            return ["null", *rest]
        return rest + (["null"] if "null" in allowed else [])

    # -- objects --------------------------------------------------------------------------------

    def _object(self, parts: list[_Part], call: _Call, depth: int, forced: dict[str, Any] | None,
                self_ref: str | None) -> dict:
        plan = self._plan(parts, call.direction)
        deep = self._deep(depth, call)
        lowest, highest = plan.lowest, plan.highest
        if highest is not None and len(plan.must) > highest:
            raise GenerateError(plan.at, f"{len(plan.must)} required properties but maxProperties {highest}")
        room = (highest if highest is not None else len(plan.must) + len(plan.optional)) - len(plan.must)
        if deep:  # recursion: only what is required (and what minProperties asks for)
            room = max(0, min(room, lowest - len(plan.must)))
        chosen = set(plan.must) | set(plan.optional[:room])
        wanted = dict(forced or {})
        if self_ref is not None:
            for prop, disc in plan.discriminators:
                named = _discriminator_value(disc, self_ref)
                prop_parts = plan.values.get(prop)
                if prop_parts is None or self._fits(named, prop_parts, call):  # (not when its enum excludes the name)
                    wanted.setdefault(prop, named)
        result: dict[str, Any] = {}
        for key in plan.order:
            if key in chosen:
                self._property(result, key, plan, call, depth, wanted, required=key in plan.must)
        if len(result) < lowest or plan.maplike:
            self._fill(result, parts, plan, call, depth, deep)
        for key, value in wanted.items():
            if key in result or key in plan.declared:
                result[key] = value
        return result

    def _plan(self, parts: list[_Part], direction: str) -> _ObjectPlan:
        """What an object of these schemas holds, worked out once per schema list and direction."""
        key = (direction, *(id(p.schema) for p in parts))
        entry = self._plans.get(key)
        if entry is not None:
            return entry[1]
        declared: dict[str, Any] = {}  # name → its first schema (for its $ref: the discriminator)
        for part in parts:
            for name, sub in _dict(part.schema.get("properties")).items():
                declared.setdefault(name, sub)
        hidden_flag = "readOnly" if direction == "request" else "writeOnly"
        hidden = {name for name in declared if any(self._flagged(p.schema["properties"][name], hidden_flag)
                                                   for p in parts if name in _dict(p.schema.get("properties")))}
        required = dict.fromkeys(k for p in parts for k in _list(p.schema.get("required")) if isinstance(k, str))
        must = [k for k in required if k not in hidden]
        values = {name: self._key_parts(name, parts) for name in dict.fromkeys((*declared, *must))}
        for name in must:
            if values[name] is None:
                raise GenerateError(parts[0].at, f"required property {name!r} is not allowed (additionalProperties)")
        plan = _ObjectPlan(
            at=parts[0].at, order=list(values), declared=declared, must=must,
            optional=[k for k in declared if k not in hidden and k not in required and values[k] is not None],
            hidden=hidden, values=values, lowest=_lower(parts, "minProperties"),
            highest=_upper(parts, "maxProperties"),
            maplike=not declared and any(isinstance(p.schema.get("additionalProperties"), dict) for p in parts),
            discriminators=[(prop, p.schema["discriminator"]) for p in parts
                            if (prop := _discriminator_property(p.schema.get("discriminator"))) is not None
                            and not p.schema.get("oneOf") and not p.schema.get("anyOf")])
        self._plans[key] = (parts, plan)
        return plan

    def _property(self, result: dict, key: str, plan: _ObjectPlan, call: _Call, depth: int,
                  wanted: dict[str, Any], *, required: bool) -> None:
        key_parts = plan.values[key]
        assert key_parts is not None  # a name no schema allows is neither required nor optional
        if key in wanted:
            result[key] = wanted[key]
            return
        if call.hints:
            hinted = self._hinted(key, key_parts, call)
            if hinted is not _NOTHING:
                result[key] = hinted
                return
        try:
            result[key] = self._generate(key_parts, call, depth + 1, key, self_ref=_ref_of(plan.declared.get(key)))
        except GenerateError:
            if required:
                raise
            # an optional property nothing fits (or one that recurses without end) is left out

    def _fill(self, result: dict, parts: list[_Part], plan: _ObjectPlan, call: _Call, depth: int,
              deep: bool) -> None:
        """Extra entries: up to minProperties, and one or two in a map (additionalProperties: {schema}
        and no declared properties)."""
        lowest, highest, hidden = plan.lowest, plan.highest, plan.hidden
        target = max(lowest, len(result) + (call.rng.randint(1, 2) if plan.maplike and not deep else 0))
        if highest is not None:
            target = min(target, highest)
        words = _pools()["word"]
        tries = 0
        while len(result) < target and tries < 8 * target + 8:
            tries += 1
            key = self._extra_key(parts, call, words, tries)
            if key is None or key in result or key in hidden:
                continue
            key_parts = self._key_parts(key, parts)
            if key_parts is None:
                continue
            try:
                result[key] = self._generate(key_parts, call, depth + 1, key)
            except GenerateError:
                continue
        if len(result) < lowest:
            raise GenerateError(parts[0].at, f"cannot reach minProperties {lowest} with the properties allowed")

    def _extra_key(self, parts: list[_Part], call: _Call, words: tuple[str, ...], tries: int) -> str | None:
        """A name for an extra property: a declared optional one, a patternProperties one, a word."""
        declared = [k for p in parts for k in _dict(p.schema.get("properties"))]
        patterns = [pat for p in parts for pat in _dict(p.schema.get("patternProperties"))]
        if tries <= len(declared):
            return declared[tries - 1]
        if patterns and call.rng.random() < 0.5:
            try:
                return _regex_string(call.rng.choice(patterns), 1, 12, call.rng)
            except GenerateError:
                return None
        return call.rng.choice(words) + ("" if tries < 3 * len(words) else str(tries))

    def _key_parts(self, key: str, parts: list[_Part]) -> list[_Part] | None:
        """The schemas a property's value must satisfy, or None when some part forbids the name."""
        out: list[_Part] = []
        for part in parts:
            schema = part.schema
            props = _dict(schema.get("properties"))
            matched = False
            if key in props:
                if props[key] is False:  # 3.1: a property that must not be there
                    return None
                out += self._flatten(props[key], f"{part.at}/properties/{escape(key)}")
                matched = True
            for pat, sub in _dict(schema.get("patternProperties")).items():
                if _search(pat, key):
                    out += self._flatten(sub, f"{part.at}/patternProperties/{escape(pat)}")
                    matched = True
            extra = schema.get("additionalProperties")
            if not matched and extra is False:
                return None
            if not matched and isinstance(extra, dict):
                out += self._flatten(extra, f"{part.at}/additionalProperties")
            names = schema.get("propertyNames")
            if isinstance(names, dict) and not self.checker.conforms(key, names, "response"):
                return None
        return out

    def _flagged(self, schema: Any, flag: str) -> bool:
        """readOnly/writeOnly on the property's schema, or on what its $ref (chain) reaches: as
        the validators read it (not through allOf: there the property stays required)."""
        seen = 0
        while isinstance(schema, dict) and seen < 16:
            if schema.get(flag) is True:
                return True
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return False
            schema = self._target(ref, "")
            seen += 1
        return False

    def _hinted(self, key: str, parts: list[_Part], call: _Call) -> Any:
        """A hint (a path parameter's value) as the property's type, when that fits the property."""
        raw = call.hints.get(key)
        if raw is None:
            return _NOTHING
        kinds = [t for p in parts for t in _type_list(p.schema)] or list(_ANY_TYPES)
        for kind in dict.fromkeys(kinds):
            converted = _convert(raw, kind)
            if converted is not _NOTHING and self._fits(converted, parts, call):
                return converted
        return _NOTHING

    # -- arrays ---------------------------------------------------------------------------------

    def _array(self, parts: list[_Part], call: _Call, depth: int) -> list:
        at = parts[0].at
        lowest = _lower(parts, "minItems")
        highest = _upper(parts, "maxItems")
        prefixes = [self._prefix_items(p) for p in parts]
        longest_prefix = max((len(x) for x in prefixes), default=0)
        if any(p.schema.get("items") is False for p in parts):
            closed = min(len(x) for x, p in zip(prefixes, parts, strict=True) if p.schema.get("items") is False)
            highest = closed if highest is None else min(highest, closed)
        if highest is not None and lowest > highest:
            raise GenerateError(at, f"minItems {lowest} > maxItems {highest}")
        if self._deep(depth, call):
            count = lowest
        else:
            base = max(lowest, 1)
            count = call.rng.randint(base, base + 1)
        if highest is not None:
            count = min(count, highest)
        unique = any(p.schema.get("uniqueItems") is True for p in parts)
        contains = [p.schema["contains"] for p in parts if "contains" in p.schema]
        items: list = []
        keys: set[str] = set()
        for i in range(count):
            item_parts = self._item_parts(parts, prefixes, i, at)
            if i == 0 and contains:
                item_parts = item_parts + [q for c in contains for q in self._flatten(c, f"{at}/contains")]
            items_ref = next((_ref_of(p.schema.get("items")) for p in parts if isinstance(p.schema.get("items"), dict)),
                             None)
            value = self._item(item_parts, call, depth, unique, keys, items_ref)
            if value is _NOTHING:
                if i >= lowest and i >= longest_prefix:
                    break
                raise GenerateError(at, f"cannot make {lowest} different items (uniqueItems)")
            items.append(value)
        return items

    def _item(self, item_parts: list[_Part], call: _Call, depth: int, unique: bool, keys: set[str],
              self_ref: str | None) -> Any:
        """One item (different from those before when unique), _NOTHING when none could be made."""
        for attempt in range(12 if unique else 1):
            if attempt == 1:  # the example or first enum value is taken: vary from now on
                call = _Call(call.rng, call.direction, call.hints, use_examples=False, made=call.made)
            try:
                value = self._generate(item_parts, call, depth + 1, None, self_ref=self_ref)
            except GenerateError:
                if unique:
                    return _NOTHING
                raise
            key = _canonical(value)
            if not unique or key not in keys:
                keys.add(key)
                return value
        return _NOTHING

    def _prefix_items(self, part: _Part) -> list:
        schema = part.schema
        if isinstance(schema.get("prefixItems"), list):
            return schema["prefixItems"]
        return schema["items"] if isinstance(schema.get("items"), list) else []  # draft 4 tuples

    def _item_parts(self, parts: list[_Part], prefixes: list[list], i: int, at: str) -> list[_Part]:
        out: list[_Part] = []
        for part, prefix in zip(parts, prefixes, strict=True):
            if i < len(prefix):
                out += self._flatten(prefix[i], f"{part.at}/prefixItems/{i}")
            elif isinstance(part.schema.get("items"), (dict, bool)) and part.schema.get("items") is not True:
                out += self._flatten(part.schema["items"], f"{part.at}/items")
        return out

    # -- numbers --------------------------------------------------------------------------------

    def _integer(self, parts: list[_Part], facts: _Facts, call: _Call) -> int:
        if facts.bounds_error:
            raise GenerateError(parts[0].at, facts.bounds_error)
        low, high = facts.low, facts.high
        lo = None if low is None else (math.floor(low[0]) + 1 if low[1] and low[0] == math.floor(low[0])
                                        else math.ceil(low[0]))
        hi = None if high is None else (math.ceil(high[0]) - 1 if high[1] and high[0] == math.ceil(high[0])
                                         else math.floor(high[0]))
        for fmt, (a, b) in (("int32", _INT32), ("int64", _INT64)):
            if any(p.schema.get("format") == fmt for p in parts):
                lo, hi = max(lo, a) if lo is not None else a, min(hi, b) if hi is not None else b
        step = facts.step
        if step is None and (lo is None or lo <= 1000) and (hi is None or hi >= 1):  # the common case, fast
            return call.rng.randint(max(lo, 1) if lo is not None else 1, min(hi, 1000) if hi is not None else 1000)
        step_int = step.numerator if step is not None else 1  # a whole multiple of p/q is a multiple of p
        value = _pick_multiple(Fraction(step_int), lo, hi, call.rng, parts[0].at, whole=True)
        return int(value)

    def _number(self, parts: list[_Part], facts: _Facts, call: _Call) -> float | int:
        if facts.bounds_error:
            raise GenerateError(parts[0].at, facts.bounds_error)
        low, high, step = facts.low, facts.high, facts.step
        at = parts[0].at
        if step is not None:
            lo = None if low is None else Fraction(low[0]) + (step if low[1] and Fraction(low[0]) % step == 0 else 0)
            hi = None if high is None else Fraction(high[0]) - (step if high[1] and Fraction(high[0]) % step == 0
                                                                else 0)
            for _ in range(8):  # a float multiple must also divide as a float (what validators check)
                picked = _pick_multiple(step, lo, hi, call.rng, at, whole=False)
                number = float(picked)
                if _multiple_ok(number, parts):
                    return number
            raise GenerateError(at, f"no float found that is a multiple of {float(step)} within the bounds")
        lo_f = -1e6 if low is None else float(low[0])
        hi_f = lo_f + 1000 if high is None else float(high[0])
        if low is None and high is not None:
            lo_f = hi_f - 1000 if hi_f < 1 else max(0.0, hi_f - 1000)
        elif low is None:
            lo_f, hi_f = 0.0, 1000.0
        if lo_f > hi_f or (lo_f == hi_f and (low and low[1] or high and high[1])):
            raise GenerateError(at, f"no number lies between {lo_f} and {hi_f}")
        for _ in range(8):
            number = round(call.rng.uniform(lo_f, hi_f), 2)
            if _within(number, low, high):
                return number
        middle = (lo_f + hi_f) / 2
        if _within(middle, low, high):
            return middle
        raise GenerateError(at, f"no number lies between {lo_f} and {hi_f}")

    # -- strings --------------------------------------------------------------------------------

    def _string(self, parts: list[_Part], facts: _Facts, call: _Call, name: str | None) -> str:
        at = parts[0].at
        lowest, highest, patterns, formats = facts.min_length, facts.max_length, facts.patterns, facts.formats
        if highest is not None and lowest > highest:
            raise GenerateError(at, f"minLength {lowest} > maxLength {highest}")
        fmt = formats[0] if formats else None
        rng = call.rng
        for attempt in range(6):
            if fmt in _FORMATS and (attempt < 3 or not patterns):
                text = _FORMATS[fmt](rng, lowest, highest)
                checks = formats[1:]  # a format's own maker is trusted (the value is checked at the end)
            elif patterns:
                text = _regex_string(patterns[attempt % len(patterns)], lowest, highest, rng)
                checks = formats
            else:
                text = _fit(_realistic(name, rng), lowest, highest, rng)
                checks = formats
            if lowest <= len(text) <= (highest if highest is not None else len(text)) \
                    and all(_search(p, text) for p in patterns) and all(_format_ok(f, text) for f in checks):
                return text
        raise GenerateError(at, "no string found that fits its length, pattern and format together")


_NOTHING: Any = object()  # "no value" (None is a value)
_ANYTHING = [_Part({}, "")]  # the parts of a schema that admits any value


# -- reading schemas ---------------------------------------------------------------------------

def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _lower(parts: list[_Part], keyword: str) -> int:
    """The tightest of a minimum count (minItems...) across parts; 0 when none sets it."""
    return max((_int(p.schema.get(keyword)) or 0 for p in parts), default=0)


def _upper(parts: list[_Part], keyword: str) -> int | None:
    """The tightest of a maximum count (maxItems...) across parts; None when none sets it."""
    found = [n for n in (_int(p.schema.get(keyword)) for p in parts) if n is not None]
    return min(found) if found else None


def _number_or_none(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _type_list(schema: dict) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return [k for k in kind if isinstance(k, str)] if isinstance(kind, list) else []


def _expand(listed: list[str]) -> list[str]:
    """A type list with integer after number (an integer is a number)."""
    out = list(dict.fromkeys(listed))
    if "number" in out and "integer" not in out:
        out.insert(out.index("number") + 1, "integer")
    return out


def _implied_type(parts: list[_Part]) -> str:
    """The type a schema without `type` describes, by its keywords."""
    keys = {k for p in parts for k in p.schema}
    if keys & {"properties", "required", "additionalProperties", "patternProperties", "minProperties",
               "maxProperties", "propertyNames"}:
        return "object"
    if keys & {"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"}:
        return "array"
    if keys & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}:
        formats = {p.schema.get("format") for p in parts}
        return "integer" if formats & {"int32", "int64"} else "number"
    return "string"


def _ref_of(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return ref if isinstance(ref, str) else None


def _examples(schema: dict) -> list:
    out = []
    if "example" in schema:
        out.append(schema["example"])
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        out.append(schema["examples"][0])
    if "default" in schema:
        out.append(schema["default"])
    return out


def _discriminator_property(discriminator: Any) -> str | None:
    """The property a discriminator names: {propertyName: ...} (3.x), or the name itself (2.0)."""
    if isinstance(discriminator, str):
        return discriminator
    prop = discriminator.get("propertyName") if isinstance(discriminator, dict) else None
    return prop if isinstance(prop, str) else None


def _discriminator_value(discriminator: Any, ref: str) -> str:
    """The value that selects the schema at ref: its mapping key, else its name."""
    name = unescape(ref.rsplit("/", 1)[-1])
    for key, target in _dict(_dict(discriminator).get("mapping")).items():
        if target in (ref, name):
            return str(key)
    return name


def _convert(raw: str, kind: str) -> Any:
    if kind == "string":
        return raw
    if kind == "integer":
        return int(raw) if re.fullmatch(r"-?\d{1,30}", raw) else _NOTHING
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return _NOTHING
        return int(number) if number.is_integer() and "." not in raw and math.isfinite(number) else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), _NOTHING)
    return _NOTHING


def _canonical(value: Any) -> str:
    """JSON text that tells 1 from True and 1 from "1" (uniqueItems)."""
    return json.dumps(value, sort_keys=True, default=str) + type(value).__name__


def _short(values: list) -> str:
    text = json.dumps(values, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# -- numbers -----------------------------------------------------------------------------------

def _bounds(parts: list[_Part]) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """The tightest lower and upper bounds as (value, exclusive), from either dialect's keywords
    (3.0: exclusiveMinimum is a flag on minimum; 3.1: it is the bound itself)."""
    low: tuple[float, bool] | None = None
    high: tuple[float, bool] | None = None
    for part in parts:
        s = part.schema
        for bound in _part_bounds(s, "minimum", "exclusiveMinimum"):
            if low is None or bound[0] > low[0] or (bound[0] == low[0] and bound[1]):
                low = bound
        for bound in _part_bounds(s, "maximum", "exclusiveMaximum"):
            if high is None or bound[0] < high[0] or (bound[0] == high[0] and bound[1]):
                high = bound
    if low is not None and high is not None and \
            (low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1]))):
        raise GenerateError(parts[0].at, f"minimum {low[0]} and maximum {high[0]} leave no number")
    return low, high


def _part_bounds(schema: dict, inclusive: str, exclusive: str) -> list[tuple[float, bool]]:
    out: list[tuple[float, bool]] = []
    plain = _number_or_none(schema.get(inclusive))
    flag = schema.get(exclusive)
    if plain is not None:
        out.append((plain, flag is True))
    numeric = _number_or_none(flag)
    if numeric is not None:
        out.append((numeric, True))
    return out


def _within(number: float, low: tuple[float, bool] | None, high: tuple[float, bool] | None) -> bool:
    if low is not None and (number < low[0] or (low[1] and number == low[0])):
        return False
    return not (high is not None and (number > high[0] or (high[1] and number == high[0])))


def _multiple(parts: list[_Part]) -> Fraction | None:
    """The least common multiple of every multipleOf, exactly (0.1 is 1/10, not a float)."""
    step: Fraction | None = None
    for part in parts:
        m = _number_or_none(part.schema.get("multipleOf"))
        if m is None or m <= 0:
            continue
        f = Fraction(str(m))
        step = f if step is None else Fraction(math.lcm(step.numerator, f.numerator),
                                               math.gcd(step.denominator, f.denominator))
    return step


def _multiple_ok(number: float, parts: list[_Part]) -> bool:
    return all(_is_multiple(number, p.schema["multipleOf"]) for p in parts
               if _number_or_none(p.schema.get("multipleOf")))


def _is_multiple(number: float | int, step: float | int) -> bool:
    """As JSON Schema validators test it (a float quotient must be whole)."""
    if isinstance(step, float):
        try:
            quotient = number / step
            return int(quotient) == quotient
        except (OverflowError, ValueError):
            return False
    return not (number % step)


def _pick_multiple(step: Fraction, lo: Fraction | float | None, hi: Fraction | float | None,
                   rng: random.Random, at: str, *, whole: bool) -> Fraction:
    """k * step within [lo, hi]: between 1 and 1000 when the bounds allow, else near the bound
    closest to that range."""
    kmin = None if lo is None else math.ceil(Fraction(lo) / step)
    kmax = None if hi is None else math.floor(Fraction(hi) / step)
    if kmin is not None and kmax is not None and kmin > kmax:
        raise GenerateError(at, f"no {'integer' if whole else 'number'} multiple of {float(step):g} "
                                f"lies between {lo} and {hi}")
    span = max(1, math.floor(1000 / step))
    low, high = math.ceil(1 / step), math.ceil(1 / step) + span  # k of the values 1...1000
    if kmin is not None and kmin > high:
        low, high = kmin, kmin + span
    elif kmax is not None and kmax < low:
        low, high = kmax - span, kmax
    low = max(low, kmin) if kmin is not None else low
    high = min(high, kmax) if kmax is not None else high
    return rng.randint(low, high) * step


# -- strings -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _pools() -> dict[str, tuple[str, ...]]:
    """Realistic words and names, drawn once per process from Faker (seeded, so the same pools in
    every process; a call to Faker per value would cost tens of microseconds)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(1_000_003)

    def many(make: Any, n: int = 64) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(make()) for _ in range(n)))

    return {"first": many(fake.first_name), "last": many(fake.last_name), "city": many(fake.city),
            "country": many(fake.country), "street": many(fake.street_address), "company": many(fake.company),
            "job": many(fake.job), "phone": many(fake.phone_number), "word": many(fake.word, 400),
            "state": many(fake.state), "color": many(fake.color_name)}


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _sentence(rng: random.Random, words: int) -> str:
    pool = _pools()["word"]
    return " ".join(rng.choice(pool) for _ in range(words)).capitalize() + "."


def _realistic(name: str | None, rng: random.Random) -> str:
    """A string a property of that name would hold (a first name for firstName...), else a word."""
    pools = _pools()
    key = re.sub(r"[^a-z]", "", (name or "").lower())
    if key in ("firstname", "givenname", "forename"):
        return rng.choice(pools["first"])
    if key in ("lastname", "surname", "familyname"):
        return rng.choice(pools["last"])
    if key in ("name", "fullname", "displayname", "author", "owner", "contact"):
        return f"{rng.choice(pools['first'])} {rng.choice(pools['last'])}"
    if key in ("username", "login", "nickname", "handle", "user"):
        return _ascii(rng.choice(pools["first"])) + str(rng.randint(1, 99))
    if key.endswith("email") or key == "mail":
        return _email(rng)
    for pool, names in (("city", ("city", "town")), ("country", ("country",)), ("state", ("state", "region")),
                        ("street", ("street", "address", "streetaddress", "address1", "line1")),
                        ("company", ("company", "organization", "organisation", "employer", "vendor")),
                        ("job", ("job", "jobtitle", "occupation", "role")), ("color", ("color", "colour")),
                        ("phone", ("phone", "phonenumber", "mobile", "telephone", "tel"))):
        if key in names:
            return rng.choice(pools[pool])
    if key in ("description", "summary", "comment", "bio", "text", "message", "body", "note", "notes"):
        return _sentence(rng, rng.randint(4, 9))
    if key in ("url", "website", "homepage", "link", "href"):
        return _uri(rng)
    if key in ("zip", "zipcode", "postcode", "postalcode"):
        return f"{rng.randint(10000, 99999)}"
    if key in ("title", "label", "headline"):
        return _sentence(rng, rng.randint(2, 4))[:-1]
    return rng.choice(pools["word"])


def _fit(text: str, lowest: int, highest: int | None, rng: random.Random) -> str:
    """text made long enough (more words) and short enough (cut)."""
    pool = _pools()["word"]
    while len(text) < lowest:
        text += " " + rng.choice(pool)
    if highest is not None and len(text) > highest:
        text = text[:highest]
        if len(text.rstrip()) >= lowest:
            text = text.rstrip()
    return text


def _email(rng: random.Random, *_: Any) -> str:
    pools = _pools()
    local = f"{_ascii(rng.choice(pools['first']))}.{_ascii(rng.choice(pools['last']))}"
    return f"{local}@{rng.choice(('example.com', 'example.org', 'example.net'))}"


def _uri(rng: random.Random, *_: Any) -> str:
    pool = _pools()["word"]
    return f"https://{rng.choice(('example.com', 'example.org', 'api.example.net'))}/{rng.choice(pool)}/" \
           f"{rng.randint(1, 9999)}"


def _moment(rng: random.Random) -> datetime:
    return datetime(2020, 1, 1) + timedelta(seconds=rng.randrange(10 * 365 * 86400))


def _date_time(rng: random.Random, lowest: int = 0, highest: int | None = None) -> str:
    """RFC 3339, in the first spelling whose length fits (20 to 29 characters: Z or +00:00, with
    or without milliseconds)."""
    moment = _moment(rng)
    plain = moment.strftime("%Y-%m-%dT%H:%M:%S")
    spellings = (f"{plain}Z", f"{plain}.{moment.microsecond // 1000:03d}Z", f"{plain}+00:00",
                 f"{plain}.{moment.microsecond // 1000:03d}+00:00")
    return next((t for t in spellings if lowest <= len(t) <= (highest if highest is not None else len(t))),
                spellings[0])


def _date(rng: random.Random, *_: Any) -> str:
    return _moment(rng).date().isoformat()


def _time(rng: random.Random, *_: Any) -> str:
    return _moment(rng).strftime("%H:%M:%SZ")  # RFC 3339 full-time: with its offset


def _uuid(rng: random.Random, *_: Any) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hostname(rng: random.Random, *_: Any) -> str:
    return f"{rng.choice(_pools()['word'])}.example.com"


def _ipv4(rng: random.Random, *_: Any) -> str:
    return str(ipaddress.IPv4Address(rng.randint(0x0B000000, 0xDF000000)))


def _ipv6(rng: random.Random, *_: Any) -> str:
    return str(ipaddress.IPv6Address((0x2001_0db8 << 96) | rng.getrandbits(96)))  # the documentation range


def _byte(rng: random.Random, lowest: int, highest: int | None) -> str:
    """base64 of random bytes, its length (a multiple of 4) within the limits when one is."""
    top = highest if highest is not None else max(lowest, 24) + 8
    lengths = [n for n in range(max(4, lowest + (-lowest) % 4), top + 1, 4)] or ([0] if lowest == 0 else [])
    if not lengths:
        return ""  # no base64 length fits: the caller reports it
    size = rng.choice(lengths[:4]) // 4 * 3
    return base64.b64encode(rng.randbytes(size)).decode("ascii")


def _password(rng: random.Random, lowest: int, highest: int | None) -> str:
    size = max(lowest, min(12, highest if highest is not None else 12))
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))


def _binary(rng: random.Random, lowest: int, highest: int | None) -> str:
    return _fit("".join(rng.choice(string.ascii_letters) for _ in range(16)), lowest, highest, rng)


def _duration(rng: random.Random, *_: Any) -> str:
    """An ISO 8601 / RFC 3339 duration: P1D, PT15M, P2DT3H30M."""
    return rng.choice(("P1D", "PT15M", "PT1H", "P2DT3H30M", "PT30S", "P7D", "P1M", "P1Y2M"))


def _json_pointer(rng: random.Random, *_: Any) -> str:
    return f"/{rng.choice(_pools()['word'])}/{rng.randint(0, 9)}"


def _relative_json_pointer(rng: random.Random, *_: Any) -> str:
    return f"{rng.randint(0, 3)}/{rng.choice(_pools()['word'])}"


def _uri_template(rng: random.Random, *_: Any) -> str:
    return f"https://example.com/{rng.choice(_pools()['word'])}/{{id}}"


def _regex(rng: random.Random, *_: Any) -> str:
    return rng.choice(("^[a-z]+$", "[0-9]{3}", "^\\w+@example\\.com$"))


_FORMATS: dict[str, Any] = {
    "date-time": _date_time, "date": _date, "time": _time, "uuid": _uuid, "email": _email, "idn-email": _email,
    "uri": _uri, "url": _uri, "iri": _uri, "uri-reference": _uri, "iri-reference": _uri, "hostname": _hostname,
    "idn-hostname": _hostname, "ipv4": _ipv4, "ipv6": _ipv6, "byte": _byte, "binary": _binary,
    "password": _password, "duration": _duration, "json-pointer": _json_pointer,
    "relative-json-pointer": _relative_json_pointer, "uri-template": _uri_template, "regex": _regex,
}


# -- format checks: the validator's own (jsonschema-rs, with stuntman's formats), so a value the
# generator accepts is one the validators accept (unknown formats pass, as in JSON Schema) --------

@lru_cache(maxsize=64)
def _format_checker(fmt: str) -> Any:
    import jsonschema_rs

    from .jsonschema import FORMATS

    return jsonschema_rs.validator_for({"format": fmt}, validate_formats=True, formats=FORMATS).is_valid


def _format_ok(fmt: str, text: str) -> bool:
    return bool(_format_checker(fmt)(text))


# -- strings from a regular expression ---------------------------------------------------------

_sre: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (no third-party one)
_LIMIT = 200            # the longest a repetition is made to reach
_UNIVERSE = string.ascii_letters + string.digits + "-_.~ !#$%&'()*+,/:;<=>?@[]^`{|}\\\""
_CATEGORIES = {
    "CATEGORY_DIGIT": str.isdigit, "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_", "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
    "CATEGORY_SPACE": str.isspace, "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
}


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    for source in (pattern, _from_ecma(pattern)):
        try:
            with warnings.catch_warnings():  # (FutureWarning: "possible nested set", for `[[` in a class)
                warnings.simplefilter("ignore")
                return re.compile(source)
        except (re.error, OverflowError, RecursionError):
            continue
    return None


def _search(pattern: str, text: str) -> bool:
    """The pattern finds text, as the validators decide it: with jsonschema-rs (linear time, so a
    spec's pattern that backtracks catastrophically in Python's re cannot hang generation), else
    (a pattern its engine refuses) with Python's re."""
    found = _rust_pattern(pattern)
    if found is not None:
        return bool(found(text))
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(text) is not None


@lru_cache(maxsize=1024)
def _rust_pattern(pattern: str) -> Any:
    import jsonschema_rs

    try:
        return jsonschema_rs.validator_for({"pattern": pattern}).is_valid
    except ValueError:
        return None


def _from_ecma(pattern: str) -> str:
    """ECMA-262 syntax Python spells differently or lacks: (?<name>...), \\k<name>, and Unicode
    property classes (\\p{L}), as the ASCII (or combining) characters of that property: a subset,
    so what matches here matches the real class too (the validators check with it)."""
    pattern = re.sub(r"\\k<(\w+)>", r"(?P=\1)", re.sub(r"\(\?<(?![=!])", "(?P<", pattern))
    return _ascii_properties(pattern) if "\\p" in pattern or "\\P" in pattern else pattern


_PROPERTIES = {  # a Unicode general category → some of its characters, as a class body
    "L": "a-zA-Z", "Letter": "a-zA-Z", "Lu": "A-Z", "Ll": "a-z", "N": "0-9", "Nd": "0-9", "Number": "0-9",
    "Z": " ", "Zs": " ", "M": "\\u0300-\\u036f", "Mn": "\\u0300-\\u036f", "S": "$+<=>^`|~", "Sm": "+<=>|~",
    "P": "!\"#%&'()*,\\-./:;?@\\[\\\\\\]_{}", "C": "\\x00-\\x1f\\x7f", "Cc": "\\x00-\\x1f\\x7f",
}
_PROPERTY = re.compile(r"\\([pP])\{([A-Za-z_]+)\}")


def _ascii_properties(pattern: str) -> str:
    """\\p{X} as [chars] (in a class: chars), \\P{X} as [^chars] (not in a class: left as is, so
    the pattern stays unread)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            found = _PROPERTY.match(pattern, i)
            if found and found[2] in _PROPERTIES and not (in_class and found[1] == "P"):
                body = _PROPERTIES[found[2]]
                out.append(body if in_class else (f"[{body}]" if found[1] == "p" else f"[^{body}]"))
                i = found.end()
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=256)
def _parsed(pattern: str) -> Any:
    for source in (pattern, _from_ecma(pattern)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _sre.parse(source)
        except (re.error, OverflowError, RecursionError):
            continue
    return None


def _regex_string(pattern: str, lowest: int, highest: int | None, rng: random.Random) -> str:
    """A string the pattern finds (re.search) whose length is within the limits."""
    tree = _parsed(pattern)
    if tree is None:
        raise GenerateError("", f"pattern {pattern!r} is not a regular expression this generator reads")
    maker = _RegexMaker(rng)
    least, most = maker.span(tree)
    top = most if highest is None else min(most, highest)
    first = max(least, lowest)
    text = ""
    for _ in range(12):
        target = rng.randint(first, min(top, first + 10)) if first <= top else least if most < lowest else first
        text = maker.make(tree, target)
        if len(text) < lowest:  # the pattern's matches are too short: pad where it is not anchored
            text = _pad(pattern, text, lowest)
        if lowest <= len(text) <= (highest if highest is not None else len(text)) and _search(pattern, text):
            return text
    return text  # the caller checks it (and reports what does not fit)


def _pad(pattern: str, text: str, lowest: int) -> str:
    filler = "x" * (lowest - len(text))
    for candidate in (text + filler, filler + text, text + " " * len(filler)):
        if _search(pattern, candidate):
            return candidate
    return text


class _RegexMaker:
    """Walks the stdlib's parse of a pattern, choosing repetitions and branches so the result is
    `target` characters long when the pattern allows it."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.groups: dict[int, str] = {}
        self.spans: dict[int, tuple[int, int]] = {}

    def span(self, seq: Any) -> tuple[int, int]:
        key = id(seq)
        if key not in self.spans:
            least = most = 0
            for op, av in seq:
                a, b = self._item_span(str(op), av)
                least, most = least + a, min(most + b, _LIMIT * 4)
            self.spans[key] = (least, most)
        return self.spans[key]

    def _item_span(self, op: str, av: Any) -> tuple[int, int]:
        if op in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "CATEGORY"):
            return 1, 1
        if op == "SUBPATTERN":
            return self.span(av[3])
        if op == "ATOMIC_GROUP":
            return self.span(av)
        if op == "BRANCH":
            spans = [self.span(b) for b in av[1]]
            return min(s[0] for s in spans), max(s[1] for s in spans)
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            a, b = self.span(sub)
            return min(low * a, _LIMIT * 4), min(min(high, _LIMIT) * b, _LIMIT * 4)
        if op in ("GROUPREF", "GROUPREF_EXISTS"):
            return 0, _LIMIT
        return 0, 0  # anchors, lookarounds

    def make(self, tree: Any, target: int) -> str:
        self.groups = {}
        out: list[str] = []
        self._seq(list(tree), target, out)
        return "".join(out)

    def _seq(self, items: list, target: int, out: list[str]) -> None:
        spans = [self._item_span(str(op), av) for op, av in items]
        sizes = self._split(spans, target)
        for (op, av), size in zip(items, sizes, strict=True):
            self._item(str(op), av, size, out)

    def _split(self, spans: list[tuple[int, int]], target: int) -> list[int]:
        """Lengths for consecutive items adding up to target (as near as their spans allow)."""
        sizes = [a for a, _ in spans]
        extra = target - sum(sizes)
        order = list(range(len(spans)))
        self.rng.shuffle(order)
        for greedy in (False, True):
            for i in order:
                room = min(spans[i][1] - sizes[i], extra)
                if room <= 0:
                    continue
                give = room if greedy else self.rng.randint(0, room)
                sizes[i] += give
                extra -= give
        return sizes

    def _item(self, op: str, av: Any, size: int, out: list[str]) -> None:
        rng = self.rng
        if op == "LITERAL":
            out.append(chr(av))
        elif op == "NOT_LITERAL":
            out.append(rng.choice([c for c in string.ascii_letters if ord(c) != av]))
        elif op == "ANY":
            out.append(rng.choice(string.ascii_letters + string.digits))
        elif op == "IN":
            out.append(rng.choice(_class_chars(_freeze(av))))
        elif op == "CATEGORY":
            out.append(rng.choice(_class_chars(_freeze([(op, av)]))))
        elif op == "SUBPATTERN":
            inner: list[str] = []
            self._seq(list(av[3]), size, inner)
            if av[0] is not None:
                self.groups[av[0]] = "".join(inner)
            out.extend(inner)
        elif op == "ATOMIC_GROUP":
            self._seq(list(av), size, out)
        elif op == "BRANCH":
            fitting = [b for b in av[1] if self.span(b)[0] <= size <= self.span(b)[1]]
            branch = rng.choice(fitting) if fitting else min(av[1], key=lambda b: abs(self.span(b)[0] - size))
            self._seq(list(branch), size, out)
        elif op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            self._repeat(av, size, out)
        elif op == "GROUPREF":
            out.append(self.groups.get(av, ""))
        # AT (anchors), ASSERT, ASSERT_NOT: nothing to write (the result is checked afterwards)

    def _repeat(self, av: Any, size: int, out: list[str]) -> None:
        low, high, sub = av
        a, b = self.span(sub)
        top = min(high, _LIMIT)
        counts = [k for k in range(low, top + 1) if k * a <= size <= k * b]
        count = self.rng.choice(counts) if counts else min(range(low, max(low, top) + 1),
                                                           key=lambda k: abs(k * a - size))
        for piece in self._split([(a, b)] * count, size):
            self._seq(list(sub), piece, out)


def _freeze(items: Any) -> tuple:
    return tuple((str(op), tuple(av) if isinstance(av, list) else av) for op, av in items)


@lru_cache(maxsize=1024)
def _class_chars(items: tuple) -> str:
    """The characters a class ([a-z0-9_], \\d, [^/]) admits, from printable ASCII (plus the
    start of any range outside it; never a surrogate, which no UTF-8 body can carry)."""
    negate = any(op == "NEGATE" for op, _ in items)
    extra = "".join(chr(c) for op, av in items if op == "RANGE" and av[0] > 126
                    for c in range(av[0], min(av[1], av[0] + 32) + 1) if not 0xD800 <= c <= 0xDFFF)
    extra += "".join(chr(av) for op, av in items if op == "LITERAL" and av > 126 and not 0xD800 <= av <= 0xDFFF)

    def admits(c: str) -> bool:
        for op, av in items:
            if op == "LITERAL" and ord(c) == av or op == "RANGE" and av[0] <= ord(c) <= av[1] \
                    or op == "CATEGORY" and _CATEGORIES.get(str(av), lambda _: False)(c):
                return True
        return False

    chars = "".join(c for c in (_UNIVERSE + (extra if not negate else "")) if admits(c) != negate)
    return chars or "x"


# -- checking a value against a schema ---------------------------------------------------------

class _Checker:
    """A validator of the keywords the generator reads, in OpenAPI's reading: `nullable` (3.0),
    readOnly/writeOnly per direction, a discriminator choosing the oneOf/anyOf branch. What the
    generator makes is checked with it before it is returned."""

    def __init__(self, doc: dict, dialect: str):
        self.doc = doc
        self.oas31 = dialect == "oas31"
        self._enums: dict[int, tuple[list, frozenset[str]]] = {}  # id(enum list) → (it, its canonical values)

    def conforms(self, value: Any, schema: Any, direction: str) -> bool:
        try:
            return self._ok(value, schema, direction, 0)
        except (KeyError, RecursionError, TypeError, ValueError):
            return False

    def one_of(self, value: Any, schema: dict, direction: str) -> bool:
        """The value matches exactly one branch of schema's oneOf (3.0, with a discriminator: the
        branch the discriminator names; 3.1: that one, and only that one)."""
        try:
            return self._one_of(value, schema, direction, 0)
        except (KeyError, RecursionError, TypeError, ValueError):
            return False

    def _ok(self, v: Any, s: Any, d: str, depth: int) -> bool:
        if s is True or s is None:
            return True
        if s is False or depth > 256:
            return False
        if not isinstance(s, dict):
            return True
        ref = s.get("$ref")
        if isinstance(ref, str):
            if not self._ok(v, walk_pointer(self.doc, ref[1:]), d, depth + 1):
                return False
            if not self.oas31:
                return True
        if v is None and not self.oas31 and s.get("nullable") is True and "type" in s:
            return self._compose_ok(v, s, d, depth) and ("enum" not in s or None in s["enum"])
        return self._type_ok(v, s) and self._enum_ok(v, s) and self._number_ok(v, s) and self._string_ok(v, s) \
            and self._array_ok(v, s, d, depth) and self._object_ok(v, s, d, depth) and self._compose_ok(v, s, d, depth)

    def _type_ok(self, v: Any, s: dict) -> bool:
        kinds = _type_list(s)
        return not kinds and "type" not in s or any(self._is(v, k) for k in kinds)

    def _is(self, v: Any, kind: str) -> bool:
        if kind == "integer":
            return isinstance(v, int) and not isinstance(v, bool) or \
                isinstance(v, float) and v.is_integer()  # (as the validators read it, in 3.0 too)
        if kind == "number":
            return isinstance(v, (int, float)) and not isinstance(v, bool)
        return isinstance(v, {"string": str, "boolean": bool, "array": list, "object": dict,
                              "null": type(None)}.get(kind, ()))

    def _enum_ok(self, v: Any, s: dict) -> bool:
        if "const" not in s and "enum" not in s:
            return True
        key = _canonical(v)
        if "const" in s and _canonical(s["const"]) != key:
            return False
        enum = s.get("enum")
        if not isinstance(enum, list):
            return True
        found = self._enums.get(id(enum))
        if found is None or found[0] is not enum:  # each enum's values read once (Stripe's run to hundreds)
            if len(self._enums) >= _CACHE_LIMIT:  # (enums of schemas made per call by a caller)
                self._enums.clear()
            found = self._enums[id(enum)] = (enum, frozenset(_canonical(e) for e in enum))
        return key in found[1]

    def _number_ok(self, v: Any, s: dict) -> bool:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return True
        for bound in _part_bounds(s, "minimum", "exclusiveMinimum"):
            if v < bound[0] or (bound[1] and v == bound[0]):
                return False
        for bound in _part_bounds(s, "maximum", "exclusiveMaximum"):
            if v > bound[0] or (bound[1] and v == bound[0]):
                return False
        step = _number_or_none(s.get("multipleOf"))
        if step and not _is_multiple(v, step):
            return False
        fmt = s.get("format")
        if isinstance(v, int) and fmt in ("int32", "int64"):
            low, high = _INT32 if fmt == "int32" else _INT64
            return low <= v <= high
        return True

    def _string_ok(self, v: Any, s: dict) -> bool:
        if not isinstance(v, str):
            return True
        low, high = _int(s.get("minLength")), _int(s.get("maxLength"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        if isinstance(s.get("pattern"), str) and not _search(s["pattern"], v):
            return False
        return not isinstance(s.get("format"), str) or _format_ok(s["format"], v)

    def _array_ok(self, v: Any, s: dict, d: str, depth: int) -> bool:
        if not isinstance(v, list):
            return True
        low, high = _int(s.get("minItems")), _int(s.get("maxItems"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        if s.get("uniqueItems") is True and len({_canonical(x) for x in v}) != len(v):
            return False
        items = s.get("items")
        prefix: list = _list(s.get("prefixItems")) or _list(items)
        rest = s.get("additionalItems") if isinstance(items, list) else items
        for i, item in enumerate(v):
            sub = prefix[i] if i < len(prefix) else rest
            if sub is not None and not self._ok(item, sub, d, depth + 1):
                return False
        if "contains" in s:
            found = sum(1 for x in v if self._ok(x, s["contains"], d, depth + 1))
            least = _int(s.get("minContains"))
            most = _int(s.get("maxContains"))
            if found < (least if least is not None else 1) or most is not None and found > most:
                return False
        return True

    def _object_ok(self, v: Any, s: dict, d: str, depth: int) -> bool:
        if not isinstance(v, dict):
            return True
        low, high = _int(s.get("minProperties")), _int(s.get("maxProperties"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        props = _dict(s.get("properties"))
        hidden_flag = "readOnly" if d == "request" else "writeOnly"
        for key in _list(s.get("required")):
            if key not in v and not (key in props and self._flag(props[key], hidden_flag)):
                return False
        patterns = _dict(s.get("patternProperties"))
        extra = s.get("additionalProperties", True)
        names = s.get("propertyNames")
        for key, item in v.items():
            if names is not None and not self._ok(key, names, d, depth + 1):
                return False
            matched = False
            if key in props:
                matched = True
                if self._flag(props[key], hidden_flag) or not self._ok(item, props[key], d, depth + 1):
                    return False
            for pat, sub in patterns.items():
                if _search(pat, key):
                    matched = True
                    if not self._ok(item, sub, d, depth + 1):
                        return False
            if not matched and extra is not True and not self._ok(item, extra, d, depth + 1):
                return False
        for key, needed in _dict(s.get("dependentRequired")).items():
            if key in v and any(n not in v for n in _list(needed)):
                return False
        return True

    def _flag(self, prop: Any, flag: str) -> bool:
        for _ in range(16):
            if not isinstance(prop, dict):
                return False
            if prop.get(flag) is True:
                return True
            if not isinstance(prop.get("$ref"), str):
                return False
            prop = walk_pointer(self.doc, prop["$ref"][1:])
        return False

    def _compose_ok(self, v: Any, s: dict, d: str, depth: int) -> bool:
        if not all(self._ok(v, b, d, depth + 1) for b in _list(s.get("allOf"))):
            return False
        if "anyOf" in s and not self._any_of(v, s, d, depth):
            return False
        if "oneOf" in s and not self._one_of(v, s, d, depth):
            return False
        return not ("not" in s and self._ok(v, s["not"], d, depth + 1))

    def _any_of(self, v: Any, s: dict, d: str, depth: int) -> bool:
        chosen = self._discriminated(v, s, "anyOf")
        if chosen is not _NOTHING:
            if chosen is None or not self._ok(v, chosen, d, depth + 1):
                return False
            if not self.oas31:
                return True
        return any(self._ok(v, b, d, depth + 1) for b in _list(s["anyOf"]))

    def _one_of(self, v: Any, s: dict, d: str, depth: int) -> bool:
        """3.0: with a discriminator, the branch it names validates the value (other branches may
        too); 3.1, where the discriminator is an annotation, also exactly one branch matches."""
        chosen = self._discriminated(v, s, "oneOf")
        if chosen is not _NOTHING:
            if chosen is None or not self._ok(v, chosen, d, depth + 1):
                return False
            if not self.oas31:
                return True
        return sum(1 for b in _list(s["oneOf"]) if self._ok(v, b, d, depth + 1)) == 1

    def _discriminated(self, v: Any, s: dict, keyword: str) -> Any:
        """The branch a discriminator names ({"$ref": ...}), None when it names none, _NOTHING
        when there is no discriminator (plain oneOf/anyOf rules apply)."""
        disc = s.get("discriminator")
        if not isinstance(disc, dict) or not isinstance(disc.get("propertyName"), str):
            return _NOTHING
        if not isinstance(v, dict) or not isinstance(v.get(disc["propertyName"]), str):
            return None
        name = v[disc["propertyName"]]
        target = _dict(disc.get("mapping")).get(name)
        if isinstance(target, str):
            return {"$ref": target if target.startswith("#") else f"#/components/schemas/{target}"}
        for branch in _list(s.get(keyword)):
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if isinstance(ref, str) and ref.rsplit("/", 1)[-1] == name:
                return branch
        implicit = _dict(_dict(self.doc.get("components")).get("schemas")).get(name)
        return {"$ref": f"#/components/schemas/{escape(name)}"} if implicit is not None else None
