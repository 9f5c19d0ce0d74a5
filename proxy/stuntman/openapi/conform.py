"""Whether a generated value fits its schema: `Checker`, a small validator of the keywords the
generator reads, in OpenAPI's reading (`nullable` in 3.0, readOnly/writeOnly per direction, a
discriminator choosing the oneOf/anyOf branch; formats and patterns decided as the validators
decide them). generate.py asks it about an example or enum value before using it, a oneOf value
(it must match one branch only), a value made for `not`, and every value before returning it
(one that does not fit is made again from another seed). It is not validate.py: it answers yes
or no, fast, for values the generator made, and names no violation.
"""
from __future__ import annotations

from typing import Any

from .document import escape, walk_pointer
from .formats import format_ok
from .keywords import (
    INT32,
    INT64,
    NOTHING,
    as_dict,
    as_int,
    as_list,
    canonical,
    is_multiple,
    number_or_none,
    part_bounds,
    type_list,
)
from .patterns import search

_CACHE_LIMIT = 20_000  # enums whose canonical values are kept (a spec has fewer)


class Checker:
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
        kinds = type_list(s)
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
        key = canonical(v)
        if "const" in s and canonical(s["const"]) != key:
            return False
        enum = s.get("enum")
        if not isinstance(enum, list):
            return True
        found = self._enums.get(id(enum))
        if found is None or found[0] is not enum:  # each enum's values read once (Stripe's run to hundreds)
            if len(self._enums) >= _CACHE_LIMIT:  # (enums of schemas made per call by a caller)
                self._enums.clear()
            found = self._enums[id(enum)] = (enum, frozenset(canonical(e) for e in enum))
        return key in found[1]

    def _number_ok(self, v: Any, s: dict) -> bool:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return True
        for bound in part_bounds(s, "minimum", "exclusiveMinimum"):
            if v < bound[0] or (bound[1] and v == bound[0]):
                return False
        for bound in part_bounds(s, "maximum", "exclusiveMaximum"):
            if v > bound[0] or (bound[1] and v == bound[0]):
                return False
        step = number_or_none(s.get("multipleOf"))
        if step and not is_multiple(v, step):
            return False
        fmt = s.get("format")
        if isinstance(v, int) and fmt in ("int32", "int64"):
            low, high = INT32 if fmt == "int32" else INT64
            return low <= v <= high
        return True

    def _string_ok(self, v: Any, s: dict) -> bool:
        if not isinstance(v, str):
            return True
        low, high = as_int(s.get("minLength")), as_int(s.get("maxLength"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        if isinstance(s.get("pattern"), str) and not search(s["pattern"], v):
            return False
        return not isinstance(s.get("format"), str) or format_ok(s["format"], v)

    def _array_ok(self, v: Any, s: dict, d: str, depth: int) -> bool:
        if not isinstance(v, list):
            return True
        low, high = as_int(s.get("minItems")), as_int(s.get("maxItems"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        if s.get("uniqueItems") is True and len({canonical(x) for x in v}) != len(v):
            return False
        items = s.get("items")
        prefix: list = as_list(s.get("prefixItems")) or as_list(items)
        rest = s.get("additionalItems") if isinstance(items, list) else items
        for i, item in enumerate(v):
            sub = prefix[i] if i < len(prefix) else rest
            if sub is not None and not self._ok(item, sub, d, depth + 1):
                return False
        if "contains" in s:
            found = sum(1 for x in v if self._ok(x, s["contains"], d, depth + 1))
            least = as_int(s.get("minContains"))
            most = as_int(s.get("maxContains"))
            if found < (least if least is not None else 1) or most is not None and found > most:
                return False
        return True

    def _object_ok(self, v: Any, s: dict, d: str, depth: int) -> bool:
        if not isinstance(v, dict):
            return True
        low, high = as_int(s.get("minProperties")), as_int(s.get("maxProperties"))
        if low is not None and len(v) < low or high is not None and len(v) > high:
            return False
        props = as_dict(s.get("properties"))
        hidden_flag = "readOnly" if d == "request" else "writeOnly"
        for key in as_list(s.get("required")):
            if key not in v and not (key in props and self._flag(props[key], hidden_flag)):
                return False
        patterns = as_dict(s.get("patternProperties"))
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
                if search(pat, key):
                    matched = True
                    if not self._ok(item, sub, d, depth + 1):
                        return False
            if not matched and extra is not True and not self._ok(item, extra, d, depth + 1):
                return False
        for key, needed in as_dict(s.get("dependentRequired")).items():
            if key in v and any(n not in v for n in as_list(needed)):
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
        if not all(self._ok(v, b, d, depth + 1) for b in as_list(s.get("allOf"))):
            return False
        if "anyOf" in s and not self._any_of(v, s, d, depth):
            return False
        if "oneOf" in s and not self._one_of(v, s, d, depth):
            return False
        return not ("not" in s and self._ok(v, s["not"], d, depth + 1))

    def _any_of(self, v: Any, s: dict, d: str, depth: int) -> bool:
        chosen = self._discriminated(v, s, "anyOf")
        if chosen is not NOTHING:
            if chosen is None or not self._ok(v, chosen, d, depth + 1):
                return False
            if not self.oas31:
                return True
        return any(self._ok(v, b, d, depth + 1) for b in as_list(s["anyOf"]))

    def _one_of(self, v: Any, s: dict, d: str, depth: int) -> bool:
        """3.0: with a discriminator, the branch it names validates the value (other branches may
        too); 3.1, where the discriminator is an annotation, also exactly one branch matches."""
        chosen = self._discriminated(v, s, "oneOf")
        if chosen is not NOTHING:
            if chosen is None or not self._ok(v, chosen, d, depth + 1):
                return False
            if not self.oas31:
                return True
        return sum(1 for b in as_list(s["oneOf"]) if self._ok(v, b, d, depth + 1)) == 1

    def _discriminated(self, v: Any, s: dict, keyword: str) -> Any:
        """The branch a discriminator names ({"$ref": ...}), None when it names none, NOTHING
        when there is no discriminator (plain oneOf/anyOf rules apply)."""
        disc = s.get("discriminator")
        if not isinstance(disc, dict) or not isinstance(disc.get("propertyName"), str):
            return NOTHING
        if not isinstance(v, dict) or not isinstance(v.get(disc["propertyName"]), str):
            return None
        name = v[disc["propertyName"]]
        target = as_dict(disc.get("mapping")).get(name)
        if isinstance(target, str):
            return {"$ref": target if target.startswith("#") else f"#/components/schemas/{target}"}
        for branch in as_list(s.get(keyword)):
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if isinstance(ref, str) and ref.rsplit("/", 1)[-1] == name:
                return branch
        implicit = as_dict(as_dict(self.doc.get("components")).get("schemas")).get(name)
        return {"$ref": f"#/components/schemas/{escape(name)}"} if implicit is not None else None
