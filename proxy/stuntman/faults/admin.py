"""/__admin/faults: standalone faults at runtime, in the shape of /__admin/mappings.

A fault created here targets a stub by name (`route`), requests a matcher accepts (`request`),
or every request (neither). PATCH merges fields into a fault (`{"enabled": false}` turns it off
without deleting it); a stub's own faults are listed too, and change with their stub.
"""
from __future__ import annotations

import json

from aiohttp import web

from .rules import FaultRule


def fault_json(rule: FaultRule) -> dict:
    return {**json.loads(rule.definition), "id": rule.fault.id, "origin": rule.origin, "source": rule.fault.source}


def own_fault_json(route, fault) -> dict:
    return {**fault.spec.model_dump(mode="json", exclude_unset=True), "id": fault.id, "origin": "stub",
            "stub": route.id, "source": fault.source}


def add_fault_routes(app: web.Application, server, read_body) -> None:
    mappings = server.mappings

    def _listing() -> web.Response:
        found = [fault_json(r) for r in mappings.fault_rules()]
        found += [own_fault_json(route, f) for route in server.table.routes for f in route.faults]
        return web.json_response({"faults": found, "meta": {"total": len(found)}})

    def _not_found(fault_id: str) -> web.Response:
        for route in server.table.routes:
            if any(f.id == fault_id for f in route.faults):
                return web.json_response({"error": f"fault {fault_id!r} belongs to stub {route.id}: "
                                                   f"change it with PUT /__admin/mappings/{route.id}"}, status=409)
        return web.json_response({"error": f"no fault with id {fault_id!r}"}, status=404)

    async def list_faults(request: web.Request) -> web.Response:
        return _listing()

    async def create_fault(request: web.Request) -> web.Response:
        rule = mappings.add_fault(await read_body(request))
        server.publish()
        return web.json_response(fault_json(rule), status=201)

    async def delete_faults(request: web.Request) -> web.Response:
        mappings.delete_all_faults()
        server.publish()
        return _listing()

    async def get_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        rule = mappings.get_fault(fault_id)
        return web.json_response(fault_json(rule)) if rule else _not_found(fault_id)

    async def put_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        rule = mappings.replace_fault(fault_id, await read_body(request))
        if rule is None:
            return _not_found(fault_id)
        server.publish()
        return web.json_response(fault_json(rule))

    async def patch_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        changes = await read_body(request)
        rule = mappings.get_fault(fault_id)
        if rule is None:
            return _not_found(fault_id)
        if not isinstance(changes, dict):
            return web.json_response({"error": "expected an object of the fields to change"}, status=400)
        rule = mappings.replace_fault(fault_id, {**json.loads(rule.definition), **changes})
        server.publish()
        return web.json_response(fault_json(rule))

    async def delete_fault(request: web.Request) -> web.Response:
        fault_id = request.match_info["id"]
        if not mappings.delete_fault(fault_id):
            return _not_found(fault_id)
        server.publish()
        return web.json_response({"deleted": fault_id})

    async def reset_faults(request: web.Request) -> web.Response:
        """Back to the files' (and --fault flags') faults, every counter and generator afresh."""
        mappings.reset_faults()
        server.fault_state.reset()
        server.publish()
        return _listing()

    app.router.add_get("/__admin/faults", list_faults)
    app.router.add_post("/__admin/faults", create_fault)
    app.router.add_delete("/__admin/faults", delete_faults)
    app.router.add_post("/__admin/faults/reset", reset_faults)
    app.router.add_get("/__admin/faults/{id}", get_fault)
    app.router.add_put("/__admin/faults/{id}", put_fault)
    app.router.add_patch("/__admin/faults/{id}", patch_fault)
    app.router.add_delete("/__admin/faults/{id}", delete_fault)
