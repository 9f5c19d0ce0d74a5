"""The request body as matchers and templates want it: text, JSON, form fields, each decoded once."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs


class BodyView:
    __slots__ = ("raw", "_text", "_json", "_form")
    _MISSING = object()
    INVALID = object()  # what `json` is when the body is not JSON

    def __init__(self, raw: bytes):
        self.raw = raw
        self._text: Any = self._MISSING
        self._json: Any = self._MISSING
        self._form: Any = self._MISSING

    @classmethod
    def of_json(cls, raw: bytes, value: Any) -> BodyView:
        """The view of a JSON document already parsed (value) whose text is raw."""
        view = cls(raw)
        view._json = value
        return view

    @property
    def text(self) -> str:
        if self._text is self._MISSING:
            self._text = self.raw.decode("utf-8", "replace")
        return self._text

    @property
    def json(self) -> Any:
        """The parsed JSON document, or `BodyView.INVALID` when the body is not JSON."""
        if self._json is self._MISSING:
            try:
                self._json = json.loads(self.raw) if self.raw else self.INVALID
            except (ValueError, RecursionError):  # (nested deeper than Python recurses: not JSON to us)
                self._json = self.INVALID
        return self._json

    @property
    def form(self) -> dict[str, list[str]]:
        if self._form is self._MISSING:
            self._form = parse_qs(self.text, keep_blank_values=True)
        return self._form
