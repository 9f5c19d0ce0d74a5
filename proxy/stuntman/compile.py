"""Validated stubs → the route table the hot path uses (matchers compiled, static bodies rendered).

Errors found here (a body file missing or escaping the stubs directory, an unknown template
expression) are reported like validation errors: file:line and field path.
"""
from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Collection
from pathlib import Path

from .config.loader import ConfigError, ConfigErrors, LoadedStub, load_dir
from .config.model import StubSpec
from .faults.kinds import FaultState, compile_fault
from .faults.rules import FaultRule, FaultRules
from .match.matchers import compile_body_matcher, compile_matcher
from .match.routes import Route, RouteTable, template_regex
from .record.recorder import recording_dir
from .record.replay import ReplayAction, load_recording
from .config.errors import ConfigValueError
from .respond.stub import StubAction, StubResponse
from .respond.upstream import UpstreamTarget
from .settings import Settings


class SeededFaker:
    """Calling it gives the stub's Faker, created on first use and seeded per stub so its values
    repeat run after run (most stubs never call it: it must cost next to nothing)."""

    __slots__ = ("seed", "instance")

    def __init__(self, spec: StubSpec, source: str):
        self.seed = spec.seed if spec.seed is not None else zlib.crc32((spec.name or source).encode())
        self.instance = None

    def __call__(self):
        if self.instance is None:
            from faker import Faker

            self.instance = Faker()
            self.instance.seed_instance(self.seed)
        return self.instance


def compile_route(loaded: LoadedStub, order: int, root: Path, pools: dict, settings: Settings,
                  faults: FaultState | None = None) -> Route:
    spec = loaded.spec
    req = spec.request
    source = f"{loaded.file}:{loaded.line}" if loaded.line else loaded.file
    # stable across reloads while the stub keeps its place in its file
    route_id = spec.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"stuntman:{loaded.file}:{loaded.loc}:{spec.name}"))
    methods = [req.method] if isinstance(req.method, str) else req.method
    methods = {m.upper() for m in methods}
    if "ANY" in methods:
        method_set = None
    else:
        method_set = frozenset(methods | ({"HEAD"} if "GET" in methods else set()))
    if req.path is not None:
        kind, text = ("template", req.path) if "{" in req.path else ("exact", req.path)
    elif req.path_regex is not None:
        kind, text = "regex", req.path_regex
    elif req.path_prefix is not None:
        kind, text = "prefix", req.path_prefix
    else:
        kind, text = "any", ""
    path_re = template_regex(text) if kind == "template" else re.compile(text) if kind == "regex" else None

    if spec.replay is not None:
        action = _replay_action(spec.replay, loaded, root, pools, settings, faults)
    elif spec.proxy is not None:
        p = spec.proxy
        action = UpstreamTarget(str(p.upstream), pools, settings, preserve_host=p.preserve_host,
                                timeout_ms=p.timeout_ms, strip_prefix=p.strip_prefix,
                                record=_recording_for(p.record, spec.name, route_id))
    else:
        faker = SeededFaker(spec, source)
        if spec.responses is not None:
            responses = [StubResponse(r, root, faker, ("responses", i)) for i, r in enumerate(spec.responses)]
        else:
            responses = [StubResponse(spec.response, root, faker, ("response",))]
        action = StubAction(responses, spec.sequence == "cycle", route_id)

    return Route(
        name=spec.name, id=route_id, file=loaded.file, source=source,
        definition=spec.model_dump_json(by_alias=True, exclude_unset=True), priority=spec.priority, order=order,
        methods=method_set, path_kind=kind, path_text=text, path_re=path_re,
        query=[(k, compile_matcher(m)) for k, m in req.query.items()],
        headers=[(k.lower(), compile_matcher(m)) for k, m in req.headers.items()],
        body=compile_body_matcher(req.body) if req.body is not None else None,
        scenario=spec.scenario, required_state=spec.required_state, new_state=spec.new_state,
        action=action, fault_headers=spec.fault_headers,
        faults=tuple(compile_fault(f, f.id or f"{route_id}-fault-{i}", f"{source} faults[{i}]", faults or FaultState(0))
                     for i, f in enumerate(spec.faults)),
    )


def _replay_action(r, loaded: LoadedStub, root: Path, pools: dict, settings: Settings,
                   faults: FaultState | None) -> ReplayAction:
    try:
        stubs = load_recording(recording_dir(settings.recordings, r.recording), r.recording, frozenset(r.ignore_query), r.latency == "recorded",
                               tuple(r.ignore_body))
    except (ConfigErrors, ValueError) as exc:
        message = "; ".join(map(str, exc.errors)) if isinstance(exc, ConfigErrors) else str(exc)
        raise ConfigValueError(("replay", "recording"), message) from None
    table, errors = compile_table(stubs, root, pools, settings, faults)
    if errors:
        raise ConfigValueError(("replay", "recording"), "; ".join(map(str, errors)))
    upstream = UpstreamTarget(str(r.upstream), pools, settings) if r.upstream is not None else None
    return ReplayAction(table, upstream if r.mode == "spy" else None)


def _recording_for(record: str | bool | None, name: str | None, route_id: str) -> str | None:
    """`record: true` names the recording after the stub (its name, made file-safe, or its id)."""
    if record is True:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") if name else route_id
    return record or None


def compile_fault_rule(loaded: LoadedStub, settings: Settings, faults: FaultState, origin: str = "file") -> FaultRule:
    """A standalone fault (fault file, admin API, --fault) and its target, compiled."""
    spec = loaded.spec
    source = f"{loaded.file}:{loaded.line}" if loaded.line else loaded.file
    fault_id = spec.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"stuntman-fault:{loaded.file}:{loaded.loc}:{spec.name}"))
    matcher = None
    if spec.request is not None:
        probe = LoadedStub(StubSpec(request=spec.request, response={}), loaded.file, loaded.line,
                           loaded.loc + ("request",), loaded.lines)
        matcher = compile_route(probe, 0, settings.stubs, {}, settings)
    return FaultRule(compile_fault(spec, fault_id, source, faults), spec.route, matcher,
                     spec.model_dump_json(by_alias=True, exclude_unset=True), origin)


def compile_table(stubs: list[LoadedStub], root: Path, pools: dict, settings: Settings,
                  faults: FaultState | None = None) -> tuple[RouteTable, list[ConfigError]]:
    """Stubs and standalone faults (fault files) → a route table; every error found."""
    faults = faults or FaultState(0)
    routes, rules, errors, ids = [], [], [], {}
    for order, loaded in enumerate(stubs):
        try:
            if isinstance(loaded.spec, StubSpec):
                item = compile_route(loaded, order, root, pools, settings, faults)
            else:
                item = compile_fault_rule(loaded, settings, faults)
        except ConfigValueError as exc:
            errors.append(loaded.error(exc.loc, str(exc)))
            continue
        item_id = item.id if isinstance(item, Route) else item.fault.id
        if item_id in ids:
            errors.append(loaded.error(("id",), f"id {item_id!r} is also used at {ids[item_id]}"))
            continue
        ids[item_id] = f"{loaded.file}:{loaded.line}"
        if isinstance(item, Route):
            routes.append(item)
        else:
            rules.append((item, loaded))
    names = {r.name for r in routes}
    for rule, loaded in rules:
        if rule.route_name is not None and rule.route_name not in names:
            errors.append(loaded.error(("route",), f"no stub is named {rule.route_name!r}"))
    kept = [rule for rule, _ in rules if rule.route_name is None or rule.route_name in names]
    return RouteTable(routes, FaultRules(kept, routes, settings.fault_headers)), errors


def load_table(root: Path, pools: dict, settings: Settings, emptied_means_busy: Collection[str] = (),
               faults: FaultState | None = None) -> tuple[RouteTable, list[ConfigError]]:
    """Read, validate and compile every stub file under root, and the recordings replayed; every
    error found, of all three."""
    stubs, errors = load_dir(root, emptied_means_busy)
    for name in settings.replay:
        try:
            stubs += load_recording(recording_dir(settings.recordings, name), name, frozenset(settings.replay_ignore_query),
                                    latency=settings.replay_latency == "recorded", ignore_body=settings.replay_ignore_body)
        except (ConfigErrors, ValueError) as exc:
            errors += exc.errors if isinstance(exc, ConfigErrors) else [ConfigError(name, None, "", str(exc))]
    table, compile_errors = compile_table(stubs, root, pools, settings, faults)
    return table, errors + compile_errors
