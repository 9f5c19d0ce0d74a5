"""Strings a regular expression fully matches, for the Regex generator: made from Python's own
parse of the regex (`regex_tree`, at load; ValueError for one it cannot use or whose strings could
be too long), drawn with a seeded random per answer (`emit`). See stuntman.pact.generate for the
rules (repeats, classes, what is refused) and why no library does it."""
from __future__ import annotations

import functools
import importlib
import random
import re
import warnings
from typing import Any

# -- strings from a regular expression ----------------------------------------------------------------

_sre: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (re has no public one)
_REPEAT_SPREAD = 20    # a repeat runs min..min+20 times (Rust's rand_regex max_repeat)
_MAX_LENGTH = 10_000   # the longest string a Regex generator may make
_PRINTABLE = ((0x20, 0x7E),)
_WIDER = ((0xA1, 0x24F),)  # Latin-1 and Latin Extended, for a negated class that excludes all of ASCII
_CATEGORIES: dict[str, tuple[tuple[int, int], ...]] = {
    "CATEGORY_DIGIT": ((0x30, 0x39),),
    "CATEGORY_WORD": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "CATEGORY_SPACE": ((0x09, 0x0D), (0x20, 0x20)),
}


def _subtract(universe: tuple[tuple[int, int], ...], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = list(universe)
    for low, high in ranges:
        out = [piece for a, b in out for piece in ((a, min(b, low - 1)), (max(a, high + 1), b)) if piece[0] <= piece[1]]
    return out


for _name, _ranges in list(_CATEGORIES.items()):
    _CATEGORIES[_name.replace("CATEGORY_", "CATEGORY_NOT_")] = tuple(_subtract(_PRINTABLE, list(_ranges)))


def _from_java(regex: str) -> str:
    """Java/PCRE spellings Python reads differently: (?<name>...), \\k<name>, \\z."""
    regex = re.sub(r"(?<!\\)\(\?<(?![=!])", "(?P<", regex)
    regex = re.sub(r"\\k<(\w+)>", r"(?P=\1)", regex)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", regex)


@functools.lru_cache(maxsize=256)
def regex_tree(regex: str) -> Any:
    """The regex's parse, checked: readable, no look-around or conditional, and no match longer
    than the limit; ValueError otherwise."""
    try:
        with warnings.catch_warnings():  # (FutureWarning: "possible nested set", for `[[` in a class)
            warnings.simplefilter("ignore")
            tree = _sre.parse(_from_java(regex))
        longest = _longest(tree, {})
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"Regex generator: 'regex' {regex!r} is not a regular expression it can use: "
                             f"{exc}") from None
    except ValueError as exc:
        raise ValueError(f"Regex generator: 'regex' {regex!r}: {exc}") from None
    if longest > _MAX_LENGTH:
        raise ValueError(f"Regex generator: 'regex' {regex!r} makes strings of up to {longest} characters "
                             f"(the limit is {_MAX_LENGTH})")
    return tree


def _top(low: int, high: int) -> int:
    return min(high, low + _REPEAT_SPREAD)


def _longest(seq: Any, groups: dict[int, int]) -> int:
    """The longest string `emit` can make from seq (so a huge one is refused before it is made)."""
    total = 0
    for op, av in seq:
        name = str(op)
        if name in ("LITERAL", "ANY"):
            total += 1
        elif name in ("NOT_LITERAL", "IN"):
            _class_ranges(_class_key(name, av))  # (refuses a class with nothing to draw from)
            total += 1
        elif name == "SUBPATTERN":
            size = _longest(av[3], groups)
            if av[0] is not None:
                groups[av[0]] = size
            total += size
        elif name == "ATOMIC_GROUP":
            total += _longest(av, groups)
        elif name == "BRANCH":
            total += max(_longest(branch, groups) for branch in av[1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            total += _top(av[0], av[1]) * _longest(av[2], groups)
        elif name == "GROUPREF":
            total += groups.get(av, 0)
        elif name in ("ASSERT", "ASSERT_NOT"):
            raise ValueError("look-around ((?=...), (?!...), (?<=...)) is not supported")
        elif name == "GROUPREF_EXISTS":
            raise ValueError("conditional groups ((?(1)...)) are not supported")
        elif name != "AT":
            raise ValueError(f"{name} is not supported")
        if total > _MAX_LENGTH:
            return total
    return total


def _class_key(name: str, av: Any) -> tuple:
    """A class (or a negated literal) as a hashable key of (item kind, value)."""
    if name == "NOT_LITERAL":
        return (("NEGATE", None), ("LITERAL", av))
    return tuple((str(op), str(value) if str(op) == "CATEGORY" else value) for op, value in av)


@functools.lru_cache(maxsize=1024)
def _class_ranges(items: tuple) -> tuple[tuple[int, int], ...]:
    """The code point ranges a class ([a-z_], [^/], \\d) draws from: its own, or for a negated
    class printable ASCII (else Latin) less its ranges; never a surrogate."""
    negate = False
    ranges: list[tuple[int, int]] = []
    for name, av in items:
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            ranges.append((av, av))
        elif name == "RANGE":
            ranges.append(av)
        elif name == "CATEGORY" and av in _CATEGORIES:
            ranges.extend(_CATEGORIES[av])
        else:
            raise ValueError(f"{name} {av} in a character class is not supported")
    if negate:
        out = _subtract(_PRINTABLE, ranges) or _subtract(_WIDER, ranges)
    else:
        out = _subtract(tuple(ranges), [(0xD800, 0xDFFF)])
    if not out:
        raise ValueError("a character class matches no character it can write")
    return tuple(out)


def _draw(ranges: tuple[tuple[int, int], ...], rng: random.Random) -> str:
    pick = rng.randrange(sum(high - low + 1 for low, high in ranges))
    for low, high in ranges:
        if pick <= high - low:
            return chr(low + pick)
        pick -= high - low + 1
    raise AssertionError("unreachable")


def emit(seq: Any, rng: random.Random, groups: dict[int, str], out: list[str]) -> None:
    """Append a string seq matches (anchors and \\b make nothing)."""
    for op, av in seq:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name in ("NOT_LITERAL", "IN"):
            out.append(_draw(_class_ranges(_class_key(name, av)), rng))
        elif name == "ANY":
            out.append(_draw(_PRINTABLE, rng))
        elif name == "SUBPATTERN":
            inner: list[str] = []
            emit(av[3], rng, groups, inner)
            if av[0] is not None:
                groups[av[0]] = "".join(inner)
            out.extend(inner)
        elif name == "ATOMIC_GROUP":
            emit(av, rng, groups, out)
        elif name == "BRANCH":
            emit(rng.choice(av[1]), rng, groups, out)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            for _ in range(rng.randint(av[0], _top(av[0], av[1]))):
                emit(av[2], rng, groups, out)
        elif name == "GROUPREF":
            out.append(groups.get(av, ""))
