"""Validated stubs → the route table the hot path uses (matchers compiled, static bodies rendered).

Errors found here (a body file missing or escaping the stubs directory, an unknown template
expression) are reported like validation errors: file:line and field path.
"""
from __future__ import annotations

import uuid
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from .config.errors import ConfigValueError
from .config.loader import ConfigError, ConfigErrors, LoadedStub, load_dir
from .config.model import ContractEntrySpec, ContractSpec, StubSpec
from .contracts import Contract, compile_contract, spec_error
from .faults.kinds import KINDS, FaultState, compile_fault
from .faults.rules import FaultRule, FaultRules
from .match.request import RequestMatcher
from .match.routes import Route, RouteTable
from .openapi.document import SpecError
from .pact.document import PactError
from .record.recorder import read_index, recording_dir
from .record.replay import load_recording
from .respond import grpc as _grpc  # noqa: F401
from .respond import replay as _replay  # noqa: F401  (importing a source module registers its source)
from .respond import stub as _stub  # noqa: F401
from .respond.responder import BuildContext, build
from .respond.upstream import target as _target  # noqa: F401
from .settings import Settings

if TYPE_CHECKING:
    from .proto.protoset import ProtoError, ProtoSet


_GRPC_ONLY = "{} acts on gRPC calls alone, and {} HTTP requests only (request.grpc is not set)"


def compile_route(loaded: LoadedStub, order: int, root: Path, pools: dict, settings: Settings,
                  faults: FaultState | None = None, protos: ProtoSet | None = None) -> Route:
    spec = loaded.spec
    source = f"{loaded.file}:{loaded.line}" if loaded.line else loaded.file
    # stable across reloads while the stub keeps its place in its file
    route_id = spec.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"stuntman:{loaded.file}:{loaded.loc}:{spec.name}"))
    action = build(BuildContext(loaded, route_id, source, root, pools, settings, faults or FaultState(0),
                                compile_table, protos))
    if spec.request.grpc is None:
        for i, fault in enumerate(spec.faults):
            if KINDS[fault.type].fault.grpc_only:
                raise ConfigValueError(("faults", i, "type"), _GRPC_ONLY.format(fault.type, "this stub matches"))

    return Route(
        spec.request, name=spec.name, id=route_id, file=loaded.file, source=source,
        definition=spec.model_dump_json(by_alias=True, exclude_unset=True), priority=spec.priority, order=order,
        scenario=spec.scenario, required_state=spec.required_state, new_state=spec.new_state,
        action=action, fault_headers=spec.fault_headers,
        faults=tuple(compile_fault(f, f.id or f"{route_id}-fault-{i}", f"{source} faults[{i}]", faults or FaultState(0))
                     for i, f in enumerate(spec.faults)),
    )


def compile_fault_rule(loaded: LoadedStub, settings: Settings, faults: FaultState, origin: str = "file") -> FaultRule:
    """A standalone fault (fault file, admin API, --fault) and its target, compiled."""
    spec = loaded.spec
    source = f"{loaded.file}:{loaded.line}" if loaded.line else loaded.file
    fault_id = spec.id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"stuntman-fault:{loaded.file}:{loaded.loc}:{spec.name}"))
    if spec.request is not None and spec.request.grpc is None and KINDS[spec.type].fault.grpc_only:
        raise ConfigValueError(("type",), _GRPC_ONLY.format(spec.type, "its `request:` matches"))
    matcher = RequestMatcher(spec.request) if spec.request is not None else None
    return FaultRule(compile_fault(spec, fault_id, source, faults), spec.route, matcher,
                     spec.model_dump_json(by_alias=True, exclude_unset=True), origin)


def compile_table(stubs: list[LoadedStub], root: Path, pools: dict, settings: Settings,
                  faults: FaultState | None = None,
                  protos: ProtoSet | None = None) -> tuple[RouteTable, list[ConfigError]]:
    """Stubs and standalone faults (fault files) → a route table; every error found."""
    faults = faults or FaultState(0)
    stubs = [*stubs, *(call for loaded in stubs for call in _replayed_calls(loaded, settings))]
    routes: list[Route] = []
    rules: list[tuple[FaultRule, LoadedStub]] = []
    errors: list[ConfigError] = []
    ids: dict[str, str] = {}
    contracts: list[Contract] = []
    for order, loaded in enumerate(stubs):
        item: Route | FaultRule
        if isinstance(loaded.spec, ContractEntrySpec):
            try:
                contract = compile_contract(loaded, order, root)
            except SpecError as exc:
                errors.append(spec_error(exc))
            except PactError as exc:
                errors.append(ConfigError(exc.file, None, exc.pointer, exc.message))
            except ValueError as exc:  # the document's path escapes the stubs directory
                errors.append(loaded.error(("contract", loaded.spec.contract.kind), str(exc)))
            else:
                contracts.append(contract)
                routes += contract.routes
            continue
        try:
            if isinstance(loaded.spec, StubSpec):
                item = compile_route(loaded, order, root, pools, settings, faults, protos)
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
    grpc_names = {r.name for r in routes if r.grpc}
    kept = []
    for rule, loaded in rules:
        name = rule.route_name
        if name is not None and name not in names:
            errors.append(loaded.error(("route",), f"no stub is named {name!r}"))
        elif name is not None and rule.fault.grpc_only and name not in grpc_names:
            errors.append(loaded.error(("type",), _GRPC_ONLY.format(rule.fault.type, f"stub {name!r} matches")))
        else:
            kept.append(rule)
    table = RouteTable(routes, FaultRules(kept, routes, settings.fault_headers))
    table.contracts = contracts
    table.protos = protos
    return table, errors


def _replayed_calls(loaded: LoadedStub, settings: Settings) -> list[LoadedStub]:
    """The gRPC calls of a `replay:` stub's recording, as gRPC stubs of the table: a stub's replay
    answers the HTTP requests it matches (respond/replay.py), and the recording's calls are served
    as `stuntman replay` serves them (a call not recorded goes on as an unmatched call does). Errors
    of the recording are the replay's own to report (when it is built)."""
    replay = loaded.spec.replay if isinstance(loaded.spec, StubSpec) else None
    if replay is None:
        return []
    try:
        directory = recording_dir(settings.recordings, replay.recording)
        if not any(line.get("protocol") == "grpc" for line in read_index(directory)):
            return []  # (most recordings: HTTP alone, read once, by the replay)
        stubs = load_recording(directory, replay.recording, frozenset(replay.ignore_query),
                               replay.latency == "recorded", tuple(replay.ignore_body))
    except (ConfigErrors, ValueError):
        return []
    return [stub for stub in stubs if isinstance(stub.spec, StubSpec) and stub.spec.request.grpc is not None]


def load_table(root: Path, pools: dict, settings: Settings, emptied_means_busy: Collection[str] = (),
               faults: FaultState | None = None) -> tuple[RouteTable, list[ConfigError]]:
    """Read, validate and compile every stub file under root, and the recordings replayed; every
    error found, of all three."""
    stubs, errors = load_dir(root, emptied_means_busy)
    stubs += [LoadedStub(ContractEntrySpec(contract=ContractSpec(
        openapi=str(path), validate_=settings.openapi_validate, enforce_security=settings.enforce_security)),
        f"--openapi {path}", None, (i,)) for i, path in enumerate(settings.openapi)]
    stubs += [LoadedStub(ContractEntrySpec(contract=ContractSpec(
        openapi=str(path), monitor=True, enforce=settings.contract_enforce,
        violation_header=settings.contract_header)),
        f"--openapi-monitor {path}", None, (i,)) for i, path in enumerate(settings.openapi_monitor)]
    stubs += [LoadedStub(ContractEntrySpec(contract=ContractSpec(
        pact=str(path), provider_state=settings.provider_state,
        strict_provider_state=settings.strict_provider_state)), f"--pact {path}", None, (i,))
        for i, path in enumerate(pact_files(settings.pact))]
    for name in settings.replay:
        try:
            stubs += load_recording(recording_dir(settings.recordings, name), name,
                                    frozenset(settings.replay_ignore_query),
                                    latency=settings.replay_latency == "recorded",
                                    ignore_body=settings.replay_ignore_body)
        except (ConfigErrors, ValueError) as exc:
            errors += exc.errors if isinstance(exc, ConfigErrors) else [ConfigError(name, None, "", str(exc))]
    protos = None
    if settings.proto:  # (protobuf is imported only for those who use it: ~10 MB of RSS)
        from .proto.protoset import UNREADABLE, ProtoError, load_protos

        try:
            protos = load_protos(settings.proto, settings.proto_include)
        except ProtoError as exc:  # (the stubs' messages are not read against nothing: one error, not a cascade)
            errors.append(proto_error(exc))
            protos = UNREADABLE
    table, compile_errors = compile_table(stubs, root, pools, settings, faults, protos)
    # the files a contract was read from (its spec, the schemas it refers to) are not stub files
    read = {path for contract in table.contracts for path in contract.spec.paths}
    if read:
        base = root.resolve()
        errors = [e for e in errors if (base / e.file).resolve() not in read]
    return table, errors + compile_errors


def pact_files(given: Collection[Path]) -> list[Path]:
    """--pact's files: each one named, and the *.json files of each directory named (sorted)."""
    out: list[Path] = []
    for path in given:
        out += sorted(p for p in path.glob("*.json") if p.is_file()) if path.is_dir() else [path]
    return out


def proto_error(exc: ProtoError) -> ConfigError:
    """protoc's `file:line:column: message` (its first line) as a config error at that line."""
    first = exc.message.splitlines()[0] if exc.message else ""
    parts = first.split(":", 3)
    if len(parts) == 4 and parts[1].isdigit():
        return ConfigError(exc.file, int(parts[1]), "", f"column {parts[2]}: {parts[3].strip()}"
                           + ("".join("\n  " + line for line in exc.message.splitlines()[1:])))
    return ConfigError(exc.file, None, "", exc.message)
