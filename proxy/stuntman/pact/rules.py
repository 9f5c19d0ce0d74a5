"""Matching rules as a pact file writes them, parsed once: v2's flat map keyed by `$.body.x`,
`$.headers.X`, `$.query.y`, `$.path`, and v3/v4's categories (`body`, `header`, `query`, `path`,
`status`) each holding `{combine: AND|OR, matchers: [...]}`.

`Rules.at(category, fragments)` is the rule list that applies to a value: for bodies the heaviest
path (stuntman.pact.paths), for a header or query parameter its name, for the path and status the
category's one list. Problems are PactError-shaped: (JSON pointer, message).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .paths import PathError, Token, parse, weight

SEEN_PATHS = 4096  # body paths whose rule each side remembers
CATEGORIES = ("body", "header", "query", "path", "status", "content", "metadata")
_ALIASES = {"headers": "header", "contents": "content", "bodies": "body"}

# the matcher types, by their names in files (several spellings) → one kind
KINDS = {
    "equality": "equality", "regex": "regex", "type": "type", "min": "type", "max": "type",
    "min-type": "type", "max-type": "type", "minType": "type", "maxType": "type",
    "include": "include", "integer": "integer", "decimal": "decimal", "real": "decimal", "number": "number",
    "timestamp": "datetime", "datetime": "datetime", "date": "date", "time": "time",
    "null": "null", "boolean": "boolean", "contentType": "contentType", "content-type": "contentType",
    "values": "values", "arrayContains": "arrayContains", "array-contains": "arrayContains",
    "statusCode": "statusCode", "status-code": "statusCode", "notEmpty": "notEmpty", "not-empty": "notEmpty",
    "semver": "semver", "eachKey": "eachKey", "each-key": "eachKey", "eachValue": "eachValue",
    "each-value": "eachValue",
}


class RuleError(ValueError):
    """A rule that cannot be read: where (a JSON pointer below the rules) and why."""

    def __init__(self, pointer: str, message: str):
        super().__init__(message)
        self.pointer, self.message = pointer, message


@dataclass(frozen=True)
class Matcher:
    kind: str                      # one of KINDS' values
    params: dict[str, Any]         # the matcher object as written (regex, min, max, format, value, ...)
    compiled: Any = None           # what the kind needs ready: a regex, a date pattern, nested rules

    @property
    def min(self) -> int | None:
        return _count(self.params.get("min"))

    @property
    def max(self) -> int | None:
        return _count(self.params.get("max"))


_CONTAINER_KINDS = frozenset(("values", "eachKey", "eachValue", "arrayContains"))


@dataclass(frozen=True)
class RuleList:
    matchers: tuple[Matcher, ...]
    combine: str = "AND"           # AND: every matcher holds; OR: one does
    path: str = ""                 # the expression it was keyed by, for messages
    kinds: frozenset[str] = field(default=frozenset(), compare=False)
    containers: bool = field(default=False, compare=False)  # one of its matchers frees a map's keys or an array

    def __post_init__(self) -> None:
        kinds = frozenset(m.kind for m in self.matchers)
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "containers", bool(kinds & _CONTAINER_KINDS))

    @property
    def relaxes(self) -> bool:
        """It loosens what is compared (anything but plain equality)."""
        return any(m.kind != "equality" for m in self.matchers)


@dataclass
class Rules:
    """One side's rules (a request's or a response's), by category."""

    body: list[tuple[tuple[Token, ...], RuleList]] = field(default_factory=list)
    header: dict[str, RuleList] = field(default_factory=dict)   # lower-case name → rules
    query: dict[str, RuleList] = field(default_factory=dict)
    path: RuleList | None = None
    status: RuleList | None = None
    # fragments → at()'s answer: bodies of one shape ask for the same paths request after request
    _seen: dict[tuple[str, ...], tuple[RuleList, bool] | None] = field(default_factory=dict, repr=False,
                                                                       compare=False)

    def __bool__(self) -> bool:
        return bool(self.body or self.header or self.query or self.path or self.status)

    def at(self, fragments: Sequence[str]) -> tuple[RuleList, bool] | None:
        """The body rules for the value at fragments, and whether they are inherited (cascaded
        from an ancestor's path rather than written for this one); None if no rule applies.
        Remembered per path (bounded: the rules never change, the paths a peer sends are many)."""
        key = fragments if type(fragments) is tuple else tuple(fragments)
        try:
            return self._seen[key]
        except KeyError:
            pass
        best: tuple[int, int, RuleList] | None = None
        for tokens, rules in self.body:
            w = weight(tokens, key)
            if w and (best is None or (w, len(tokens)) > best[:2]):
                best = (w, len(tokens), rules)
        found = None if best is None else (best[2], best[1] != len(key))
        if len(self._seen) >= SEEN_PATHS:
            self._seen.clear()
        self._seen[key] = found
        return found

    def count(self) -> tuple[int, int]:
        """(rules that relax a comparison, of them regex rules): how loose this side is."""
        lists = [r for _, r in self.body] + list(self.header.values()) + list(self.query.values()) + \
            [r for r in (self.path, self.status) if r is not None]
        relaxed = sum(1 for r in lists if r.relaxes)
        regex = sum(1 for r in lists for m in r.matchers if m.kind == "regex")
        return relaxed, regex


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_rules(raw: Any, pointer: str, compile_matcher) -> Rules:
    """A `matchingRules` object (v2 flat or v3/v4 by category) → Rules. compile_matcher(kind,
    params, pointer) readies one matcher (stuntman.pact.matchers.compile) and raises RuleError."""
    rules = Rules()
    if raw is None:
        return rules
    if not isinstance(raw, dict):
        raise RuleError(pointer, f"matchingRules must be an object, not {type(raw).__name__}")
    if raw and all(isinstance(k, str) and k.startswith("$") for k in raw):
        _flat(raw, pointer, rules, compile_matcher)
        return rules
    for name, entries in raw.items():
        category = _ALIASES.get(str(name).lower(), str(name).lower())
        at = f"{pointer}/{_escape(name)}"
        if category not in CATEGORIES:
            raise RuleError(at, f"unknown matching rule category {name!r} (one of {', '.join(CATEGORIES[:5])})")
        if category in ("path", "status"):
            setattr(rules, category, _rule_list(entries, at, "", compile_matcher))
            continue
        if not isinstance(entries, dict):
            raise RuleError(at, f"the {category} rules must be an object of paths or names")
        for key, entry in entries.items():
            _add(rules, category, str(key), _rule_list(entry, f"{at}/{_escape(key)}", str(key), compile_matcher),
                 f"{at}/{_escape(key)}")
    return rules


def _flat(raw: dict, pointer: str, rules: Rules, compile_matcher) -> None:
    """v2: `$.body.a`, `$.body`, `$.headers.Name`, `$.headers['a.b']`, `$.query.q[0]`, `$.path`."""
    for key, entry in raw.items():
        at = f"{pointer}/{_escape(key)}"
        try:
            tokens = parse(key)
        except PathError as exc:
            raise RuleError(at, str(exc)) from None
        if len(tokens) < 2 or tokens[1][0] != "field":
            raise RuleError(at, f"{key!r}: a v2 rule path starts $.body, $.headers, $.query or $.path")
        part = str(tokens[1][1]).lower()
        matchers = _rule_list({"matchers": [entry]} if isinstance(entry, dict) else entry, at, key, compile_matcher)
        if part == "body":
            rules.body.append(((tokens[0], *tokens[2:]), matchers))
        elif part in ("headers", "header", "query") and len(tokens) >= 3 and tokens[2][0] == "field":
            _add(rules, "header" if part.startswith("header") else "query", str(tokens[2][1]), matchers, at)
        elif part == "path" and len(tokens) == 2:
            rules.path = matchers
        elif part == "status" and len(tokens) == 2:
            rules.status = matchers
        else:
            raise RuleError(at, f"{key!r}: a v2 rule path starts $.body, $.headers.NAME, $.query.NAME or $.path")


def _add(rules: Rules, category: str, key: str, matchers: RuleList, at: str) -> None:
    if category in ("body", "content"):
        try:
            tokens = parse(key)
        except PathError as exc:
            raise RuleError(at, str(exc)) from None
        rules.body.append((tokens, matchers))
    elif category in ("header", "query"):
        name = key[2:] if key.startswith("$.") else key  # (`$.name` is also written)
        name = name.split("[", 1)[0] if name.endswith("]") and "['" not in name else name
        table = rules.header if category == "header" else rules.query
        table[name.lower() if category == "header" else name] = matchers
    # (metadata: message pacts, which are listed, not served)


def _rule_list(entry: Any, at: str, path: str, compile_matcher) -> RuleList:
    if not isinstance(entry, dict):
        raise RuleError(at, "a rule is an object {combine, matchers: [...]}")
    raw = entry.get("matchers")
    if raw is None and ("match" in entry or "regex" in entry or "min" in entry or "max" in entry):
        raw = [entry]  # (a bare matcher where a list is expected: read as a list of one)
    if not isinstance(raw, list) or not raw:
        raise RuleError(at, "a rule needs a non-empty list of matchers")
    combine = str(entry.get("combine", "AND")).upper()
    if combine not in ("AND", "OR"):
        raise RuleError(f"{at}/combine", f"combine is AND or OR, not {entry.get('combine')!r}")
    matchers = []
    for i, m in enumerate(raw):
        where = f"{at}/matchers/{i}" if "matchers" in entry else at
        if not isinstance(m, dict):
            raise RuleError(where, "a matcher is an object with a `match` type")
        matchers.append(matcher_of(m, where, compile_matcher))
    return RuleList(tuple(matchers), combine, path)


def matcher_of(m: dict, where: str, compile_matcher) -> Matcher:
    """One matcher object → Matcher; v2's shorthands read as the specification says: a `regex`
    key is a regex matcher, `min`/`max` alone a type matcher with that bound."""
    name = m.get("match", m.get("pact:matcher:type"))
    if name is None:
        if "regex" in m:
            name = "regex"
        elif "min" in m or "max" in m:
            name = "type"
        elif any(k in m for k in ("timestamp", "date", "time")):
            name = next(k for k in ("timestamp", "date", "time") if k in m)
        else:
            raise RuleError(where, "a matcher needs `match` (its type)")
    kind = KINDS.get(str(name))
    if kind is None:
        raise RuleError(f"{where}/match", f"unknown matcher type {name!r}")
    return Matcher(kind, m, compile_matcher(kind, m, where))


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
