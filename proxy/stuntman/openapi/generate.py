"""Data generated from an OpenAPI schema: the bodies a spec-served stand-in answers with.

`Generator(spec).value(schema, seed)` returns a JSON-compatible value that validates against the
schema, the same one for the same seed (in any process: seeds go through `random.Random(str)`,
which hashes with SHA-512, never `hash()`), and another one for another seed.

How a value is made: a schema is first *flattened* into the list of schema objects the value must
satisfy together (flatten.py: its `$ref` followed, its `allOf` branches added; a `oneOf`/`anyOf`
branch chosen here is added to the list), and each keyword is read across the whole list. This
module walks that list: an example or an enum value when the schema has one, else a value of the
first type every part allows: objects (required properties, optional ones up to max_depth and a
size budget, a discriminator's property set to the name of the branch it selects), arrays
(prefixItems, uniqueItems, contains), and composition (oneOf/anyOf branches tried in a seeded
order, the next when one fails; `not` by trying again). Numbers come from numbers.py, strings from
formats.py (realistic ones, by format) and patterns.py (from a `pattern`). A value made that way
is checked by conform.py's `Checker`, a small validator of the same keywords; what does not fit is
made again from another seed, and a schema nothing fits raises `GenerateError` naming where.
"""
from __future__ import annotations

import copy
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .conform import Checker
from .document import unescape
from .flatten import ANY_TYPES, Facts, Flattener, GenerateError, ObjectPlan, Part, discriminator_property, lower, upper
from .formats import FORMAT_MAKERS, fit, format_ok, pools, realistic
from .keywords import NOTHING, as_dict, as_list, canonical, type_list
from .numbers import make_integer, make_number
from .patterns import PatternError, regex_string, search

if TYPE_CHECKING:
    from .document import Spec

__all__ = ["Direction", "GenerateError", "Generator"]

Direction = Literal["response", "request"]

_ATTEMPTS = 4          # whole values made again (from another seed) before giving up
_DEPTH_SLACK = 12      # levels past max_depth a required chain may still go before it is cut
# values made in one value() call before the rest is made as past max_depth (required properties
# and minItems only): a spec whose objects each have dozens of optional object properties (Stripe's
# charge: 800 KB and 1.2 s at depth 6) gets a body of tens of KB
_SIZE_BUDGET = 2_000
_pools = pools  # (the name bench/openapi_corpus.py warms the Faker pools through)


@dataclass
class _Call:
    """One value() call: its random source and options."""

    rng: random.Random
    direction: str
    hints: Mapping[str, str]
    use_examples: bool
    made: list[int] = field(default_factory=lambda: [0])  # values made so far (shared by copies of the call)


class Generator:
    def __init__(self, spec: Spec, *, max_depth: int = 6):
        self.spec = spec
        self.doc = spec.doc
        self.oas31 = spec.dialect == "oas31"
        self.max_depth = max_depth
        self.checker = Checker(spec.doc, spec.dialect)
        self.schemas = Flattener(spec.doc, self.oas31, self.checker)

    # -- the entry point -------------------------------------------------------------------------

    def value(self, schema: Any, seed: int | str, *, direction: Direction = "response",
              hints: Mapping[str, str] | None = None, use_examples: bool = True) -> Any:
        at = self.schemas.locate(schema)
        last: GenerateError | None = None
        for attempt in range(_ATTEMPTS):
            call = _Call(random.Random(f"{seed}\x00{attempt}"), direction, hints or {}, use_examples)
            try:
                value = self._generate(self.schemas.flatten(schema, at), call, 0, None, self_ref=_ref_of(schema))
            except GenerateError as exc:
                last = exc
                continue
            if self.checker.conforms(value, schema, direction):
                return value
            last = GenerateError(at, "no generated value fits the schema")
        assert last is not None
        raise last

    # -- one value ------------------------------------------------------------------------------

    def _generate(self, parts: list[Part], call: _Call, depth: int, name: str | None,
                  forced: dict[str, Any] | None = None, self_ref: str | None = None) -> Any:
        parts = parts or _ANYTHING  # `true`, or an array without `items`: any value
        facts = self.schemas.facts(parts)
        if depth > self.max_depth + _DEPTH_SLACK:
            raise GenerateError(parts[0].at if parts else "", "recursion does not end: a required property or "
                                                              "item leads back here at every level")
        if call.use_examples and facts.examples:
            example = self._example(parts, call)
            if example is not NOTHING:
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

    def _typed(self, kind: str, parts: list[Part], facts: Facts, call: _Call, depth: int, name: str | None,
               forced: dict[str, Any] | None, self_ref: str | None) -> Any:
        if kind == "object":
            return self._object(parts, call, depth, forced, self_ref)
        if kind == "array":
            return self._array(parts, call, depth)
        if kind == "string":
            return self._string(parts, facts, call, name)
        if kind == "integer":
            return make_integer(parts, facts, call.rng)
        if kind == "number":
            return make_number(parts, facts, call.rng)
        if kind == "boolean":
            return call.rng.random() < 0.5
        if kind == "never":
            raise GenerateError(parts[0].at, "the types of the schemas it must satisfy exclude each other")
        return None

    def _fits(self, value: Any, parts: list[Part], call: _Call) -> bool:
        return all(self.checker.conforms(value, p.schema, call.direction) for p in parts)

    def _example(self, parts: list[Part], call: _Call) -> Any:
        """A part's own example, first of `examples`, or `default`, when it fits every part."""
        for part in parts:
            for example in _examples(part.schema):
                example = self._with_hints(copy.deepcopy(example), parts, call)
                if self._fits(example, parts, call):
                    return example
        return NOTHING

    def _with_hints(self, example: Any, parts: list[Part], call: _Call) -> Any:
        """An object example with the hinted properties (an id from the path) put in."""
        if not call.hints or not isinstance(example, dict):
            return example
        for key in call.hints.keys() & example.keys():
            subschemas = [p.schema["properties"][key] for p in parts
                          if isinstance(p.schema.get("properties"), dict) and key in p.schema["properties"]]
            sub = [q for s in subschemas for q in self.schemas.flatten(s, "")]
            hinted = self._hinted(key, sub, call)
            if hinted is not NOTHING:
                example[key] = hinted
        return example

    def _from_enum(self, parts: list[Part], call: _Call) -> Any:
        """const or one of enum (that fits every part)."""
        listed = [[p.schema["const"]] for p in parts if "const" in p.schema]
        listed += [p.schema["enum"] for p in parts if isinstance(p.schema.get("enum"), list)]
        candidates = [c for c in listed[0] if self._fits(c, parts, call)]
        if not candidates:
            raise GenerateError(parts[0].at, f"no value of {_short(listed[0])} fits the schema")
        chosen = candidates[0] if call.use_examples else call.rng.choice(candidates)
        return copy.deepcopy(chosen)

    # -- composition ----------------------------------------------------------------------------

    def _choose(self, parts: list[Part], index: int, keyword: str, call: _Call, depth: int,
                name: str | None, forced: dict[str, Any] | None) -> Any:
        """A value of one branch of oneOf/anyOf (tried in a seeded order, the next when one fails):
        for oneOf it must match that branch only; a discriminator gets the branch's name."""
        part = parts[index]
        branches = as_list(part.schema[keyword])
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
        rest = parts[:index] + [Part(part.schema, part.at, part.done | {keyword})] + parts[index + 1:]
        last = GenerateError(part.at, f"no branch of {keyword} can be generated")
        for i in order:
            branch = branches[i]
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            wanted = dict(forced or {})
            prop = discriminator_property(discriminator)
            if prop is not None and isinstance(ref, str):
                wanted[prop] = _discriminator_value(discriminator, ref)
            try:
                branch_parts = self.schemas.flatten(branch, f"{part.at}/{keyword}/{i}")
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
            return self.schemas.facts(self.schemas.flatten(schema, "")).types == ["null"]
        except GenerateError:
            return False

    def _weight(self, schema: Any) -> int:
        """How far a branch may lead (0: a scalar or null ... 3: an object that requires more)."""
        try:
            parts = self.schemas.flatten(schema, "")
        except GenerateError:
            return 9
        kinds = {t for p in parts for t in type_list(p.schema)}
        if not kinds - {"string", "integer", "number", "boolean", "null"} and kinds:
            return 0
        if any(p.schema.get("nullable") is True for p in parts) or "null" in kinds:
            return 0
        if "array" in kinds:
            return 1
        return 3 if any(p.schema.get("required") for p in parts) else 2

    # -- objects --------------------------------------------------------------------------------

    def _object(self, parts: list[Part], call: _Call, depth: int, forced: dict[str, Any] | None,
                self_ref: str | None) -> dict:
        plan = self.schemas.plan(parts, call.direction)
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

    def _property(self, result: dict, key: str, plan: ObjectPlan, call: _Call, depth: int,
                  wanted: dict[str, Any], *, required: bool) -> None:
        key_parts = plan.values[key]
        assert key_parts is not None  # a name no schema allows is neither required nor optional
        if key in wanted:
            result[key] = wanted[key]
            return
        if call.hints:
            hinted = self._hinted(key, key_parts, call)
            if hinted is not NOTHING:
                result[key] = hinted
                return
        try:
            result[key] = self._generate(key_parts, call, depth + 1, key, self_ref=_ref_of(plan.declared.get(key)))
        except GenerateError:
            if required:
                raise
            # an optional property nothing fits (or one that recurses without end) is left out

    def _fill(self, result: dict, parts: list[Part], plan: ObjectPlan, call: _Call, depth: int,
              deep: bool) -> None:
        """Extra entries: up to minProperties, and one or two in a map (additionalProperties: {schema}
        and no declared properties)."""
        lowest, highest, hidden = plan.lowest, plan.highest, plan.hidden
        target = max(lowest, len(result) + (call.rng.randint(1, 2) if plan.maplike and not deep else 0))
        if highest is not None:
            target = min(target, highest)
        words = pools()["word"]
        tries = 0
        while len(result) < target and tries < 8 * target + 8:
            tries += 1
            key = self._extra_key(parts, call, words, tries)
            if key is None or key in result or key in hidden:
                continue
            key_parts = self.schemas.key_parts(key, parts)
            if key_parts is None:
                continue
            try:
                result[key] = self._generate(key_parts, call, depth + 1, key)
            except GenerateError:
                continue
        if len(result) < lowest:
            raise GenerateError(parts[0].at, f"cannot reach minProperties {lowest} with the properties allowed")

    def _extra_key(self, parts: list[Part], call: _Call, words: tuple[str, ...], tries: int) -> str | None:
        """A name for an extra property: a declared optional one, a patternProperties one, a word."""
        declared = [k for p in parts for k in as_dict(p.schema.get("properties"))]
        patterns = [pat for p in parts for pat in as_dict(p.schema.get("patternProperties"))]
        if tries <= len(declared):
            return declared[tries - 1]
        if patterns and call.rng.random() < 0.5:
            try:
                return regex_string(call.rng.choice(patterns), 1, 12, call.rng)
            except PatternError:
                return None
        return call.rng.choice(words) + ("" if tries < 3 * len(words) else str(tries))

    def _hinted(self, key: str, parts: list[Part], call: _Call) -> Any:
        """A hint (a path parameter's value) as the property's type, when that fits the property."""
        raw = call.hints.get(key)
        if raw is None:
            return NOTHING
        kinds = [t for p in parts for t in type_list(p.schema)] or list(ANY_TYPES)
        for kind in dict.fromkeys(kinds):
            converted = _convert(raw, kind)
            if converted is not NOTHING and self._fits(converted, parts, call):
                return converted
        return NOTHING

    # -- arrays ---------------------------------------------------------------------------------

    def _array(self, parts: list[Part], call: _Call, depth: int) -> list:
        at = parts[0].at
        lowest = lower(parts, "minItems")
        highest = upper(parts, "maxItems")
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
                item_parts = item_parts + [q for c in contains for q in self.schemas.flatten(c, f"{at}/contains")]
            items_ref = next((_ref_of(p.schema.get("items")) for p in parts if isinstance(p.schema.get("items"), dict)),
                             None)
            value = self._item(item_parts, call, depth, unique, keys, items_ref)
            if value is NOTHING:
                if i >= lowest and i >= longest_prefix:
                    break
                raise GenerateError(at, f"cannot make {lowest} different items (uniqueItems)")
            items.append(value)
        return items

    def _item(self, item_parts: list[Part], call: _Call, depth: int, unique: bool, keys: set[str],
              self_ref: str | None) -> Any:
        """One item (different from those before when unique), NOTHING when none could be made."""
        for attempt in range(12 if unique else 1):
            if attempt == 1:  # the example or first enum value is taken: vary from now on
                call = _Call(call.rng, call.direction, call.hints, use_examples=False, made=call.made)
            try:
                value = self._generate(item_parts, call, depth + 1, None, self_ref=self_ref)
            except GenerateError:
                if unique:
                    return NOTHING
                raise
            key = canonical(value)
            if not unique or key not in keys:
                keys.add(key)
                return value
        return NOTHING

    def _prefix_items(self, part: Part) -> list:
        schema = part.schema
        if isinstance(schema.get("prefixItems"), list):
            return schema["prefixItems"]
        return schema["items"] if isinstance(schema.get("items"), list) else []  # draft 4 tuples

    def _item_parts(self, parts: list[Part], prefixes: list[list], i: int, at: str) -> list[Part]:
        out: list[Part] = []
        for part, prefix in zip(parts, prefixes, strict=True):
            if i < len(prefix):
                out += self.schemas.flatten(prefix[i], f"{part.at}/prefixItems/{i}")
            elif isinstance(part.schema.get("items"), (dict, bool)) and part.schema.get("items") is not True:
                out += self.schemas.flatten(part.schema["items"], f"{part.at}/items")
        return out

    # -- strings --------------------------------------------------------------------------------

    def _string(self, parts: list[Part], facts: Facts, call: _Call, name: str | None) -> str:
        at = parts[0].at
        lowest, highest, patterns, formats = facts.min_length, facts.max_length, facts.patterns, facts.formats
        if highest is not None and lowest > highest:
            raise GenerateError(at, f"minLength {lowest} > maxLength {highest}")
        fmt = formats[0] if formats else None
        rng = call.rng
        for attempt in range(6):
            if fmt in FORMAT_MAKERS and (attempt < 3 or not patterns):
                text = FORMAT_MAKERS[fmt](rng, lowest, highest)
                checks = formats[1:]  # a format's own maker is trusted (the value is checked at the end)
            elif patterns:
                try:
                    text = regex_string(patterns[attempt % len(patterns)], lowest, highest, rng)
                except PatternError as exc:
                    raise GenerateError("", str(exc)) from None
                checks = formats
            else:
                text = fit(realistic(name, rng), lowest, highest, rng)
                checks = formats
            if lowest <= len(text) <= (highest if highest is not None else len(text)) \
                    and all(search(p, text) for p in patterns) and all(format_ok(f, text) for f in checks):
                return text
        raise GenerateError(at, "no string found that fits its length, pattern and format together")


_ANYTHING = [Part({}, "")]  # the parts of a schema that admits any value


# -- reading schemas ---------------------------------------------------------------------------

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


def _discriminator_value(discriminator: Any, ref: str) -> str:
    """The value that selects the schema at ref: its mapping key, else its name."""
    name = unescape(ref.rsplit("/", 1)[-1])
    for key, target in as_dict(as_dict(discriminator).get("mapping")).items():
        if target in (ref, name):
            return str(key)
    return name


def _convert(raw: str, kind: str) -> Any:
    if kind == "string":
        return raw
    if kind == "integer":
        return int(raw) if re.fullmatch(r"-?\d{1,30}", raw) else NOTHING
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return NOTHING
        return int(number) if number.is_integer() and "." not in raw and math.isfinite(number) else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), NOTHING)
    return NOTHING


def _short(values: list) -> str:
    text = json.dumps(values, default=str)
    return text if len(text) <= 60 else text[:57] + "..."

