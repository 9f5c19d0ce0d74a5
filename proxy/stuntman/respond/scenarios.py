"""Runtime state of stubs: scenario states and response-sequence positions.

Partitioned by a session key read from a request header (default `X-Stuntman-Session`), so tests
running in parallel against one instance never see each other's state. Requests without the
header share the default partition ("").
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.model import STARTED

if TYPE_CHECKING:
    from ..exchange import Exchange

DEFAULT_SESSION_HEADER = "x-stuntman-session"


class StubState:
    def __init__(self, session_header: str = DEFAULT_SESSION_HEADER):
        self.session_header = session_header.lower()
        self._scenarios: dict[tuple[str, str], str] = {}
        self._positions: dict[tuple[str, str], int] = {}

    def session(self, ex: Exchange) -> str:
        return ex.field(self.session_header) or ""

    def scenario_state(self, ex: Exchange, scenario: str) -> str:
        return self._scenarios.get((self.session(ex), scenario), STARTED)

    def set_scenario_state(self, ex: Exchange, scenario: str, state: str) -> None:
        self.set_state(self.session(ex), scenario, state)

    def next_position(self, ex: Exchange, key: str, length: int, cycle: bool) -> int:
        """Index of the response to give now in a sequence of `length`, and advance."""
        slot = (self.session(ex), key)
        pos = self._positions.get(slot, 0)
        self._positions[slot] = pos + 1 if pos + 1 < length or cycle else pos
        return pos % length

    def states(self, session: str) -> dict[str, str]:
        """{scenario: state} of one session (scenarios still in Started are absent)."""
        return {name: state for (owner, name), state in self._scenarios.items() if owner == session}

    def set_state(self, session: str, scenario: str, state: str) -> None:
        self._scenarios[(session, scenario)] = state

    def reset(self, session: str | None = None) -> None:
        """Scenarios and sequences back to the start: of one session, or of all of them."""
        if session is None:
            self._scenarios.clear()
            self._positions.clear()
            return
        for store in (self._scenarios, self._positions):
            for key in [k for k in store if k[0] == session]:
                del store[key]
