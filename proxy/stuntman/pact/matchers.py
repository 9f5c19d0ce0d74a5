"""What each Pact matcher checks of one value (v2: regex, type, min, max; v3: equality, include,
integer, decimal, number, datetime, date, time, null, boolean, contentType, values; v4: statusCode,
notEmpty, semver, eachKey, eachValue, arrayContains), readied once at load (`compile`).

Values are JSON values as json.loads gives them (a query parameter, a header or the path are
strings). Pact tells numbers apart from the JSON text: 1 and 1.0 are different values, a number is
never a string, and true is not 1 (`json_equal`, `json_type`).

Regexes must match the whole value (the reference implementation's Oniguruma `is_match` on an
anchored pattern). They run on RE2 (linear time: a pact's regex meets values from the network);
one RE2 cannot run (a lookaround or a backreference, which Pact's Ruby and Rust engines allow) runs
on the `regex` module with a time limit, and a value it cannot decide within it does not match.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..match.matchers import user_regex, utf8
from .rules import Matcher, RuleError, matcher_of

REGEX_TIMEOUT_S = 0.05  # the most one backtracking regex may take on one value
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
                     r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
_INTEGER = re.compile(r"[0-9]+")
_STATUS_CLASSES = {
    "info": range(100, 200), "information": range(100, 200), "success": range(200, 300),
    "redirect": range(300, 400), "clientError": range(400, 500), "serverError": range(500, 600),
    "nonError": range(100, 400), "error": range(400, 600),
}


@dataclass(frozen=True)
class Pattern:
    """A compiled Pact regex: RE2 when it can, else the `regex` module with a time limit."""

    source: str
    re2: Any
    fallback: Any

    def fullmatch(self, text: str) -> bool:
        if self.re2 is not None:
            return self.re2.fullmatch(utf8(text)) is not None
        try:
            return self.fallback.fullmatch(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            return False


def compile_pattern(source: str, where: str) -> Pattern:
    try:
        return Pattern(source, user_regex(source), None)
    except Exception:  # noqa: BLE001 - RE2 refuses lookarounds and backreferences: try the other engine
        pass
    import regex

    try:
        return Pattern(source, None, regex.compile(source))
    except regex.error as exc:
        raise RuleError(f"{where}/regex", f"not a regular expression: {source!r} ({exc})") from None


def compile(kind: str, params: dict, where: str) -> Any:  # noqa: A001 - the rules module's name for it
    """What a matcher needs ready, checked now (a bad regex or date format is a load error)."""
    if kind == "regex":
        source = params.get("regex")
        if not isinstance(source, str):
            raise RuleError(where, "a regex matcher needs `regex`, a string")
        return compile_pattern(source, where)
    if kind in ("datetime", "date", "time"):
        from .javatime import DATE_DEFAULT, DATETIME_DEFAULT, TIME_DEFAULT
        from .javatime import compile_pattern as time_pattern

        fmt = params.get("format", params.get("timestamp" if kind == "datetime" else kind))
        if fmt is None:
            fmt = {"datetime": DATETIME_DEFAULT, "date": DATE_DEFAULT, "time": TIME_DEFAULT}[kind]
        if not isinstance(fmt, str):
            raise RuleError(f"{where}/format", "a date/time format is a string")
        try:
            return fmt, time_pattern(fmt)
        except ValueError as exc:
            raise RuleError(f"{where}/format", f"not a date/time format: {exc}") from None
    if kind == "type":
        for bound in ("min", "max"):
            value = params.get(bound)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))
                                      or not str(value).strip().isdigit()):
                raise RuleError(f"{where}/{bound}", f"{bound} is a whole number, not {value!r}")
        return None
    if kind == "include":
        if not isinstance(params.get("value"), str):
            raise RuleError(where, "an include matcher needs `value`, a string")
        return None
    if kind == "statusCode":
        status = params.get("status", "success")
        if isinstance(status, list):
            try:
                return frozenset(int(s) for s in status)
            except (TypeError, ValueError):
                raise RuleError(f"{where}/status", f"status codes are numbers, not {status!r}") from None
        if status not in _STATUS_CLASSES:
            raise RuleError(f"{where}/status", f"status is one of {', '.join(_STATUS_CLASSES)} or a list of codes")
        return _STATUS_CLASSES[status]
    if kind in ("eachKey", "eachValue"):
        raw = params.get("rules")
        if not isinstance(raw, list) or not raw:
            raise RuleError(where, f"an {kind} matcher needs `rules`, a list of matchers")
        for i, m in enumerate(raw):
            if not isinstance(m, dict):
                raise RuleError(f"{where}/rules/{i}", "a matcher is an object with a `match` type")
        return tuple(matcher_of(m, f"{where}/rules/{i}", compile) for i, m in enumerate(raw))
    if kind == "arrayContains":
        from .rules import parse_rules

        variants = params.get("variants")
        if not isinstance(variants, list):
            raise RuleError(where, "an arrayContains matcher needs `variants`, a list")
        out = []
        for i, variant in enumerate(variants):
            at = f"{where}/variants/{i}"
            if not isinstance(variant, dict) or not isinstance(variant.get("index"), int):
                raise RuleError(at, "a variant is {index, rules}")
            rules = variant.get("rules")
            out.append((variant["index"], parse_rules({"body": rules} if rules else None, f"{at}/rules", compile)))
        return tuple(out)
    if kind == "contentType" and not isinstance(params.get("value"), str):
        raise RuleError(where, "a contentType matcher needs `value`, a media type")
    return None


# -- JSON values as Pact sees them ------------------------------------------------------------

def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values, with 1 ≠ 1.0 and true ≠ 1 (the reference implementation's)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=False))
    return bool(a == b)


def shown(value: Any) -> str:
    """A value in a message, short."""
    text = value if isinstance(value, str) and not isinstance(value, bool) else json.dumps(value, ensure_ascii=False)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= 80 else text[:77] + "..."


def text_of(value: Any) -> str:
    """What a regex or include matcher reads of a value: a string as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# -- one matcher, one value ---------------------------------------------------------------------

def check(m: Matcher, expected: Any, actual: Any, cascaded: bool = False, status: int | None = None) -> str | None:
    """Why actual fails matcher m (expected: the pact's example there); None if it holds.
    Container kinds (values, eachKey, eachValue, arrayContains) are the body comparison's."""
    kind = m.kind
    if kind == "equality":
        return None if json_equal(expected, actual) else f"expected {shown(expected)}, got {shown(actual)}"
    if kind == "regex":
        if actual is None or isinstance(actual, (dict, list)):
            return f"expected a value matching /{m.compiled.source}/, got {shown(actual)}"
        return None if m.compiled.fullmatch(text_of(actual)) else \
            f"expected a value matching /{m.compiled.source}/, got {shown(actual)}"
    if kind == "type":
        if isinstance(expected, str) and isinstance(actual, str) or json_type(expected) == json_type(actual):
            if isinstance(actual, list) and not cascaded:
                low, high = m.min, m.max
                if low is not None and len(actual) < low:
                    return f"expected an array of at least {low} items, got {len(actual)}"
                if high is not None and len(actual) > high:
                    return f"expected an array of at most {high} items, got {len(actual)}"
            return None
        return f"expected {_a(json_type(expected))} (by type), got {_a(json_type(actual))} {shown(actual)}"
    if kind == "include":
        needle = m.params["value"]
        return None if actual is not None and needle in text_of(actual) else \
            f"expected a value including {shown(needle)}, got {shown(actual)}"
    # A number rule on text (a query parameter, a header, the path: the example is text too) reads
    # the text as a number; in a JSON body a string is never a number, "36" is not 36.
    text = isinstance(actual, str) and isinstance(expected, str)
    if kind == "integer":
        ok = (isinstance(actual, int) and not isinstance(actual, bool)) or \
            (text and _INTEGER.fullmatch(actual) is not None)
        return None if ok else f"expected an integer, got {shown(actual)}"
    if kind == "decimal":
        ok = isinstance(actual, float) or (text and _is_float(actual))
        return None if ok else f"expected a decimal number, got {shown(actual)}"
    if kind == "number":
        ok = (isinstance(actual, (int, float)) and not isinstance(actual, bool)) or (text and _is_float(actual))
        return None if ok else f"expected a number, got {shown(actual)}"
    if kind in ("datetime", "date", "time"):
        fmt, pattern = m.compiled
        if isinstance(actual, str) and pattern.matches(actual):
            return None
        return f"expected a {kind} in the format {fmt!r}, got {shown(actual)}"
    if kind == "null":
        return None if actual is None else f"expected null, got {shown(actual)}"
    if kind == "boolean":
        return None if isinstance(actual, bool) or actual in ("true", "false") else \
            f"expected a boolean, got {shown(actual)}"
    if kind == "notEmpty":
        return f"expected a value that is not empty, got {shown(actual)}" \
            if actual is None or (isinstance(actual, (str, list, dict)) and not actual) else None
    if kind == "semver":
        return None if isinstance(actual, str) and _SEMVER.fullmatch(actual) else \
            f"expected a semantic version, got {shown(actual)}"
    if kind == "statusCode":
        code = status if status is not None else actual
        return None if isinstance(code, int) and code in m.compiled else \
            f"expected a status {m.params.get('status', 'success')}, got {code}"
    if kind == "contentType":
        from .content import sniff

        found = sniff(actual if isinstance(actual, bytes) else text_of(actual).encode())
        wanted = m.params["value"].split(";")[0].strip().lower()
        return None if found == wanted else f"expected content of type {wanted}, got {found}"
    return None  # (values, eachKey, eachValue, arrayContains: see stuntman.pact.body)


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity")


def holds(rules: Any, expected: Any, actual: Any, cascaded: bool = False, status: int | None = None) -> list[str]:
    """A rule list (AND: every matcher; OR: one) on a value: [] if it holds, else why not."""
    if len(rules.matchers) == 1:
        problem = check(rules.matchers[0], expected, actual, cascaded, status)
        return [] if problem is None else [problem]
    problems = [p for p in (check(m, expected, actual, cascaded, status) for m in rules.matchers) if p is not None]
    if rules.combine == "OR" and len(problems) < len(rules.matchers):
        return []
    return problems if rules.combine == "AND" or len(rules.matchers) == 1 else [" or ".join(problems)]
