"""JSONPath, as every part of stuntman compiles it: python-jsonpath (RFC 9535), with its regexes
run by RE2. The RFC's `match()` and `search()` filter functions and python-jsonpath's `=~ /re/`
operator compile with Python's `re` out of the box, which backtracks: `match(@.name, '(a+)+b')`
against 30 characters holds the event loop for a minute. Here they compile with RE2 (linear time;
no backreferences or lookarounds), as every other regex of a stub does (`config.base.check_regex`).

A regex literal (`=~ /…/i`) that RE2 cannot run is an error when the path is compiled, naming
it; a pattern given to match()/search() as a string (it may come from the document) is, as the
RFC says, simply no match.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import jsonpath
from jsonpath import function_extensions
from jsonpath.filter import RegexLiteral
from jsonpath.parse import Parser
from jsonpath.token import TOKEN_RE_FLAGS


def _re2(pattern: str, flags: str = "") -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # (a bad pattern raises; RE2 would also print it to stderr)
    options.case_sensitive = "i" not in flags
    options.dot_nl = "s" in flags
    options.never_nl = False
    return re2.compile(("(?m)" if "m" in flags else "") + pattern, options)


class _RE2Patterns:
    """For the RFC's match() and search(): their patterns compiled by RE2 (a bounded cache), in
    place of python-jsonpath's `re` (its `check_cache` is what both functions call)."""

    def __init__(self) -> None:
        super().__init__()
        self.patterns: dict[str, Any] = {}

    def check_cache(self, pattern: str) -> Any:
        try:
            return self.patterns[pattern]
        except KeyError:
            pass
        if len(self.patterns) > 300:
            self.patterns.clear()
        try:
            compiled = _re2(pattern)
        except Exception:  # (re2.error, UnicodeError): the RFC's answer to a bad pattern is no match
            compiled = None
        self.patterns[pattern] = compiled
        return compiled


class Match(_RE2Patterns, function_extensions.Match):
    pass


class Search(_RE2Patterns, function_extensions.Search):
    pass


class RE2Parser(Parser):
    def parse_regex(self, stream: Any) -> Any:
        pattern = stream.current().value
        flags = ""
        if stream.peek().kind == TOKEN_RE_FLAGS:
            stream.next()
            flags = stream.next().value
        try:
            return RegexLiteral(value=_re2(pattern, flags))
        except Exception as exc:  # (re2.error, UnicodeError)
            why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(f"regex /{pattern}/ cannot run in RE2: {why} (no backreferences or lookarounds)") \
                from None


class RE2Environment(jsonpath.JSONPathEnvironment):
    parser_class = RE2Parser

    def setup_function_extensions(self) -> None:
        super().setup_function_extensions()
        self.function_extensions["match"] = Match()
        self.function_extensions["search"] = Search()


@cache
def environment() -> RE2Environment:
    return RE2Environment()


def compile_path(expression: str) -> Any:
    """A compiled JSONPath (`findall`, `finditer`); python-jsonpath's errors for a bad one."""
    return environment().compile(expression)
