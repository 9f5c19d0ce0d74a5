"""Errors of a value that validated but cannot be used (a body file missing, a template that
does not compile): raised while compiling, reported like validation errors (file:line, field)."""
from __future__ import annotations


class ConfigValueError(ValueError):
    """A value that validated but cannot be compiled; `loc` is its key path inside the stub."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
