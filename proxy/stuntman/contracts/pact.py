"""A pact served as stubs: each HTTP interaction a route (stuntman.pact.route) answered by its
response (stuntman.respond.pact), ranked after the hand-written stubs and, among the pact's own,
most specific first. Interactions two requests cannot tell apart (each matches the other's
example, with the same states and rank) are reported once at load: the first in the file answers.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..config.base import RequestSpec
from ..pact.compare import Received
from ..pact.document import Interaction, Pact, load_pact
from ..pact.route import PactOptions, PactRoute
from ..respond.pact import InteractionResponder

if TYPE_CHECKING:
    from ..config.loader import LoadedStub
    from . import Contract

log = logging.getLogger("stuntman")
_reported: set[tuple[str, str, str]] = set()  # ambiguous pairs already logged (once per process)


def compile_pact(contract: Contract, loaded: LoadedStub, order: int, path: Path, name: str,
                 pact: Pact | None = None) -> Contract:
    options = contract.options
    if pact is None:
        pact = load_pact(path, name)
    contract.spec = pact
    contract.name = options.name or Path(pact.file).stem
    contract.listing = _listing
    fixed = re.compile(options.provider_state) if options.provider_state is not None else None
    shared = PactOptions(contract.name, pact, options.provider_state_header.lower(), fixed,
                         options.strict_provider_state)
    seed = options.seed if options.seed is not None else zlib.crc32(contract.name.encode())
    routes: list[PactRoute] = []
    for interaction in pact.interactions:
        request = interaction.request
        exact = request.rules.path is None and "{" not in request.path and request.path.startswith("/")
        try:
            spec = RequestSpec(method=request.method, path=request.path if exact else None)
        except ValidationError:
            spec = RequestSpec(method=request.method)  # (a path a stub could not take: tried for every request)
            exact = False
        route_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{contract.id}:{interaction.pointer}"))
        definition = {"contract": contract.name, "interaction": interaction.description,
                      "providerStates": [s.name for s in interaction.states],
                      "request": {"method": request.method, "path": request.path}}
        routes.append(PactRoute(
            spec, interaction=interaction, options=shared, specificity=specificity(interaction, exact),
            name=interaction.description, id=route_id, file=loaded.file, source=f"{pact.file}#{interaction.pointer}",
            definition=json.dumps(definition), priority=options.priority, order=order,
            action=InteractionResponder(interaction, contract.name, seed)))
    _siblings(routes)
    for note in _ambiguous(pact, routes):
        if note not in pact.notes:
            pact.notes.append(note)
    contract.routes = list(routes)
    return contract


def specificity(interaction: Interaction, exact_path: bool) -> int:
    """How much of a request the interaction pins down, for ranking (higher first): a provider
    state, then an exact path, then each query value, header value and body value it compares,
    then fewer rules relaxing them, regex rules least."""
    request = interaction.request
    pinned = sum(len(v) for v in (request.query or {}).values()) + sum(len(v) for v in request.headers.values())
    if request.body.state != "missing":
        pinned += 1 + min(_leaves(request.body.value), 999)
    relaxed, regex = request.rules.count()
    return (1_000_000_000 * bool(interaction.states) + 100_000_000 * exact_path + 10_000 * min(pinned, 9_999)
            - 100 * min(relaxed, 99) - min(regex, 99))


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values()) or 1
    if isinstance(value, list):
        return sum(_leaves(v) for v in value) or 1
    return 1 if value is not None else 0


def _siblings(routes: list[PactRoute]) -> None:
    """Each interaction with states learns the stateless ones on its method and path: those answer
    first when no state is asked for."""
    stateless: dict[tuple[str, str], list[PactRoute]] = {}
    for route in routes:
        if not route.state_names:
            stateless.setdefault(_key(route.interaction), []).append(route)
    for route in routes:
        if route.state_names:
            route.stateless_siblings = stateless.get(_key(route.interaction), [])


def _key(interaction: Interaction) -> tuple[str, str]:
    return interaction.request.method, interaction.request.path


def _ambiguous(pact: Pact, routes: list[PactRoute]) -> list[str]:
    """Pairs no request can tell apart: same method, path, states and rank, each matching the
    other's example request."""
    notes = []
    groups: dict[tuple, list[PactRoute]] = {}
    for route in routes:
        groups.setdefault((*_key(route.interaction), route.state_names, route.specificity), []).append(route)
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if not b.mismatches_of(example(a.interaction)) and not a.mismatches_of(example(b.interaction)):
                    note = (f"interactions {a.interaction.description!r} and {b.interaction.description!r} match "
                            f"the same requests: {a.interaction.description!r} (first in the file) answers them")
                    notes.append(note)
                    if (pact.file, a.interaction.description, b.interaction.description) not in _reported:
                        _reported.add((pact.file, a.interaction.description, b.interaction.description))
                        log.warning("pact %s: %s", pact.file, note)
    return notes


def example(interaction: Interaction) -> Received:
    """An interaction's own request as if it had been received."""
    request = interaction.request
    headers = request.header_fields()
    content_type = headers.get("content-type") or request.body.content_type
    return Received(request.method, request.path, request.query_string(), headers, request.body.content,
                    content_type)


def _listing(contract: Contract) -> dict:
    pact: Pact = contract.spec
    return {
        "name": contract.name, "kind": "pact", "source": pact.file, "mode": "stub",
        "version": pact.version, "consumer": pact.consumer, "provider": pact.provider,
        "providerStateHeader": contract.options.provider_state_header,
        "providerState": contract.options.provider_state, "strictProviderState": contract.options.strict_provider_state,
        "scenario": f"pact:{contract.name}", "notes": pact.notes,
        "interactions": [
            {"description": i.description, "providerStates": [{"name": s.name, "params": s.params} for s in i.states],
             "request": {"method": i.request.method, "path": i.request.path}, "status": i.response.status,
             "servedAs": next((r.id for r in contract.routes if r.interaction is i), None),  # type: ignore[attr-defined]
             "source": f"{pact.file}#{i.pointer}"}
            for i in pact.interactions],
        "messages": [{"description": m.description, "type": m.type, "served": False,
                      "note": "a message interaction: not served over HTTP", "source": f"{pact.file}#{m.pointer}"}
                     for m in pact.messages],
    }
