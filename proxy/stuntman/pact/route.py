"""A pact interaction as a route: the route table finds it by method and path like any stub
(an exact path; a path with a rule, or one a route cannot hold, is tried for every request), and
its request matcher holds the rest of the request to the interaction by the Pact rules
(stuntman.pact.compare).

Provider states: a request asks for one with a header (X-Pact-Provider-State by default), its
session's state (POST /__admin/scenarios, scenario `pact:<contract>`) or the state fixed at start
(`--provider-state REGEX`). An interaction whose states do not include the one asked for is not
eligible; one without states is, unless the contract is strict (`--strict-provider-state`), and
an interaction with the state asked for is tried first. With no state asked for, an interaction
without states answers before one with states.

The most specific interaction wins: the route table ranks them at load by how much of the request
each pins down (query values, headers, body), then by how few rules relax it, exact before regex.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..match.routes import Route
from .compare import Mismatch, Received, compare_request, received
from .document import Interaction, Pact
from .plan import compile_json

NO_STATE = "Started"  # a session's scenario state before anything is set: no provider state asked for


@dataclass
class PactOptions:
    """What a pact's routes share: how a provider state is asked for."""

    name: str
    pact: Pact
    header: str = "x-pact-provider-state"
    fixed: Any = None          # --provider-state: a compiled regex the state must match, or None
    strict: bool = False       # --strict-provider-state: interactions without states need none asked for
    # a pact without states, served without a fixed one: no request's state can change anything
    stateless: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.stateless = self.fixed is None and not any(i.states for i in self.pact.interactions)

    @property
    def scenario(self) -> str:
        return f"pact:{self.name}"

    def asked(self, ex: Any, state: Any) -> str | None:
        """The provider state this request asks for (None: none)."""
        given = ex.field(self.header)
        if given is not None:
            return given.strip()
        chosen = state.scenario_state(ex, self.scenario) if state is not None else NO_STATE
        return None if chosen == NO_STATE else chosen


class PactRoute(Route):
    __slots__ = ("interaction", "options", "stateless_siblings", "state_names", "json_check")

    def __init__(self, request: Any, *, interaction: Interaction, options: PactOptions, specificity: int,
                 **kwargs: Any):
        super().__init__(request, scenario=None, required_state=None, new_state=None, **kwargs)
        self.interaction, self.options = interaction, options
        self.state_names = tuple(s.name for s in interaction.states)
        self.specificity = specificity
        self.needs_body = True  # (the Pact rules read it)
        self.stateless_siblings: list[PactRoute] = []
        body = interaction.request.body
        self.json_check = compile_json(body.value, interaction.request.rules, request=True) \
            if body.state == "present" and body.value is not None else None

    def accepts(self, ex: Any, state: Any, why: list[str] | None = None) -> bool:
        """The Pact comparison of the whole request (the method and path too: a path rule is the
        pact's), after the provider state."""
        if why is None and self.methods is not None and ex.method not in self.methods:
            return False
        eligible = True if self.options.stateless and not self.options.strict else self._eligible(ex, state, why)
        if not eligible and why is None:
            return False
        if why is None:  # (a yes or no: the body only judged)
            return not compare_request(self.options.pact, self.interaction.request, received(ex), self.json_check)
        found = self.mismatches_of(received(ex))
        why.extend(str(m) for m in found)
        return eligible and not found

    def mismatches_of(self, got: Received) -> list[Mismatch]:
        return compare_request(self.options.pact, self.interaction.request, got)

    def _eligible(self, ex: Any, state: Any, why: list[str] | None) -> bool:
        options = self.options
        asked = options.asked(ex, state)
        names = self.state_names
        if asked is not None:
            if names:
                if not any(_same_state(asked, n) for n in names):
                    _say(why, f"provider state: asked for {asked!r}, the interaction has {_states(names)}")
                    return False
                return True
            if options.strict:
                _say(why, f"provider state: asked for {asked!r}, the interaction has none (strict)")
                return False
            return True
        if options.fixed is not None:
            if names and not any(options.fixed.search(n) for n in names):
                _say(why, f"provider state: --provider-state {options.fixed.pattern!r} matches none of "
                          f"{_states(names)}")
                return False
            if not names and options.strict:
                _say(why, "provider state: the interaction has none (strict)")
                return False
            return True
        if names and self.stateless_siblings:
            got = received(ex)
            if any(not sibling.mismatches_of(got) for sibling in self.stateless_siblings):
                _say(why, "provider state: none asked for, and an interaction without states matches")
                return False
        return True


def _same_state(asked: str, name: str) -> bool:
    return asked == name


def _states(names: tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def _say(why: list[str] | None, message: str) -> None:
    if why is not None:
        why.append(message)
