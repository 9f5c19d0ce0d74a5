"""Contracts served as stubs: a `contract:` entry (a stub file's, `--openapi`'s, `--pact`'s, the
admin API's) → one route per OpenAPI operation, each answered by the operation's response source
(stuntman.respond.openapi), or one route per pact interaction (stuntman.pact.route, answered by
stuntman.respond.pact); ranked after every hand-written stub. A monitored OpenAPI contract
(`monitor: true`, `--openapi-monitor`) serves nothing: its operations are watched instead
(stuntman.monitor), checking the traffic other sources answer.

Operations are served under each of the spec's base paths (its `servers`, or a `basePath` the
entry gives) and also at the root, where that is unambiguous (no operation of the contract is
served at the same method and path under its prefix).
"""
from __future__ import annotations

import json
import re
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config.base import RequestSpec
from ..config.loader import ConfigError, LoadedStub
from ..config.model import ContractSpec
from ..config.paths import resolve_inside
from ..match.routes import Route
from ..monitor import OperationWatch
from ..openapi.document import SpecError, gc_paused, load_spec
from ..respond.openapi import OperationResponder, ServedContract
from .pact import compile_pact

_PARAM = re.compile(r"\{([^{}/]+)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class Contract:
    """A contract as loaded: what the admin API lists."""

    id: str
    name: str
    kind: str          # "openapi" | "pact"
    source: str        # the document's file (as named), or "admin-api"
    origin: str        # "file" (a stub file, --openapi or --pact) or "api"
    spec: Any          # the document: stuntman.openapi.document.Spec or stuntman.pact.document.Pact
    options: ContractSpec
    routes: list[Route] = field(default_factory=list)    # served (stub mode)
    watches: list[Route] = field(default_factory=list)   # monitored: each route's action an OperationWatch
    listing: Any = None  # the pact's: its as_json (stuntman.pact.contract)

    def as_json(self) -> dict:
        if self.listing is not None:
            return {"id": self.id, "origin": self.origin, **self.listing(self)}
        spec = self.spec
        by_op: dict[str, list[str]] = {}
        for route in self.routes or self.watches:
            by_op.setdefault(route.action.op.pointer, []).append(route.path_text)
        options = self.options
        at = "monitoredAt" if options.monitor else "servedAt"
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "source": self.source, "origin": self.origin,
            "mode": "monitor" if options.monitor else "stub",
            "version": spec.version, "title": spec.title, "basePaths": spec.base_paths,
            "validate": options.validate_, "enforceSecurity": options.enforce_security,
            "enforce": options.enforce, "violationHeader": options.violation_header,
            "notes": spec.notes,
            "operations": [{"method": op.method, "path": op.path, "operationId": op.operation_id,
                            at: by_op.get(op.pointer, []), "source": spec.where(op.pointer)}
                           for op in spec.operations],
        }


def spec_error(error: SpecError) -> ConfigError:
    line = int(error.where) if error.where.isdigit() else None
    return ConfigError(error.file, line, "" if line else error.where, error.message)


def contract_path(loaded: LoadedStub, root: Path) -> tuple[Path, str]:
    """Where the entry's document is, and how messages name it: inside the stubs directory for a
    stub file's entry; as given for --openapi and --pact (its `file` is the flag)."""
    given = loaded.spec.contract.document
    if loaded.file.startswith("--"):
        return Path(given), given
    return resolve_inside(root, given), given


def compile_contract(loaded: LoadedStub, order: int, root: Path, origin: str = "file",
                     contract_id: str | None = None, spec: Any = None) -> Contract:
    """Load the entry's document (unless given) and build its routes; SpecError / PactError /
    ValueError for what is wrong (the caller reports them against the entry)."""
    contract_id = contract_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"stuntman-contract:{loaded.file}:{loaded.loc}"))
    if loaded.spec.contract.kind == "pact":
        path, name = contract_path(loaded, root)
        contract = Contract(contract_id, "", "pact", name, origin, None, loaded.spec.contract)
        return compile_pact(contract, loaded, order, path, name, spec)
    with gc_paused():  # (a big spec's validators are many objects too: see gc_paused)
        return _compile_contract(loaded, order, root, origin, contract_id, spec)


def _compile_contract(loaded: LoadedStub, order: int, root: Path, origin: str, contract_id: str,
                      spec: Any) -> Contract:
    options: ContractSpec = loaded.spec.contract
    if spec is None:
        spec_path, name = contract_path(loaded, root)
        inside = not loaded.file.startswith("--openapi")  # a stub file's spec: its $refs stay in the stubs directory
        spec = load_spec(spec_path, name, confine=root if inside else None)
    name = options.name or Path(spec.file).stem
    seed = options.seed if options.seed is not None else zlib.crc32(name.encode())
    contract = Contract(contract_id, name, "openapi", spec.file, origin, spec, options)
    served = ServedContract(spec, name, seed, options.validate_, options.enforce_security)
    into = contract.watches if options.monitor else contract.routes
    prefixes = [options.base_path] if options.base_path is not None else spec.base_paths
    prefixes = [p for p in dict.fromkeys(prefixes)]
    taken = {(op.method, prefix + op.path) for op in spec.operations for prefix in prefixes}
    for op in spec.operations:
        template, names = _route_template(op.path)
        action = OperationWatch(name, spec, op, names, options.enforce, options.violation_header) \
            if options.monitor else OperationResponder(served, op, names)
        at = [prefix + template for prefix in prefixes]
        if "" not in prefixes and (op.method, op.path) not in taken:
            at.append(template)  # the root too: nothing of this contract is there
        try:
            requests = [RequestSpec(method=op.method, path=served_at or "/") for served_at in at]
        except ValidationError as exc:  # (a query string in a path key, a parameter named twice)
            # one operation a route cannot take does not keep the rest of the contract from serving
            spec.notes.append(f"{op.label} is not served: its path cannot be a route "
                              f"({exc.errors()[0]['msg']}), at {spec.where(op.pointer)}")
            continue
        for i, request in enumerate(requests):
            path = request.path or "/"
            route_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{contract_id}:{op.method}:{path}"))
            definition = {"contract": name, "operation": op.label, "operationId": op.operation_id,
                          "request": {"method": op.method, "path": path}}
            into.append(Route(
                request, name=op.operation_id or op.label, id=route_id, file=loaded.file,
                source=spec.where(op.pointer), definition=json.dumps(definition), priority=options.priority + (i > 0),
                order=order, scenario=None, required_state=None, new_state=None, action=action))
    return contract


def _route_template(path: str) -> tuple[str, dict[str, str]]:
    """The spec's path template with parameter names routes can carry ({pet-id} → {p0}), and the
    map back to the spec's names."""
    names: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        name = m.group(1)
        if _NAME.match(name):
            return m.group(0)
        safe = f"p{len(names)}"
        names[safe] = name
        return "{" + safe + "}"

    return _PARAM.sub(rename, path), names
