"""The stubs and standalone faults a server answers with: what the files under the stubs directory
(and `--fault` flags) say, overlaid with what the admin API created, replaced or deleted at
runtime, merged into one route table.

A reload from the files keeps the API's changes; `reset` drops them and returns to the files.
Every change compiles only what it touches, then builds a new table for the server to swap in.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Any

from .compile import compile_fault_rule, compile_route, load_table
from .config.errors import ConfigValueError
from .config.loader import (
    ConfigError,
    ConfigErrors,
    LoadedStub,
    validate_fault,
    validate_stubs,
)
from .config.model import ContractEntrySpec
from .contracts import Contract, compile_contract, spec_error
from .faults.kinds import FaultState
from .faults.rules import FaultRule, FaultRules
from .match.routes import RouteTable
from .monitor import Monitor
from .openapi.document import SpecError, load_spec
from .pact.document import PactError, load_pact

API_SOURCE = "admin-api"


class Layer:
    """Items from the files, overlaid with the admin API's creates, replaces and deletes."""

    def __init__(self, noun: str, path: str, id_of: Callable[[Any], str]):
        self.noun, self.path, self.id_of = noun, path, id_of
        self.base: list = []          # from the files (and flags), in their order
        self.api: dict[str, Any] = {}  # created, or replacing a file item with that id
        self.deleted: set[str] = set()  # file items deleted through the API

    def items(self) -> list:
        api, gone, id_of = self.api, self.deleted, self.id_of
        return [i for i in self.base if id_of(i) not in api and id_of(i) not in gone] + list(api.values())

    def get(self, item_id: str):
        if item_id in self.api:
            return self.api[item_id]
        if item_id in self.deleted:
            return None
        return next((i for i in self.base if self.id_of(i) == item_id), None)

    def delete(self, item_id: str) -> bool:
        if self.get(item_id) is None:
            return False
        self.api.pop(item_id, None)
        self.deleted.add(item_id)
        return True

    def delete_all(self) -> None:
        self.api.clear()
        self.deleted = {self.id_of(i) for i in self.base}

    def reset(self) -> None:
        self.api.clear()
        self.deleted.clear()


class Mappings:
    def __init__(self, settings, pools: dict, fault_state: FaultState):
        self.settings, self.pools, self.fault_state = settings, pools, fault_state
        self.stubs = Layer("stub", "/__admin/mappings", lambda route: route.id)
        self.faults = Layer("fault", "/__admin/faults", lambda rule: rule.fault.id)
        self._api_order = 1 << 30  # API stubs rank after file stubs on ties
        self.flag_faults = [self._fault(parse_fault_flag(text), None, f"--fault #{i + 1}", "cli")
                            for i, text in enumerate(settings.fault)]
        self.faults.base = list(self.flag_faults)
        self._loaded = False  # the first load checks the --fault flags' routes
        self.file_contracts: list = []          # from stub files and --openapi (stuntman.contracts.Contract)
        self.api_contracts: dict[str, Any] = {}  # created through the admin API, by id
        self.protos: Any = None  # the --proto services of the last load (stuntman.proto.protoset.ProtoSet)


    def load_files(self, emptied_means_busy: Collection[str] = ()) -> None:
        """Re-read the files; on any error (ConfigErrors, FileInFlux) nothing changes."""
        table, errors = load_table(self.settings.stubs, self.pools, self.settings, emptied_means_busy,
                                   self.fault_state)
        if not errors and not self._loaded:  # a --fault naming no stub is a typo: refuse to start
            names = {route.name for route in table.routes if route.name}
            errors = [_no_such_route(rule, rule.fault.source) for rule in self.flag_faults
                      if rule.route_name is not None and rule.route_name not in names]
        if errors:
            raise ConfigErrors(errors)
        self._loaded = True
        self.stubs.base = table.routes
        self.faults.base = self.flag_faults + table.faults.rules
        self.file_contracts = table.contracts
        self.protos = table.protos

    def contracts(self) -> list:
        return self.file_contracts + list(self.api_contracts.values())

    def table(self) -> RouteTable:
        routes = self.stubs.items()
        for contract in self.api_contracts.values():
            routes += contract.routes
        table = RouteTable(routes, FaultRules(self.faults.items(), routes, self.settings.fault_headers))
        table.contracts = contracts = self.contracts()
        table.protos = self.protos
        watches = [route for contract in contracts for route in contract.watches]
        table.monitor = Monitor(watches) if watches else None
        return table

    # -- changes from the admin API (each raises ConfigErrors naming the body's fields) -------
    def add(self, layer: Layer, data: Any):
        item_id = data.get("id") if isinstance(data, dict) else None
        if item_id is not None and not isinstance(item_id, str):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", "an id is a string")])
        if item_id is not None and layer.get(item_id) is not None:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id",
                                            f"a {layer.noun} with id {item_id!r} exists: PUT {layer.path}/{item_id}")])
        item = self._compile(layer, data, item_id or str(uuid.uuid4()), None)
        layer.api[layer.id_of(item)] = item
        return item

    def replace(self, layer: Layer, item_id: str, data: Any):
        old = layer.get(item_id)
        if old is None:
            return None
        if isinstance(data, dict) and data.get("id", item_id) != item_id:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", "the body's id differs from the URL's")])
        item = layer.api[item_id] = self._compile(layer, data, item_id, old)
        return item

    def _compile(self, layer: Layer, data: Any, item_id: str, old):
        if layer is self.faults:
            rule = self._fault(data, item_id, API_SOURCE, "api")
            # a new route must name a stub; a fault already waiting for its route may still be edited
            if (rule.route_name is not None and (old is None or old.route_name != rule.route_name)
                    and rule.route_name not in {route.name for route in self.stubs.items() if route.name}):
                raise ConfigErrors([_no_such_route(rule, API_SOURCE)])
            return rule
        if not isinstance(data, dict):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "", "expected one stub (a JSON or YAML object)")])
        [loaded] = validate_stubs({**data, "id": item_id}, API_SOURCE)
        if old is None:
            self._api_order += 1
        try:
            return compile_route(loaded, old.order if old else self._api_order, self.settings.stubs, self.pools,
                                 self.settings, self.fault_state, self.protos)
        except ConfigValueError as exc:
            raise ConfigErrors([LoadedStub(loaded.spec, API_SOURCE, None).error(exc.loc, str(exc))]) from None

    def add_contract(self, data: Any) -> Contract:
        """A contract from the admin API: `{openapi: FILE}` (a spec under the stubs directory) or
        `{spec: {...the document...}}`, with the options a stub file's `contract:` takes."""
        if not isinstance(data, dict):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "", "expected {openapi: FILE} or {spec: {...}}")])
        contract_id = data.pop("id", None) or str(uuid.uuid4())
        if not isinstance(contract_id, str) or contract_id in {c.id for c in self.contracts()}:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", f"a contract with id {contract_id!r} exists"
                                            if isinstance(contract_id, str) else "an id is a string")])
        document = data.pop("spec", None)
        if document is not None and not isinstance(document, dict):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "spec", "the spec is an OpenAPI document or a pact "
                                            "(an object)")])
        pact = isinstance(document, dict) and ("interactions" in document or "messages" in document)
        if pact and isinstance(document, dict):
            data.setdefault("pact", "admin-api")
            parties = [str(p.get("name")) for p in (document.get("consumer"), document.get("provider"))
                       if isinstance(p, dict) and p.get("name")]
            data.setdefault("name", "-".join(parties) or "admin-api")
        elif document is not None:
            data.setdefault("openapi", "admin-api")
            data.setdefault("name", str((document.get("info") or {}).get("title") or "admin-api")
                            if isinstance(document.get("info"), dict) else "admin-api")
        [loaded] = validate_stubs({"contract": data}, API_SOURCE)
        assert isinstance(loaded.spec, ContractEntrySpec)
        root = self.settings.stubs
        try:
            spec: Any = None
            if pact:
                spec = load_pact(root / "admin-api.json", loaded.spec.contract.name or API_SOURCE, document)
            elif document is not None:  # relative $refs are read from the stubs directory
                spec = load_spec(root / "admin-api.yaml", loaded.spec.contract.name or API_SOURCE, document,
                                 confine=root)
            contract = compile_contract(loaded, self._next_order(), root, "api", contract_id, spec)
        except SpecError as exc:
            raise ConfigErrors([spec_error(exc)]) from None
        except PactError as exc:
            raise ConfigErrors([ConfigError(exc.file, None, exc.pointer, exc.message)]) from None
        except ValueError as exc:
            raise ConfigErrors([ConfigError(API_SOURCE, None, loaded.spec.contract.kind, str(exc))]) from None
        self.api_contracts[contract.id] = contract
        return contract

    def delete_contract(self, contract_id: str) -> bool | None:
        """True: deleted; None: no such contract; False: it comes from a file (edit the file)."""
        if self.api_contracts.pop(contract_id, None) is not None:
            return True
        return False if any(c.id == contract_id for c in self.file_contracts) else None

    def _next_order(self) -> int:
        self._api_order += 1
        return self._api_order

    def _fault(self, data: Any, fault_id: str | None, source: str, origin: str):
        if isinstance(data, dict) and fault_id is not None:
            data = {**data, "id": fault_id}
        loaded = validate_fault(data, source)
        try:
            return compile_fault_rule(loaded, self.settings, self.fault_state, origin)
        except ConfigValueError as exc:
            raise ConfigErrors([loaded.error(exc.loc, str(exc))]) from None


def _no_such_route(rule: FaultRule, source: str) -> ConfigError:
    """The error `stuntman validate` gives a fault file's `route:` naming no stub."""
    return ConfigError(source, None, "route", f"no stub is named {rule.route_name!r}")


_REQUEST_KEYS = {"method", "path", "pathPrefix", "pathRegex"}


def parse_fault_flag(text: str) -> dict:
    """'path=/api/payments,type=error,status=503,headers.Retry-After=1' → a fault body:
    method/path/pathPrefix/pathRegex go to its `request`, dotted keys nest, values stay strings
    (the model converts them)."""
    fault: dict = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ConfigErrors([ConfigError("--fault", None, key, "expected key=value")])
        if key in _REQUEST_KEYS:
            fault.setdefault("request", {})[key] = value
            continue
        *parents, leaf = key.split(".")
        node = fault
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return fault
