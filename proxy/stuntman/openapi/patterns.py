"""The `pattern` keyword as the validators read it: whether a pattern finds a text (`search`), and
a string it finds within length limits (`regex_string`), for the generator (generate.py) and the
checker of what it makes (conform.py).

A pattern is ECMA-262 syntax, as the validators (jsonschema-rs) read it. `search` decides with
jsonschema-rs too (linear time: a spec's pattern that backtracks catastrophically in Python's re
cannot hang generation), and with Python's re only for a pattern that engine refuses. Strings are
made from the stdlib's own parse of the pattern (the ECMA spellings Python lacks rewritten first:
named groups, and \\p{..} classes as a subset of their characters): `_RegexMaker` walks it,
choosing repetitions and branches so the string is about a target length, and the result is
checked with `search`; a pattern neither reading parses raises `PatternError`.

It aims at a length and a search, not a full match, so it is not stuntman.pact.regexgen (a Pact
Regex generator's strings fully match, repeats run min..min+20, look-arounds are refused): the two
share the way (walking `re._parser`'s tree), not the rules.
"""
from __future__ import annotations

import importlib
import random
import re
import string
import warnings
from functools import lru_cache
from typing import Any


class PatternError(Exception):
    """A pattern this module cannot read (neither as written nor with its ECMA spellings rewritten)."""


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


def search(pattern: str, text: str) -> bool:
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


def regex_string(pattern: str, lowest: int, highest: int | None, rng: random.Random) -> str:
    """A string the pattern finds (re.search) whose length is within the limits (the caller checks
    it: a pattern whose matches cannot have that length makes one that does not fit); PatternError
    when the pattern cannot be read."""
    tree = _parsed(pattern)
    if tree is None:
        raise PatternError(f"pattern {pattern!r} is not a regular expression this generator reads")
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
        if lowest <= len(text) <= (highest if highest is not None else len(text)) and search(pattern, text):
            return text
    return text  # the caller checks it (and reports what does not fit)


def _pad(pattern: str, text: str, lowest: int) -> str:
    filler = "x" * (lowest - len(text))
    for candidate in (text + filler, filler + text, text + " " * len(filler)):
        if search(pattern, candidate):
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
