"""Why an upstream gave no usable response."""
from __future__ import annotations


class UpstreamError(Exception):
    """`status` is what the client gets (502, 504), `cause` goes to X-Stuntman-Error and the
    journal, `detail` to the body."""

    def __init__(self, status: int, cause: str, detail: str):
        super().__init__(detail)
        self.status, self.cause, self.detail = status, cause, detail
