"""Why nothing matched: the nearest routes and, per field, what differed.

This is the slow path (an unmatched request, or the admin API asking), so it scans every route.
"""
from __future__ import annotations

import json
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..exchange import Exchange
    from .routes import Route, RouteTable

Near = list[tuple["Route", list[str]]]  # routes, nearest first, each with what differed


def first_match(table: RouteTable, ex: Exchange, state: Any) -> Route | None:
    """The route that would answer ex, as the pipeline picks it (routes.match), but changing
    nothing: no scenario moves to its newState for a request that was only described."""
    path = ex.path
    for route in table.candidates(path):
        if route.path_params(path) is not None and route.accepts(ex, state):
            return route
    return None


def nearest(table: RouteTable, ex: Exchange, state: Any, limit: int = 3) -> Near:
    """`state`: the stub state (scenarios) the routes are matched against."""
    scored = []
    for route in table.routes:
        diffs = route.mismatches(ex, state)
        path_off = any(d.startswith("path:") for d in diffs)
        likeness = SequenceMatcher(None, route.path_text or "", ex.path).ratio() if path_off else 1.0
        scored.append((len(diffs) + 2 * path_off, -likeness, route.rank, route, diffs))
    scored.sort(key=lambda s: s[:3])
    return [(s[3], s[4]) for s in scored[:limit]]


def report_text(ex: Exchange, near: Near) -> str:
    lines = [f"stuntman: no stub matched {ex.describe()}"]
    if not near:
        lines.append("(no stubs are loaded)")
    for route, diffs in near:
        lines.append("")
        lines.append(f"nearest: {route.label}  ({route.source})")
        lines.extend(f"  - {d}" for d in diffs)
    return "\n".join(lines) + "\n"


def described(ex: Exchange) -> dict:
    return {"method": ex.method, "url": ex.target.decode("latin-1")}


def report(ex: Exchange, near: Near) -> dict:
    return {
        "error": "no stub matched",
        "request": described(ex),
        "nearest": [{"name": r.name, "id": r.id, "source": r.source, "diff": d} for r, d in near],
    }


def report_json(ex: Exchange, near: Near) -> str:
    return json.dumps(report(ex, near), indent=2) + "\n"
