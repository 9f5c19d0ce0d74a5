"""Two versions of a schema compared, in the direction the data travels.

A schema is compared *flattened*: its `$ref`s followed and its `allOf` parts merged (properties,
required names, constraints), so how a spec is factored (inline or in components, in this file
or another, one schema or an allOf of several) is never reported; only what a valid value may be.
Recursion goes through properties, array items and oneOf/anyOf alternatives; the pairs of
schemas on the way down are remembered, so circular schemas end.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeGuard

from .diff_rules import BOUND_NAMES, schema_rule
from .document import escape, walk_pointer

if TYPE_CHECKING:
    from .document import Spec

Ref = tuple[Any, str]                       # a schema as written (maybe a $ref) and its bundle pointer
Emit = Callable[[str, str, str, str], None]  # rule id, message, old bundle pointer, new bundle pointer

MAX_DEPTH = 64      # nested schemas followed at most (a safety net under the cycle check)
_UPPER = ("maxLength", "maximum", "maxItems")
_ZERO_WHEN_ABSENT = ("minLength", "minItems")
_WIDER_FORMATS = {("int32", "int64"), ("float", "double")}  # (narrow, wide)


def follow(spec: Spec, node: Any, ptr: str) -> Ref:
    """node with its `$ref` chain followed, and the pointer of what it points at."""
    for _ in range(64):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            break
        ptr = node["$ref"][1:]
        node = walk_pointer(spec.doc, ptr)
    return node, ptr


@dataclass
class Bound:
    value: float
    exclusive: bool = False

    def key(self, upper: bool) -> tuple[float, int]:
        """Larger keys are looser for an upper bound, tighter for a lower one."""
        return (self.value, (0 if self.exclusive else 1) if upper else (1 if self.exclusive else 0))

    def __str__(self) -> str:
        shown = int(self.value) if float(self.value).is_integer() else self.value
        return f"{shown} (exclusive)" if self.exclusive else str(shown)


@dataclass
class Flat:
    """A schema with its $refs followed and its allOf merged; each keyword keeps its pointer."""

    pointer: str
    nodes: tuple[int, ...] = ()               # the schema objects merged: the identity for cycles
    types: frozenset[str] = frozenset()       # empty: any type
    format: tuple[str, str] | None = None     # (format, pointer)
    nullable: bool = False
    enum: tuple[list, str] | None = None      # (values without null, pointer)
    bounds: dict[str, tuple[Bound, str]] = field(default_factory=dict)
    pattern: tuple[str, str] | None = None
    properties: dict[str, list[Ref]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: list[Ref] = field(default_factory=list)
    alternatives: dict[str, tuple[list[Ref], str]] = field(default_factory=dict)  # oneOf/anyOf
    read_only: bool = False
    write_only: bool = False


def flatten(spec: Spec, refs: list[Ref]) -> Flat:
    """One Flat from the schemas refs (all of which a value must match)."""
    resolved = [follow(spec, node, ptr) for node, ptr in refs]
    flat = Flat(resolved[0][1] if resolved else "")
    for node, ptr in resolved:
        _absorb(spec, flat, node, ptr, 0)
    if not flat.types and flat.properties:  # `properties` without `type: object` describes an object
        flat.types = frozenset({"object"})
    elif not flat.types and flat.items:
        flat.types = frozenset({"array"})
    return flat


def _absorb(spec: Spec, flat: Flat, node: Any, ptr: str, depth: int) -> None:
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return
    flat.nodes += (id(node),)
    _absorb_type(flat, node, ptr)
    _absorb_values(flat, node, ptr)
    _absorb_bounds(flat, node, ptr)
    for name, sub in (node.get("properties") or {}).items():
        flat.properties.setdefault(name, []).append((sub, f"{ptr}/properties/{escape(name)}"))
    if isinstance(node.get("required"), list):
        flat.required.update(n for n in node["required"] if isinstance(n, str))
    if isinstance(node.get("items"), dict):
        flat.items.append((node["items"], f"{ptr}/items"))
    for keyword in ("oneOf", "anyOf"):
        if isinstance(node.get(keyword), list) and keyword not in flat.alternatives:
            flat.alternatives[keyword] = ([(sub, f"{ptr}/{keyword}/{i}") for i, sub in enumerate(node[keyword])],
                                          f"{ptr}/{keyword}")
    flat.read_only = flat.read_only or node.get("readOnly") is True
    flat.write_only = flat.write_only or node.get("writeOnly") is True
    for i, part in enumerate(node.get("allOf") or []):
        part, part_ptr = follow(spec, part, f"{ptr}/allOf/{i}")
        _absorb(spec, flat, part, part_ptr, depth + 1)


def _absorb_type(flat: Flat, node: dict, ptr: str) -> None:
    declared = node.get("type")
    types = set(declared) if isinstance(declared, list) else {declared} if isinstance(declared, str) else set()
    if "null" in types:  # OpenAPI 3.1: type: [string, "null"]
        flat.nullable = True
        types.discard("null")
    if node.get("nullable") is True:
        flat.nullable = True
    if types:
        if not flat.types:
            flat.types = frozenset(types)
        else:  # allOf: a value matches every part; integer is the number both allow
            common = flat.types & types
            if not common and {"integer", "number"} <= flat.types | types:
                common = frozenset({"integer"})
            flat.types = frozenset(common) if common else flat.types
    if isinstance(node.get("format"), str) and flat.format is None:
        flat.format = (node["format"], f"{ptr}/format")


def _absorb_values(flat: Flat, node: dict, ptr: str) -> None:
    values = node["enum"] if isinstance(node.get("enum"), list) else [node["const"]] if "const" in node else None
    if values is not None:
        if None in values:
            flat.nullable = True
        kept = [v for v in values if v is not None]
        if flat.enum is not None:  # allOf: the values both allow
            kept = [v for v in flat.enum[0] if _key(v) in {_key(k) for k in kept}]
        flat.enum = (kept, f"{ptr}/{'enum' if 'enum' in node else 'const'}")
    if isinstance(node.get("pattern"), str) and flat.pattern is None:
        flat.pattern = (node["pattern"], f"{ptr}/pattern")


def _absorb_bounds(flat: Flat, node: dict, ptr: str) -> None:
    found: dict[str, tuple[Bound, str]] = {}
    for keyword in BOUND_NAMES:
        value = node.get(keyword)
        if _number(value):
            exclusive_flag = node.get("exclusiveMaximum" if keyword == "maximum" else "exclusiveMinimum")
            found[keyword] = (Bound(value, exclusive_flag is True), f"{ptr}/{keyword}")
    for keyword, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        value = node.get(keyword)  # OpenAPI 3.1: the exclusive bound is a number of its own
        if _number(value):
            candidate = (Bound(value, True), f"{ptr}/{keyword}")
            if bound not in found or _tighter(candidate[0], found[bound][0], bound in _UPPER):
                found[bound] = candidate
    for keyword, candidate in found.items():  # allOf: the tighter bound holds
        held = flat.bounds.get(keyword)
        if held is None or _tighter(candidate[0], held[0], keyword in _UPPER):
            flat.bounds[keyword] = candidate


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tighter(a: Bound, b: Bound, upper: bool) -> bool:
    return a.key(upper) < b.key(upper) if upper else a.key(upper) > b.key(upper)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _shown(values: list) -> str:
    return ", ".join(json.dumps(v, default=str) for v in values)


# -- comparing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """Where in an operation the schema sits: which direction, what it describes, and its name."""

    direction: str   # request | response
    subject: str     # body | parameter | header
    base: str        # "the request body (application/json)", "query parameter 'limit'"


@dataclass(frozen=True)
class Change:
    """A change found in a schema, relative to it: the same for every operation the schema is in."""

    rule: str         # a schema change ("max-length-decreased"), or a whole rule id when keyword is False
    keyword: bool     # named <direction>-<subject>-<rule> when reported
    path: str         # the property path below the compared schema ("" for itself): "owner/name", "tags/[]"
    message: str
    old: str          # bundle pointers
    new: str

    def below(self, step: str) -> Change:
        return replace(self, path=f"{step}/{self.path}" if self.path else step)


class SchemaDiff:
    """Compares schemas of two specs, reporting each change through emit.

    The changes found for a pair of schemas are kept: a schema shared by many operations (or many
    times in one) is compared once, as oasdiff does. A pair met again below itself (a circular
    schema) counts as unchanged there: its changes are reported where it was first met."""

    def __init__(self, old: Spec, new: Spec, emit: Emit):
        self.old, self.new, self.emit = old, new, emit
        self._flats: dict[tuple, Flat] = {}
        self._changes: dict[tuple, list[Change]] = {}

    def compare(self, old: Ref, new: Ref, place: Place) -> None:
        for change in self._compare([old], [new], place.direction, set()):
            subject = place.subject if not change.path else "property"
            rule = schema_rule(place.direction, subject, change.rule) if change.keyword else change.rule
            label = f"property '{change.path}' of {place.base}" if change.path else place.base
            self.emit(rule, f"{label}: {change.message}", change.old, change.new)

    def _flatten(self, spec: Spec, refs: list[Ref]) -> Flat:
        key = (spec is self.new, *((id(node), ptr) for node, ptr in refs))  # the nodes live as long as the specs
        flat = self._flats.get(key)
        if flat is None:
            flat = self._flats[key] = flatten(spec, refs)
        return flat

    def _compare(self, old_refs: list[Ref], new_refs: list[Ref], direction: str, on_path: set) -> list[Change]:
        old, new = self._flatten(self.old, old_refs), self._flatten(self.new, new_refs)
        pair = (old.nodes, new.nodes, direction)
        if pair in on_path or len(on_path) > MAX_DEPTH:  # a circular schema: this pair is being compared
            return []
        known = self._changes.get(pair)
        if known is not None:
            return known
        on_path.add(pair)
        try:
            changes = [*_types(old, new), *_nullable(old, new), *_enum(old, new), *_bounds(old, new),
                       *_pattern(old, new), *self._properties(old, new, direction, on_path)]
            if old.items and new.items:
                changes += [c.below("[]") for c in self._compare(old.items, new.items, direction, on_path)]
            changes += self._alternatives(old, new, direction, on_path)
        finally:
            on_path.discard(pair)
        self._changes[pair] = changes
        return changes

    def _properties(self, old: Flat, new: Flat, direction: str, on_path: set) -> list[Change]:
        changes: list[Change] = []
        for name in [*old.properties, *(n for n in new.properties if n not in old.properties)]:
            before, after = old.properties.get(name), new.properties.get(name)
            if self._hidden(before, after, direction):
                continue
            if after is None and before is not None:
                changes.append(_property_removed(direction, name, name in old.required, before[0][1], new.pointer))
            elif before is None and after is not None:
                changes.append(_property_added(direction, name, name in new.required, old.pointer, after[0][1]))
            elif before is not None and after is not None:
                was, now = name in old.required, name in new.required
                if was != now:
                    became = "required" if now else "optional"
                    changes.append(Change(f"{direction}-property-became-{became}", False, name, f"became {became}",
                                          before[0][1], after[0][1]))
                changes += [c.below(name) for c in self._compare(before, after, direction, on_path)]
        return changes

    def _hidden(self, before: list[Ref] | None, after: list[Ref] | None, direction: str) -> bool:
        """readOnly properties are not sent in requests, writeOnly ones not received in responses."""
        flats = [self._flatten(spec, refs) for spec, refs in ((self.old, before), (self.new, after)) if refs]
        return all(flat.read_only if direction == "request" else flat.write_only for flat in flats)

    def _alternatives(self, old: Flat, new: Flat, direction: str, on_path: set) -> list[Change]:
        changes: list[Change] = []
        for keyword, name in (("oneOf", "one-of"), ("anyOf", "any-of")):
            before, after = old.alternatives.get(keyword), new.alternatives.get(keyword)
            if before is None and after is None:
                continue
            old_list, new_list = before[0] if before else [], after[0] if after else []
            old_ptr, new_ptr = before[1] if before else old.pointer, after[1] if after else new.pointer
            if len(old_list) == len(new_list):  # compared in order: alternatives are rarely reordered
                for old_alt, new_alt in zip(old_list, new_list, strict=True):
                    changes += self._compare([old_alt], [new_alt], direction, on_path)
            elif len(new_list) > len(old_list):
                changes.append(Change(f"{name}-added", True, "", f"{keyword} has {len(new_list) - len(old_list)} "
                                                                 "more alternative(s)", old_ptr, new_ptr))
            else:
                changes.append(Change(f"{name}-removed", True, "", f"{keyword} has {len(old_list) - len(new_list)} "
                                                                   "fewer alternative(s)", old_ptr, new_ptr))
        return changes


def _property_removed(direction: str, name: str, was_required: bool, old_ptr: str, new_ptr: str) -> Change:
    if direction == "request":
        rule = "request-property-removed"
    else:
        rule = "response-required-property-removed" if was_required else "response-optional-property-removed"
    return Change(rule, False, name, "removed", old_ptr, new_ptr)


def _property_added(direction: str, name: str, required: bool, old_ptr: str, new_ptr: str) -> Change:
    kind = "required" if required else "optional"
    rule = f"new-{kind}-request-property" if direction == "request" else f"response-{kind}-property-added"
    return Change(rule, False, name, f"added ({kind})", old_ptr, new_ptr)


def _types(old: Flat, new: Flat) -> list[Change]:
    if old.types != new.types:
        change = ("type-generalized" if _covers(new.types, old.types)
                  else "type-specialized" if _covers(old.types, new.types) else "type-changed")
        return [Change(change, True, "", f"type changed from {_type_name(old.types)} to {_type_name(new.types)}",
                       old.pointer, new.pointer)]
    old_format, new_format = (old.format or (None, old.pointer)), (new.format or (None, new.pointer))
    if old_format[0] == new_format[0]:
        return []
    change = ("type-generalized" if new_format[0] is None or (old_format[0], new_format[0]) in _WIDER_FORMATS
              else "type-specialized" if old_format[0] is None or (new_format[0], old_format[0]) in _WIDER_FORMATS
              else "type-changed")
    return [Change(change, True, "", f"format changed from {old_format[0] or 'none'} to {new_format[0] or 'none'}",
                   old_format[1], new_format[1])]


def _nullable(old: Flat, new: Flat) -> list[Change]:
    if old.nullable == new.nullable:
        return []
    if new.nullable:
        return [Change("became-nullable", True, "", "null is now allowed", old.pointer, new.pointer)]
    return [Change("became-not-nullable", True, "", "null is no longer allowed", old.pointer, new.pointer)]


def _enum(old: Flat, new: Flat) -> list[Change]:
    if old.enum is None and new.enum is not None:
        return [Change("became-enum", True, "", f"restricted to the values {_shown(new.enum[0])}", old.pointer,
                       new.enum[1])]
    if new.enum is None and old.enum is not None:
        return [Change("became-not-enum", True, "", "no longer restricted to an enum", old.enum[1], new.pointer)]
    if old.enum is None or new.enum is None:
        return []
    old_keys, new_keys = {_key(v) for v in old.enum[0]}, {_key(v) for v in new.enum[0]}
    removed = [v for v in old.enum[0] if _key(v) not in new_keys]
    added = [v for v in new.enum[0] if _key(v) not in old_keys]
    changes = []
    if removed:
        changes.append(Change("enum-value-removed", True, "", f"enum value(s) removed: {_shown(removed)}",
                              old.enum[1], new.enum[1]))
    if added:
        changes.append(Change("enum-value-added", True, "", f"enum value(s) added: {_shown(added)}",
                              old.enum[1], new.enum[1]))
    return changes


def _bounds(old: Flat, new: Flat) -> list[Change]:
    changes = []
    for keyword, name in BOUND_NAMES.items():
        upper = keyword in _UPPER
        before, after = old.bounds.get(keyword), new.bounds.get(keyword)
        if keyword in _ZERO_WHEN_ABSENT:  # minLength/minItems absent: 0
            before = before or (Bound(0), old.pointer)
            after = after or (Bound(0), new.pointer)
        if before is None and after is not None:
            changes.append(Change(f"{name}-set", True, "", f"{keyword} set to {after[0]}", old.pointer, after[1]))
        elif after is None and before is not None:
            changes.append(Change(f"{name}-unset", True, "", f"{keyword} {before[0]} removed", before[1],
                                  new.pointer))
        elif before is not None and after is not None and before[0].key(upper) != after[0].key(upper):
            change = f"{name}-increased" if after[0].key(upper) > before[0].key(upper) else f"{name}-decreased"
            changes.append(Change(change, True, "", f"{keyword} changed from {before[0]} to {after[0]}",
                                  before[1], after[1]))
    return changes


def _pattern(old: Flat, new: Flat) -> list[Change]:
    before, after = old.pattern, new.pattern
    if before is None and after is not None:
        return [Change("pattern-added", True, "", f"pattern {after[0]!r} added", old.pointer, after[1])]
    if after is None and before is not None:
        return [Change("pattern-removed", True, "", f"pattern {before[0]!r} removed", before[1], new.pointer)]
    if before is not None and after is not None and before[0] != after[0]:
        return [Change("pattern-changed", True, "", f"pattern changed from {before[0]!r} to {after[0]!r}",
                       before[1], after[1])]
    return []


def _covers(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    """Every value of type `narrow` is also of type `wide` (empty: any type)."""
    if not wide:
        return True
    if not narrow:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _type_name(types: frozenset[str]) -> str:
    return "/".join(sorted(types)) or "any"
