"""The stubs a server answers from: the files under the stubs directory, plus what the admin API
created, replaced or deleted at runtime, merged into one route table.

A reload from the files keeps the API's changes; `reset` drops them and returns to the files.
Every change compiles only the stubs it touches, then builds a new table for the server to swap in.
"""
from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from .compile import compile_route, load_table
from .config.loader import (
    ConfigError,
    ConfigErrors,
    LoadedStub,
    validate_stubs,
)
from .match.routes import Route, RouteTable
from .respond.stub import ConfigValueError

API_SOURCE = "admin-api"


class Mappings:
    def __init__(self, settings, pools: dict):
        self.settings, self.pools = settings, pools
        self.file_routes: list[Route] = []
        self.api_routes: dict[str, Route] = {}  # created, or replacing a file stub with that id
        self.deleted: set[str] = set()          # file stubs deleted through the API
        self._api_order = 1 << 30               # API stubs rank after file stubs on ties

    def load_files(self, emptied_means_busy: Collection[str] = ()) -> None:
        """Re-read the files; on any error (ConfigErrors, FileInFlux) nothing changes."""
        table, errors = load_table(self.settings.stubs, self.pools, self.settings, emptied_means_busy)
        if errors:
            raise ConfigErrors(errors)
        self.file_routes = table.routes

    def table(self) -> RouteTable:
        api = self.api_routes
        return RouteTable([r for r in self.file_routes if r.id not in api and r.id not in self.deleted]
                          + list(api.values()))

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
