"""The stubs and standalone faults a server answers with: the files under the stubs directory,
plus what the admin API created, replaced or deleted at runtime (and `--fault` flags), merged into
one route table.

A reload from the files keeps the API's changes; `reset` drops them and returns to the files.
Every change compiles only what it touches, then builds a new table for the server to swap in.
"""
from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from .compile import compile_fault_rule, compile_route, load_table
from .config.loader import (
    ConfigError,
    ConfigErrors,
    LoadedStub,
    validate_fault,
    validate_stubs,
)
from .faults.kinds import FaultState
from .faults.rules import FaultRule, FaultRules
from .match.routes import Route, RouteTable
from .respond.stub import ConfigValueError

API_SOURCE = "admin-api"


class Mappings:
    def __init__(self, settings, pools: dict, faults: FaultState):
        self.settings, self.pools, self.faults = settings, pools, faults
        self.file_routes: list[Route] = []
        self.api_routes: dict[str, Route] = {}  # created, or replacing a file stub with that id
        self.deleted: set[str] = set()          # file stubs deleted through the API
        self._api_order = 1 << 30               # API stubs rank after file stubs on ties
        self.file_faults: list[FaultRule] = []
        self.api_faults: dict[str, FaultRule] = {}
        self.deleted_faults: set[str] = set()
        self.cli_faults = [self._compile_fault(parse_fault_flag(text), None, f"--fault #{i + 1}", "cli")
                           for i, text in enumerate(settings.fault)]

    def load_files(self, emptied_means_busy: Collection[str] = ()) -> None:
        """Re-read the files; on any error (ConfigErrors, FileInFlux) nothing changes."""
        table, errors = load_table(self.settings.stubs, self.pools, self.settings, emptied_means_busy, self.faults)
        if errors:
            raise ConfigErrors(errors)
        self.file_routes = table.routes
        self.file_faults = table.faults.rules

    def table(self) -> RouteTable:
        api = self.api_routes
        routes = [r for r in self.file_routes if r.id not in api and r.id not in self.deleted] + list(api.values())
        return RouteTable(routes, FaultRules(self.fault_rules(), routes, self.settings.fault_headers))

    # -- standalone faults ----------------------------------------------------------------------
    def fault_rules(self) -> list[FaultRule]:
        api, gone = self.api_faults, self.deleted_faults
        return [r for r in self.cli_faults + self.file_faults if r.fault.id not in api and r.fault.id not in gone] \
            + list(api.values())

    def get_fault(self, fault_id: str) -> FaultRule | None:
        return next((r for r in self.fault_rules() if r.fault.id == fault_id), None)

    def add_fault(self, data: Any) -> FaultRule:
        fault_id = data.get("id") if isinstance(data, dict) else None
        if fault_id is not None and self.get_fault(fault_id) is not None:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id",
                                            f"a fault with id {fault_id!r} exists: PUT /__admin/faults/{fault_id}")])
        rule = self._compile_fault(data, fault_id or str(uuid.uuid4()), API_SOURCE, "api")
        self.api_faults[rule.fault.id] = rule
        return rule

    def replace_fault(self, fault_id: str, data: Any) -> FaultRule | None:
        if self.get_fault(fault_id) is None:
            return None
        if isinstance(data, dict) and data.get("id", fault_id) != fault_id:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", "the body's id differs from the URL's")])
        rule = self._compile_fault(data, fault_id, API_SOURCE, "api")
        self.api_faults[fault_id] = rule
        return rule

    def delete_fault(self, fault_id: str) -> bool:
        if self.get_fault(fault_id) is None:
            return False
        self.api_faults.pop(fault_id, None)
        self.deleted_faults.add(fault_id)
        return True

    def delete_all_faults(self) -> None:
        self.api_faults.clear()
        self.deleted_faults = {r.fault.id for r in self.fault_rules()}

    def reset_faults(self) -> None:
        self.api_faults.clear()
        self.deleted_faults.clear()

    def _compile_fault(self, data: Any, fault_id: str | None, source: str, origin: str) -> FaultRule:
        if isinstance(data, dict) and fault_id is not None:
            data = {**data, "id": fault_id}
        loaded = validate_fault(data, source)
        try:
            return compile_fault_rule(loaded, self.settings, self.faults, origin)
        except ConfigValueError as exc:
            raise ConfigErrors([loaded.error(exc.loc, str(exc))]) from None

    def get(self, route_id: str) -> Route | None:
        if route_id in self.api_routes:
            return self.api_routes[route_id]
        if route_id in self.deleted:
            return None
        return next((r for r in self.file_routes if r.id == route_id), None)

    # -- changes from the admin API (each raises ConfigErrors naming the body's fields) -------
    def add(self, data: Any) -> Route:
        route_id = data.get("id") if isinstance(data, dict) else None
        if route_id is not None and not isinstance(route_id, str):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", "an id is a string")])
        if route_id is not None and self.get(route_id) is not None:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id",
                                            f"a stub with id {route_id!r} exists: PUT /__admin/mappings/{route_id}")])
        route = self._compile(data, route_id or str(uuid.uuid4()), None)
        self.api_routes[route.id] = route
        return route

    def replace(self, route_id: str, data: Any) -> Route | None:
        old = self.get(route_id)
        if old is None:
            return None
        if isinstance(data, dict) and data.get("id", route_id) != route_id:
            raise ConfigErrors([ConfigError(API_SOURCE, None, "id", "the body's id differs from the URL's")])
        route = self._compile(data, route_id, old.order)
        self.api_routes[route_id] = route
        return route

    def delete(self, route_id: str) -> bool:
        if self.get(route_id) is None:
            return False
        self.api_routes.pop(route_id, None)
        if any(r.id == route_id for r in self.file_routes):
            self.deleted.add(route_id)
        return True

    def delete_all(self) -> None:
        self.api_routes.clear()
        self.deleted = {r.id for r in self.file_routes}

    def reset(self) -> None:
        """Back to exactly what the files say (the caller reloads them)."""
        self.api_routes.clear()
        self.deleted.clear()

    def _compile(self, data: Any, route_id: str, order: int | None) -> Route:
        if not isinstance(data, dict):
            raise ConfigErrors([ConfigError(API_SOURCE, None, "", "expected one stub (a JSON or YAML object)")])
        [loaded] = validate_stubs({**data, "id": route_id}, API_SOURCE)
        if order is None:
            self._api_order += 1
            order = self._api_order
        try:
            return compile_route(loaded, order, self.settings.stubs, self.pools, self.settings)
        except ConfigValueError as exc:
            raise ConfigErrors([LoadedStub(loaded.spec, API_SOURCE, None).error(exc.loc, str(exc))]) from None


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
