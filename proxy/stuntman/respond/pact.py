"""The response source of a pact interaction: the pact's response, as a stub would send it. One
without generators is built once and sent as is; one with generators (v3, v4) is made per
request, seeded by the contract, the interaction and the request's method and path (the same
request gets the same answer; a provider state's params feed the ProviderState generator, and a
MockServerURL generator points at stuntman, as the request's Host names it)."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..pact.answer import Answer, render, static_answer
from ..response import SERVER, Response
from .responder import WholeResponse

if TYPE_CHECKING:
    from ..pact.document import Interaction


class InteractionResponder(WholeResponse):
    __slots__ = ("interaction", "contract", "seed", "fixed", "context")

    def __init__(self, interaction: Interaction, contract: str, seed: int):
        self.interaction, self.contract, self.seed = interaction, contract, seed
        found = static_answer(interaction.response)
        self.fixed = _response(found, cacheable=True) if found is not None else None
        self.context: dict[str, Any] = {}
        for state in interaction.states:
            self.context.update(state.params)

    def respond(self, ex: Any, state: Any) -> Response:
        if self.fixed is not None:
            return self.fixed
        rng = random.Random(f"{self.seed}:{self.interaction.index}:{ex.method}:{ex.path}")
        context = self.context
        host = ex.field("host")
        if host is not None:  # stuntman is the mock server a MockServerURL generator points at
            context = {**context, "mockServerUrl": f"http://{host}"}
        return _response(render(self.interaction.response, rng, context, datetime.now(UTC)))


def _response(answer: Answer, cacheable: bool = False) -> Response:
    status, headers, body = answer
    fields = [SERVER] + [(n.lower().encode("latin-1", "replace"), v.encode("latin-1", "replace"))
                         for n, v in headers if n.lower() not in ("content-length", "transfer-encoding",
                                                                   "connection")]
    return Response(status, fields, body, dated=True, cacheable=cacheable)
