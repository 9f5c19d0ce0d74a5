"""OpenAPI schemas as JSON Schema 2020-12, converted and compiled once per spec and direction.

A spec's schemas are converted into one tree, `{"$defs": {"s0": ..., "s1": ...}}`: every schema an
operation uses (a parameter's, a body's, a response header's) and every schema a `$ref` reaches
gets one entry, and each `$ref` becomes `#/$defs/s<n>`. References stay references, so circular
schemas work, and the whole tree is compiled by jsonschema-rs in one call, as one validator whose
`properties` name every entry (`{"s3": value}` checks value against entry s3): an operation's
validators are views of it by entry. (jsonschema-rs's `validator_map_for` compiles every subschema
as a validator of its own, which grows much faster than the spec: minutes for a 2 MB spec.) Each
entry remembers the bundle pointer it came from, so an error's schema path maps back to
`file#pointer` in the spec.

A schema that is not valid JSON Schema (`type: strin`, `minimum: "x"`, `required: true` on a 3.0
property, a `pattern` that is not a regular expression, a string where a schema goes, a `$ref`
that is not a string) does not stop the validators: the entry
holding it accepts anything, the spec's notes say so, and `Compiled.problems` lists it as a
SpecError naming its file and pointer (validate.check_schemas raises the first, for loading).

What differs from JSON Schema, and how it is converted:
- OpenAPI 3.0 (and Swagger 2.0): `nullable: true` allows null (added to `type`, to `enum`, and
  around `allOf`/`anyOf`/`oneOf`/`not`/`$ref` by an `if null / else` wrapper); boolean
  `exclusiveMinimum`/`exclusiveMaximum` take the number of `minimum`/`maximum`; a `$ref`'s
  siblings are ignored (as 3.0 says). OpenAPI 3.1 schemas are JSON Schema 2020-12 already:
  `$ref` siblings apply.
- OpenAPI 3.0 (and Swagger 2.0): a `oneOf`/`anyOf` with a `discriminator` is checked as 3.0 says
  (and openapi-schema-validator does): the value is an object with the discriminator property,
  and the branch its value names (through `mapping`, else the schema of that name) validates it,
  whether or not other branches would too (`Cat` and a catch-all `Lizard` both accepting a cat).
  In 3.1 the discriminator is an annotation: the oneOf is JSON Schema's.
- Both: `readOnly` properties are not required in requests, `writeOnly` ones not in responses (the
  two directions get a tree each), also when the `required` list is in another allOf member than
  the property; `discriminator` (but for the above), `xml`, `example`, `externalDocs` and `x-`
  extensions are left out; formats are checked (`int32`/`int64`
  as bounds, `byte` as base64, unknown formats such as `binary` are not checked).
- A `pattern` that is valid ECMA-262 but too big for jsonschema-rs's regex engine (`.{0,262144}`)
  or holding lone surrogates is checked with Python's re instead (the keyword `x-stuntman-pattern`).
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from .document import SpecError, escape, unescape, walk_pointer

if TYPE_CHECKING:
    from .document import Spec

REQUEST, RESPONSE = "request", "response"

# keywords whose value is one schema / a list of schemas / a map of name → schema
_ONE = frozenset(("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames",
                  "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"))
_LIST = frozenset(("allOf", "anyOf", "oneOf", "prefixItems"))
_MAP = frozenset(("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"))
# what validation never looks at (and `$id`/`$schema`: every $ref is already a pointer into the bundle)
_DROPPED = frozenset(("discriminator", "xml", "example", "examples", "externalDocs", "description", "title",
                      "deprecated", "nullable", "x-nullable", "$id", "$schema", "$comment"))
_COMPOSITES = ("allOf", "anyOf", "oneOf", "not")
_INT_BOUNDS = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HIDDEN = {REQUEST: "readOnly", RESPONSE: "writeOnly"}  # a property not required in that direction


def _is_base64(value: str) -> bool:
    return _BASE64.fullmatch(value) is not None


FORMATS = {"byte": _is_base64}
PATTERN = "x-stuntman-pattern"  # a `pattern` jsonschema-rs cannot compile but ECMA-262 allows


class _PythonPattern:
    """`pattern`, checked with Python's re: for the valid ECMA-262 patterns the Rust regex engine
    refuses (a counted repetition past its size limit, `.{0,262144}` or `\\S{1,8192}`; a lone
    surrogate in a class, `[\\uD800-\\uDFFF]`)."""

    def __init__(self, parent: dict, value: str, path: Any):
        self.pattern = value
        self.compiled = re.compile(_python_regex(value))

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and self.compiled.search(instance) is None:
            raise ValueError(f'"{instance[:40]}" does not match "{self.pattern[:80]}"')


KEYWORDS: dict[str, Any] = {PATTERN: _PythonPattern}
_BIG_REPEAT = re.compile(r"\{(\d+)(,?)(\d*)\}")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _python_regex(pattern: str) -> str:
    """ECMA-262's named groups as Python spells them."""
    return re.sub(r"\\k<(\w+)>", r"(?P=\1)", re.sub(r"\(\?<(?![=!])", "(?P<", pattern))


@lru_cache(maxsize=1024)
def _too_big_for_rust(pattern: str) -> bool:
    """The pattern is refused by jsonschema-rs only for its engine's limits: with its counted
    repetitions capped at 1,000 and its surrogate escapes replaced, jsonschema-rs takes it (so the
    syntax is sound), and Python's re compiles it as written. Patterns that are not ECMA-262
    (`\\p{XDigit}`, `[\\w-.]`, `{1-35}`) stay refused."""
    if _rust_compiles(pattern):
        return False
    capped = _BIG_REPEAT.sub(lambda m: "{" + str(min(int(m[1]), 1000)) + m[2]
                             + (str(min(int(m[3]), 1000)) if m[3] else "") + "}", pattern)
    capped = _SURROGATE.sub(r"\\uFFFD", capped)
    if capped == pattern or not _rust_compiles(capped):
        return False
    try:
        re.compile(_python_regex(pattern))
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def _rust_compiles(pattern: str) -> bool:
    try:
        jsonschema_rs.validator_for({"pattern": pattern})
    except ValueError:
        return False
    return True


class Compiled:
    """The converted tree of one direction of a spec and its compiled validators."""

    def __init__(self, spec: Spec, direction: str, roots: list[str]):
        self.spec = spec
        self.oas30 = spec.dialect == "oas30"
        self.hidden = _HIDDEN[direction]
        self.defs: dict[str, Any] = {}
        self.ids: dict[str, str] = {}      # bundle pointer → entry name
        self.origin: dict[str, str] = {}   # entry name → bundle pointer
        # converted keyword pointers (in the tree) that are not in the spec: a wrapper to skip when
        # mapping back, a keyword made from another (int32 bounds come from `format`)
        self.wrappers: set[str] = set()
        self.renamed: dict[str, str] = {}
        # schemas that are not schemas (each entry accepts anything), first the one reached first
        self.problems: list[SpecError] = []
        self._ranked: list[tuple[int, int, SpecError]] = []  # (entry number, when found, problem)
        self._hidden_cache: dict[int, frozenset[str]] = {}  # id(schema node in spec.doc) → _hidden_names
        self._pending: deque[str] = deque()  # converted in the order reached (entry numbers in order)
        for root in roots:
            self.entry(root)
        while self._pending:
            ptr = self._pending.popleft()
            name = self.ids[ptr]
            self.defs[name] = self._convert(walk_pointer(spec.doc, ptr), ptr, f"/$defs/{name}")
        self.everything = self._compile()
        self.problems = [problem for _, _, problem in sorted(self._ranked, key=lambda ranked: ranked[:2])]

    # -- building ------------------------------------------------------------------------------

    def entry(self, ptr: str) -> str:
        """The entry name of the schema at bundle pointer ptr (queued for conversion if new)."""
        name = self.ids.get(ptr)
        if name is None:
            name = self.ids[ptr] = f"s{len(self.ids)}"
            self.origin[name] = ptr
            self._pending.append(ptr)
        return name

    def _ref(self, ref: Any, at: str, cat: str) -> dict[str, str]:
        """{"$ref": the entry}; {} (and a problem) for a $ref that is not a reference (the bundler
        made every string $ref internal: `#/...`)."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            self._problem(_entry_of(cat), at, f"a $ref is a reference (a string), got {_kind(ref)}")
            return {}
        return {"$ref": f"#/$defs/{self.entry(_canonical(ref[1:]))}"}

    def _convert(self, node: Any, at: str, cat: str) -> Any:
        """The schema node at bundle pointer `at`, converted to sit at `cat` in the tree."""
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            self._problem(_entry_of(cat), at, f"a schema is an object, got {_kind(node)}")
            return {}  # not a schema: nothing to check
        if self.oas30 and "$ref" in node:
            return self._nullable_wrap(self._ref(node["$ref"], f"{at}/$ref", cat), node, cat)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key.startswith("x-"):
                continue
            sub = f"{at}/{escape(key)}"
            csub = f"{cat}/{escape(key)}"
            if key == "$ref":
                out.update(self._ref(value, sub, cat))
            elif key in _ONE and isinstance(value, (dict, bool)):
                out[key] = self._convert(value, sub, csub)
            elif key in _LIST and isinstance(value, list):
                out[key] = [self._convert(v, f"{sub}/{i}", f"{csub}/{i}") for i, v in enumerate(value)]
            elif key in _MAP and isinstance(value, dict):
                out[key] = {k: self._convert(v, f"{sub}/{escape(str(k))}", f"{csub}/{escape(str(k))}")
                            for k, v in value.items()}
            elif key == "pattern" and isinstance(value, str) and _too_big_for_rust(value):
                out[PATTERN] = value  # checked by Python's re instead (_PythonPattern)
                self.renamed[f"{cat}/{PATTERN}"] = sub
            else:
                out[key] = value
        if self.oas30:
            _exclusive_bounds(out)
            self._discriminated(out, node, at, cat)
        self._int_bounds(out, at, cat)
        self._not_required(out, node)
        return self._nullable_wrap(out, node, cat) if self.oas30 else out

    def _discriminated(self, out: dict[str, Any], node: dict, at: str, cat: str) -> None:
        """3.0's oneOf/anyOf with a discriminator → an allOf member: an object, with the property,
        of a known value, and for each value (`mapping`'s, then each `$ref` branch's schema name)
        `if` the property is that value `then` that schema."""
        disc = node.get("discriminator")
        keyword = next((k for k in ("oneOf", "anyOf") if isinstance(node.get(k), list)), None)
        if keyword is None or not isinstance(disc, dict) or not isinstance(disc.get("propertyName"), str):
            return
        prop = disc["propertyName"]
        named: dict[str, str] = {}  # discriminator value → the bundle $ref of its schema
        mapping = disc.get("mapping")
        for value, target in (mapping.items() if isinstance(mapping, dict) else ()):
            if isinstance(target, str):
                named[str(value)] = target if target.startswith("#") else f"#/components/schemas/{escape(target)}"
        for branch in node[keyword]:
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if isinstance(ref, str) and ref.startswith("#"):
                named.setdefault(unescape(ref.rsplit("/", 1)[-1]), ref)
        thens, values = [], []
        for value, ref in named.items():
            try:
                walk_pointer(self.spec.doc, _canonical(ref[1:]))
            except (KeyError, IndexError, ValueError):
                continue  # (a mapping to nothing: no value selects it)
            thens.append({"if": {"type": "object", "properties": {prop: {"const": value}}, "required": [prop]},
                          "then": {"$ref": f"#/$defs/{self.entry(_canonical(ref[1:]))}"}})
            values.append(value)
        if not thens:
            return
        del out[keyword]
        members = out.setdefault("allOf", [])
        member = f"{cat}/allOf/{len(members)}"
        members.append({"type": "object", "required": [prop],
                        "properties": {prop: {"enum": values}},
                        "allOf": thens})
        self.renamed[f"{member}/type"] = f"{at}/discriminator"
        self.renamed[f"{member}/required"] = f"{at}/discriminator/propertyName"
        self.renamed[f"{member}/properties/{escape(prop)}/enum"] = f"{at}/discriminator/mapping" \
            if isinstance(mapping, dict) else f"{at}/discriminator"

    def _nullable_wrap(self, out: dict[str, Any], node: dict, cat: str) -> dict[str, Any]:
        """3.0 `nullable: true`: null is valid too (type and enum only name what they list; the
        composites and a $ref would reject null, so they move under `else` of an `if: null`)."""
        if node.get("nullable") is not True:
            return out
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        moved = {key: out.pop(key) for key in (*_COMPOSITES, "$ref") if key in out}
        if moved:
            out["if"] = {"type": "null"}
            out["else"] = moved
            self.wrappers.add(f"{cat}/else")
        return out

    def _int_bounds(self, out: dict[str, Any], at: str, cat: str) -> None:
        """int32/int64 as minimum/maximum (jsonschema-rs checks formats of strings only)."""
        bounds = _INT_BOUNDS.get(out.get("format"))  # type: ignore[arg-type]
        if bounds is None:
            return
        for key, limit, tighter in (("minimum", bounds[0], max), ("maximum", bounds[1], min)):
            current = out.get(key)
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                out[key] = tighter(current, limit)
                if out[key] == limit:
                    self.renamed[f"{cat}/{key}"] = f"{at}/format"
            elif key not in out:  # (a bound that is not a number stays, to be found invalid)
                out[key] = limit
                self.renamed[f"{cat}/{key}"] = f"{at}/format"

    def _not_required(self, out: dict[str, Any], node: dict) -> None:
        """readOnly properties are not required in a request, writeOnly ones not in a response:
        those the schema declares and those its allOf members declare (one member's `required`
        often names what another member declares), taken out of its own `required` and out of
        those of its inline allOf members."""
        hidden = self._hidden_names(node)
        if not hidden:
            return
        holders = [out]
        members, written = out.get("allOf"), node.get("allOf")
        if isinstance(members, list) and isinstance(written, list):
            holders += [member for member, raw in zip(members, written, strict=False)
                        if isinstance(member, dict) and isinstance(raw, dict) and "$ref" not in raw]
        for holder in holders:
            required = holder.get("required")
            if isinstance(required, list):
                kept = [name for name in required if name not in hidden]
                if len(kept) != len(required):
                    holder["required"] = kept

    def _hidden_names(self, node: Any, depth: int = 0) -> frozenset[str]:
        """The names of the properties node declares readOnly (requests) / writeOnly (responses),
        itself, through its $ref and through its allOf members."""
        if not isinstance(node, dict) or depth > 16:
            return frozenset()
        found = self._hidden_cache.get(id(node))
        if found is not None:
            return found
        names: set[str] = set()
        properties = node.get("properties")
        if isinstance(properties, dict):
            names.update(str(name) for name, schema in properties.items() if self._hidden(schema))
        members = node.get("allOf")
        for member in members if isinstance(members, list) else ():
            names.update(self._hidden_names(member, depth + 1))
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            try:
                names.update(self._hidden_names(walk_pointer(self.spec.doc, ref[1:]), depth + 1))
            except KeyError:
                pass
        found = self._hidden_cache[id(node)] = frozenset(names)
        return found

    def _hidden(self, schema: Any) -> bool:
        """The property schema (or what its $ref chain reaches) is readOnly/writeOnly."""
        for _ in range(64):
            if not isinstance(schema, dict):
                return False
            if schema.get(self.hidden) is True:
                return True
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#"):
                return False
            try:
                schema = walk_pointer(self.spec.doc, ref[1:])
            except KeyError:
                return False
        return False

    # -- compiling -----------------------------------------------------------------------------

    def _problem(self, entry: str, ptr: str, message: str) -> None:
        file, _, where = self.spec.where(ptr).partition("#")
        problem = SpecError(file, where, f"not a valid schema: {message}")
        self._ranked.append((int(entry[1:]), len(self._ranked), problem))
        note = f"{file}#{where}: not a valid schema ({message}), not validated"
        if note not in self.spec.notes:  # (each direction, and each compile of it, finds it again)
            self.spec.notes.append(note)

    def _compile(self) -> Any:
        """One validator for the whole tree. jsonschema-rs refuses a tree with a schema that breaks
        its meta-schema or has a bad regex, naming only the first: then every entry is compiled
        alone (its $refs left out), each one refused is replaced by one that accepts anything and
        its problem recorded, and the tree compiled again. (One error at a time would compile the
        whole tree once per invalid schema.) What still fails is taken one error at a time, by
        its path in the tree; with the path not understood, every entry the meta-schema refuses is
        replaced."""
        for attempt in range(len(self.defs) + 2):
            try:
                return self._validator()
            except ValueError as exc:
                if attempt == 0:
                    self._each_alone()
                    continue
                path = [str(t) for t in getattr(exc, "instance_path", ())]
                if len(path) < 2 or path[0] != "$defs" or path[1] not in self.origin or self.defs[path[1]] is True:
                    break
                self._problem(path[1], self.location(path[1], path[2:]), _explained(exc, path))
                self.defs[path[1]] = True
        for name, schema in self.defs.items():
            if not jsonschema_rs.meta.is_valid(schema):
                self._problem(name, self.origin[name], "refused by the JSON Schema meta-schema")
                self.defs[name] = True
        return self._validator()

    def _each_alone(self) -> None:
        for name, schema in self.defs.items():
            if isinstance(schema, bool):
                continue
            try:
                jsonschema_rs.validator_for(_without_refs(schema), validate_formats=True, formats=FORMATS,
                                            keywords=KEYWORDS)
            except ValueError as exc:
                path = ["$defs", name, *(str(t) for t in getattr(exc, "instance_path", ()))]
                self._problem(name, self.location(name, path[2:]), _explained(exc, path))
                self.defs[name] = True

    def _validator(self) -> Any:
        everything = {"$defs": self.defs, "properties": {name: {"$ref": f"#/$defs/{name}"} for name in self.defs}}
        return jsonschema_rs.validator_for(everything, validate_formats=True, formats=FORMATS, keywords=KEYWORDS)

    # -- using ---------------------------------------------------------------------------------

    def validator(self, ptr: str) -> tuple[Entry, str]:
        """The validator of the schema at bundle pointer ptr, and its entry name."""
        name = self.ids[_canonical(ptr)]
        return Entry(self.everything, name), name

    def location(self, entry: str, schema_path: Sequence[str | int]) -> str:
        """The bundle pointer of the keyword at schema_path, as jsonschema-rs reports it: relative
        to the validated entry, or absolute (`$defs/s7/...`) once a $ref was followed."""
        if len(schema_path) >= 2 and schema_path[0] == "$defs" and str(schema_path[1]) in self.origin:
            entry, schema_path = str(schema_path[1]), schema_path[2:]
        converted = f"/$defs/{entry}"
        original = self.origin.get(entry, "")
        for token in schema_path:
            part = "/" + escape(str(token))
            converted += part
            if converted not in self.wrappers:
                original += part
        return self.renamed.get(converted, original)


class Entry:
    """The compiled tree seen as the validator of one entry: a value is checked as `{entry: value}`
    (each error's instance_path then starts with the entry's name; its schema_path, through the
    `$ref` to the entry, is absolute: `$defs/<entry>/...`)."""

    __slots__ = ("name", "everything", "is_valid")

    def __init__(self, everything: Any, name: str):
        self.name, self.everything = name, everything
        check = everything.is_valid
        self.is_valid: Callable[[Any], bool] = lambda value: check({name: value})

    def iter_errors(self, value: Any) -> Any:
        return self.everything.iter_errors({self.name: value})


def _entry_of(cat: str) -> str:
    """The entry a pointer in the converted tree is in: /$defs/s3/properties/a → s3."""
    return cat.split("/", 3)[2]


def _without_refs(node: Any) -> Any:
    """A converted schema with its `$ref`s left out, to compile it alone (the references are
    entries of their own, compiled alone too)."""
    if isinstance(node, list):
        return [_without_refs(item) for item in node]
    if isinstance(node, dict):
        return {key: _without_refs(value) for key, value in node.items() if key != "$ref"}
    return node


def _kind(node: Any) -> str:
    return "null" if node is None else f"{type(node).__name__} {node!r}"[:60]


def _explained(error: Any, path: list[str]) -> str:
    """Why jsonschema-rs refused a schema, as one clause: `type: "strin" is not a type ...`."""
    keyword = path[-1] if len(path) > 2 else "schema"
    value = getattr(error, "instance", None)
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    message = str(getattr(error, "message", error)).split("\n", 1)[0]
    if message.endswith('is not a "regex"'):
        return f"{keyword} {shown} is not a regular expression"
    if keyword == "type":
        return f"type {shown} is not a type (string, number, integer, boolean, array, object, null)"
    return f"{keyword}: {message}"


def _canonical(ptr: str) -> str:
    """A pointer as the bundle's keys spell it (a $ref may percent-encode: ~1pets~1%7Bid%7D)."""
    if "%" not in ptr:
        return ptr
    from urllib.parse import unquote

    return unquote(ptr)


def _exclusive_bounds(out: dict[str, Any]) -> None:
    """3.0's boolean exclusiveMinimum/Maximum → 2020-12's numeric ones."""
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(flag)
        if isinstance(value, bool):
            del out[flag]
            if value and bound in out:
                out[flag] = out.pop(bound)


# -- one per spec and direction ----------------------------------------------------------------

def compiled(spec: Spec, direction: str, roots: Callable[[], list[str]]) -> Compiled:
    """The spec's compiled schemas for direction (REQUEST or RESPONSE), built on first use from
    roots() (the bundle pointer of every schema that direction validates) and kept with the spec:
    the check at load compiles them, every validator then uses them."""
    found = spec.compiled.get(direction)
    if found is None:
        found = spec.compiled[direction] = Compiled(spec, direction, roots())
    return found
