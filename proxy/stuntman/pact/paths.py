"""Pact's path expressions, and the weighting that says which rule applies to a value.

A rule is keyed by an expression (`$.items[*].id`, `$.a.*`, `$['a b']`, `$.x[0]`); a value in a
body is at a path of fragments (`$`, `items`, `0`, `id`). The specification (v2 §"Matching rules",
v3 §"Matcher path expressions") weighs each rule against the value's path: the root and a
matching name or index count 2, a star 1, anything else 0, multiplied; a rule no longer than the
path applies to it and to everything below it (rules cascade), and the largest weight wins.
Equal weights go to the deeper rule (the reference implementation multiplies the weight by the
depth, which agrees wherever the specification decides, and decides these ties the same way).
"""
from __future__ import annotations

from collections.abc import Sequence

# (kind, value): ("root", ""), ("field", name), ("index", n), ("star", ""), ("star_index", "")
Token = tuple[str, str | int]
ROOT: Token = ("root", "")
_IDENT_EXTRA = frozenset("_-:#@")


class PathError(ValueError):
    pass


def parse(expression: str) -> tuple[Token, ...]:
    """The tokens of a path expression; PathError naming the position for one that is not one.
    An expression that starts with a name has an implied `$.` (`a.b` is `$.a.b`); `""` is the
    empty path (the path and status categories)."""
    text = expression.strip()
    if text == "":
        return ()
    tokens: list[Token] = [ROOT]
    i, n = 0, len(text)
    if text[0] == "$":
        i = 1
    elif _ident(text[0]):
        text, n = "." + text, n + 1  # (the implied $)
    else:
        raise PathError(f"{expression!r}: a path starts with '$' or a name")
    while i < n:
        c = text[i]
        if c == ".":
            i += 1
            if i < n and text[i] == "*":
                tokens.append(("star", ""))
                i += 1
                continue
            start = i
            while i < n and _ident(text[i]):
                i += 1
            if i == start:
                raise PathError(f"{expression!r}: a name is expected after '.' at {start}")
            tokens.append(("field", text[start:i]))
        elif c == "[":
            end = text.find("]", i)
            if end < 0:
                raise PathError(f"{expression!r}: '[' at {i} is not closed")
            inside = text[i + 1:end].strip()
            if inside == "*":
                tokens.append(("star_index", ""))
            elif inside.isdigit():
                tokens.append(("index", int(inside)))
            elif len(inside) >= 2 and inside[0] == inside[-1] and inside[0] in "'\"":
                name = inside[1:-1]
                if not name:
                    raise PathError(f"{expression!r}: an empty name in brackets at {i}")
                tokens.append(("field", name))
            else:
                raise PathError(f"{expression!r}: expected a number, '*' or a quoted name in brackets at {i}")
            i = end + 1
        else:
            raise PathError(f"{expression!r}: unexpected {c!r} at {i}")
    return tuple(tokens)


def _ident(c: str) -> bool:
    return c.isalnum() or c in _IDENT_EXTRA


def weight(tokens: Sequence[Token], fragments: Sequence[str]) -> int:
    """How well a rule's path fits the path of a value (0: it does not apply to it)."""
    if len(tokens) > len(fragments):
        return 0
    w = 1
    for (kind, value), fragment in zip(tokens, fragments, strict=False):
        if kind == "field":
            if fragment != value:
                return 0
            w *= 2
        elif kind == "index":
            if not fragment.isdigit() or int(fragment) != value:
                return 0
            w *= 2
        elif kind == "root":
            if fragment != "$":
                return 0
            w *= 2
        elif kind == "star_index" and not fragment.isdigit():
            return 0
        # ("star": any name or index, weight 1)
    return w


def show(fragments: Sequence[str]) -> str:
    """A value's path as people write it: $.items[0].id, $['a b']."""
    out = ""
    for fragment in fragments:
        if fragment == "$" and not out:
            out = "$"
        elif fragment.isdigit():
            out += f"[{fragment}]"
        elif fragment and all(_ident(c) for c in fragment):
            out += f".{fragment}"
        else:
            out += f"['{fragment}']"
    return out
