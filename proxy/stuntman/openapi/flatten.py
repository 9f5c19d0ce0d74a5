"""A schema *flattened*: the list of schema objects a value must satisfy together (its `$ref`
followed, its `allOf` branches added; generate.py adds the `oneOf`/`anyOf` branch it chooses), so
`allOf` needs no merged copy of its branches. Each keyword is then read across the whole list:
the tightest bound wins, `required` is the union, `properties` of the same name are satisfied
together, and the types every part allows are put in the order a value is tried in (`Facts`; an
object's properties: `ObjectPlan`). `Flattener` works each of these out once (per schema object,
per list, per list and direction) and keeps it; generate.py makes values from what it reads.

A schema that leaves no value (`false`, a `$ref` to nothing, a required property no schema allows)
raises `GenerateError` naming where; bounds that exclude each other are kept in `Facts` and raised
when a number is asked for. The error, raised throughout generation, is defined here, in the
lowest module that raises it; generate.py exports it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .document import escape, walk_pointer
from .keywords import as_dict, as_int, as_list, number_or_none, part_bounds, type_list
from .patterns import search

if TYPE_CHECKING:
    from .conform import Checker

_CACHE_LIMIT = 20_000  # schema objects whose flattening is kept (a spec has fewer)
ANY_TYPES = ("string", "integer", "boolean", "object", "array", "number", "null")


class GenerateError(Exception):
    """A schema no value can satisfy (or one this generator cannot satisfy): where, and why."""

    def __init__(self, pointer: str, message: str):
        super().__init__(f"#{pointer}: {message}")
        self.pointer, self.message = pointer, message


@dataclass(frozen=True)
class Part:
    """One schema object a value must satisfy; `at` is its JSON pointer, for errors."""

    schema: dict
    at: str
    done: frozenset[str] = frozenset()  # oneOf/anyOf already chosen for this value


@dataclass
class Facts:
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
class ObjectPlan:
    """The properties of an object schema (its parts together), for one direction."""

    at: str
    order: list[str]                       # declared, then required-but-undeclared names
    declared: dict[str, Any]               # name → its (first) schema
    must: list[str]                        # required and not hidden
    optional: list[str]                    # declared, not required, not hidden, allowed
    hidden: set[str]                       # readOnly in a request, writeOnly in a response
    values: dict[str, list[Part] | None]   # name → the schemas its value satisfies (None: forbidden)
    lowest: int                            # minProperties
    highest: int | None                    # maxProperties
    maplike: bool                          # no properties, additionalProperties: {schema}
    discriminators: list[tuple[str, Any]]  # (property, discriminator) of a parent reached through allOf


class Flattener:
    """The flattening of a spec's schemas, and what each list of them says, worked out once."""

    def __init__(self, doc: dict, oas31: bool, checker: Checker):
        self.doc = doc
        self.oas31 = oas31
        self.checker = checker  # (propertyNames: a name it refuses is no property)
        self._pointers: dict[int, str] | None = None
        self._flat: dict[int, tuple[Any, list[Part]]] = {}
        # keyed by the ids of the parts' schemas; each entry keeps its parts (so those ids are not reused)
        self._plans: dict[tuple, tuple[list[Part], ObjectPlan]] = {}
        self._facts: dict[tuple, tuple[list[Part], Facts]] = {}

    # -- flattening: a schema as the list of schema objects a value must satisfy ------------------

    def flatten(self, schema: Any, at: str) -> list[Part]:
        """Cached per schema object (the entry keeps the object, so its id is not reused); the
        list returned is shared: callers build new lists from it, never change it."""
        cached = self._flat.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        out: list[Part] = []
        self._flatten_into(schema, at, out, set())
        if len(self._flat) >= _CACHE_LIMIT:  # schemas made per call by a caller: start again
            self._flat.clear()  # the other caches are keyed by ids of schemas this one keeps alive
            self._facts.clear()
            self._plans.clear()
        self._flat[id(schema)] = (schema, out)
        return out

    def _flatten_into(self, schema: Any, at: str, out: list[Part], seen: set[str]) -> None:
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
        out.append(Part(schema, at))
        for i, branch in enumerate(as_list(schema.get("allOf"))):
            self._flatten_into(branch, f"{at}/allOf/{i}", out, seen)

    def _target(self, ref: str, at: str) -> Any:
        try:
            return walk_pointer(self.doc, ref[1:])
        except KeyError:
            raise GenerateError(at, f"$ref {ref!r} points at nothing") from None

    def locate(self, schema: Any) -> str:
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

    # -- facts: what a list of schemas says about a value -----------------------------------------

    def facts(self, parts: list[Part]) -> Facts:
        key = tuple((id(p.schema), p.done) for p in parts)
        entry = self._facts.get(key)
        if entry is None:
            entry = self._facts[key] = (parts, self._read_facts(parts))
        return entry[1]

    def _read_facts(self, parts: list[Part]) -> Facts:
        choice = next(((i, kw) for i, p in enumerate(parts) for kw in ("oneOf", "anyOf")
                       if kw in p.schema and kw not in p.done), None)
        try:
            low, high = _bounds(parts)
            bounds_error = None
        except GenerateError as exc:
            low = high = None
            bounds_error = exc.message
        return Facts(
            examples=any(k in p.schema for p in parts for k in ("example", "examples", "default")),
            enum=any("const" in p.schema or isinstance(p.schema.get("enum"), list) for p in parts),
            choice=choice, nots=[p.schema["not"] for p in parts if "not" in p.schema],
            types=self._types(parts, deep=False), types_deep=self._types(parts, deep=True),
            low=low, high=high, bounds_error=bounds_error, step=_multiple(parts),
            formats=[p.schema["format"] for p in parts if isinstance(p.schema.get("format"), str)],
            patterns=[p.schema["pattern"] for p in parts if isinstance(p.schema.get("pattern"), str)],
            min_length=lower(parts, "minLength"), max_length=upper(parts, "maxLength"))

    def _types(self, parts: list[Part], *, deep: bool) -> list[str]:
        """The types a value may have (every part agrees), the preferred first, null last, unless
        recursion has gone deep enough that null is what ends it."""
        allowed: list[str] | None = None
        for part in parts:
            listed = type_list(part.schema)
            if not listed:
                continue
            if not self.oas31 and part.schema.get("nullable") is True:
                listed = [*listed, "null"]
            kinds = set(listed) | ({"integer"} if "number" in listed else set())
            allowed = [t for t in (allowed if allowed is not None else _expand(listed)) if t in kinds]
        if allowed is None:
            allowed = [_implied_type(parts)] + [t for t in ANY_TYPES if t != _implied_type(parts)]
        if not allowed:  # made only when asked for (a oneOf branch may be tried and left)
            return ["never"]
        if "number" in allowed and "integer" in allowed and allowed.index("integer") > allowed.index("number"):
            allowed.remove("integer")  # number was named first: a number is made (and may be a whole one)
        rest = [t for t in allowed if t != "null"]
        if "null" in allowed and (not rest or deep and set(rest) <= {"object", "array"}):
            return ["null", *rest]
        return rest + (["null"] if "null" in allowed else [])

    # -- objects: the properties of a list of object schemas --------------------------------------

    def plan(self, parts: list[Part], direction: str) -> ObjectPlan:
        """What an object of these schemas holds, worked out once per schema list and direction."""
        key = (direction, *(id(p.schema) for p in parts))
        entry = self._plans.get(key)
        if entry is not None:
            return entry[1]
        declared: dict[str, Any] = {}  # name → its first schema (for its $ref: the discriminator)
        for part in parts:
            for name, sub in as_dict(part.schema.get("properties")).items():
                declared.setdefault(name, sub)
        hidden_flag = "readOnly" if direction == "request" else "writeOnly"
        hidden = {name for name in declared if any(self._flagged(p.schema["properties"][name], hidden_flag)
                                                   for p in parts if name in as_dict(p.schema.get("properties")))}
        required = dict.fromkeys(k for p in parts for k in as_list(p.schema.get("required")) if isinstance(k, str))
        must = [k for k in required if k not in hidden]
        values = {name: self.key_parts(name, parts) for name in dict.fromkeys((*declared, *must))}
        for name in must:
            if values[name] is None:
                raise GenerateError(parts[0].at, f"required property {name!r} is not allowed (additionalProperties)")
        plan = ObjectPlan(
            at=parts[0].at, order=list(values), declared=declared, must=must,
            optional=[k for k in declared if k not in hidden and k not in required and values[k] is not None],
            hidden=hidden, values=values, lowest=lower(parts, "minProperties"),
            highest=upper(parts, "maxProperties"),
            maplike=not declared and any(isinstance(p.schema.get("additionalProperties"), dict) for p in parts),
            discriminators=[(prop, p.schema["discriminator"]) for p in parts
                            if (prop := discriminator_property(p.schema.get("discriminator"))) is not None
                            and not p.schema.get("oneOf") and not p.schema.get("anyOf")])
        self._plans[key] = (parts, plan)
        return plan

    def key_parts(self, key: str, parts: list[Part]) -> list[Part] | None:
        """The schemas a property's value must satisfy, or None when some part forbids the name."""
        out: list[Part] = []
        for part in parts:
            schema = part.schema
            props = as_dict(schema.get("properties"))
            matched = False
            if key in props:
                if props[key] is False:  # 3.1: a property that must not be there
                    return None
                out += self.flatten(props[key], f"{part.at}/properties/{escape(key)}")
                matched = True
            for pat, sub in as_dict(schema.get("patternProperties")).items():
                if search(pat, key):
                    out += self.flatten(sub, f"{part.at}/patternProperties/{escape(pat)}")
                    matched = True
            extra = schema.get("additionalProperties")
            if not matched and extra is False:
                return None
            if not matched and isinstance(extra, dict):
                out += self.flatten(extra, f"{part.at}/additionalProperties")
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


# -- reading a keyword across parts -------------------------------------------------------------

def lower(parts: list[Part], keyword: str) -> int:
    """The tightest of a minimum count (minItems...) across parts; 0 when none sets it."""
    return max((as_int(p.schema.get(keyword)) or 0 for p in parts), default=0)


def upper(parts: list[Part], keyword: str) -> int | None:
    """The tightest of a maximum count (maxItems...) across parts; None when none sets it."""
    found = [n for n in (as_int(p.schema.get(keyword)) for p in parts) if n is not None]
    return min(found) if found else None


def _expand(listed: list[str]) -> list[str]:
    """A type list with integer after number (an integer is a number)."""
    out = list(dict.fromkeys(listed))
    if "number" in out and "integer" not in out:
        out.insert(out.index("number") + 1, "integer")
    return out


def _implied_type(parts: list[Part]) -> str:
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


def discriminator_property(discriminator: Any) -> str | None:
    """The property a discriminator names: {propertyName: ...} (3.x), or the name itself (2.0)."""
    if isinstance(discriminator, str):
        return discriminator
    prop = discriminator.get("propertyName") if isinstance(discriminator, dict) else None
    return prop if isinstance(prop, str) else None


def _bounds(parts: list[Part]) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """The tightest lower and upper bounds as (value, exclusive), from either dialect's keywords
    (3.0: exclusiveMinimum is a flag on minimum; 3.1: it is the bound itself)."""
    low: tuple[float, bool] | None = None
    high: tuple[float, bool] | None = None
    for part in parts:
        s = part.schema
        for bound in part_bounds(s, "minimum", "exclusiveMinimum"):
            if low is None or bound[0] > low[0] or (bound[0] == low[0] and bound[1]):
                low = bound
        for bound in part_bounds(s, "maximum", "exclusiveMaximum"):
            if high is None or bound[0] < high[0] or (bound[0] == high[0] and bound[1]):
                high = bound
    if low is not None and high is not None and \
            (low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1]))):
        raise GenerateError(parts[0].at, f"minimum {low[0]} and maximum {high[0]} leave no number")
    return low, high


def _multiple(parts: list[Part]) -> Fraction | None:
    """The least common multiple of every multipleOf, exactly (0.1 is 1/10, not a float)."""
    step: Fraction | None = None
    for part in parts:
        m = number_or_none(part.schema.get("multipleOf"))
        if m is None or m <= 0:
            continue
        f = Fraction(str(m))
        step = f if step is None else Fraction(math.lcm(step.numerator, f.numerator),
                                               math.gcd(step.denominator, f.denominator))
    return step
