"""/__admin/faults: standalone faults at runtime, in the shape of /__admin/mappings (the shared
list/create/get/replace/delete handlers are add_collection, in admin/__init__.py); here what is
particular to faults: their JSON, PATCH, reset, and a stub's own faults.

A fault created here targets a stub by name (`route`), requests a matcher accepts (`request`),
or every request (neither). PATCH merges fields into a fault (`{"enabled": false}` turns it off
without deleting it); a stub's own faults are listed too, and change with their stub.
"""
from __future__ import annotations

import json

from aiohttp import web

from ..faults.rules import FaultRule
from .inputs import read_body


def fault_json(rule: FaultRule) -> dict:
    return {**json.loads(rule.definition), "id": rule.fault.id, "origin": rule.origin, "source": rule.fault.source}


def fault_listing(server) -> web.Response:
    """Standalone faults (flags, files, the API), then every stub's own (origin "stub")."""
    found = [fault_json(r) for r in server.mappings.faults.items()]
    found += [{**f.spec.model_dump(mode="json", by_alias=True, exclude_unset=True), "id": f.id, "origin": "stub",
               "stub": route.id, "source": f.source}
              for route in server.table.routes for f in route.faults]
    return web.json_response({"faults": found, "meta": {"total": len(found)}})


def no_such_fault(server, fault_id: str) -> web.Response:
    for route in server.table.routes:
        if any(f.id == fault_id for f in route.faults):
            return web.json_response({"error": f"fault {fault_id!r} belongs to stub {route.id}: "
                                               f"change it with PUT /__admin/mappings/{route.id}"}, status=409)
    return web.json_response({"error": f"no fault with id {fault_id!r}"}, status=404)


def add_fault_routes(app: web.Application, server) -> None:
    mappings = server.mappings

    async def patch_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        changes = await read_body(request)
        rule = mappings.faults.get(fault_id)
        if rule is None:
            return no_such_fault(server, fault_id)
        if not isinstance(changes, dict):
            return web.json_response({"error": "expected an object of the fields to change"}, status=400)
        rule = mappings.replace(mappings.faults, fault_id, {**json.loads(rule.definition), **changes})
        server.publish()
        return web.json_response(fault_json(rule))

    async def reset_faults(request: web.Request) -> web.Response:
        """Back to the files' (and --fault flags') faults, every counter and generator afresh; with
        ?session=S, only that session's counters, generators and limits, the faults left as they are
        (a test resetting its own session does not disturb the tests running beside it)."""
        session = request.query.get("session")
        if session is not None:
            server.fault_state.reset(session)
            return fault_listing(server)
        mappings.faults.reset()
        server.fault_state.reset()
        server.publish()
        return fault_listing(server)

    app.router.add_post("/__admin/faults/reset", reset_faults)
    app.router.add_patch("/__admin/faults/{id}", patch_fault)
