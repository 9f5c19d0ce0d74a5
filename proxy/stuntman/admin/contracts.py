"""/__admin/contracts: the contracts served as stubs (OpenAPI today), with their operations, where
each is served, and the load errors of the files that hold them; a contract created at runtime
(`{openapi: FILE}` under the stubs directory, or `{spec: {...}}`, the document itself) and
deleted again. A contract from a file changes with its file (hot reload)."""
from __future__ import annotations

from aiohttp import web

from .inputs import read_body


def add_contract_routes(app: web.Application, server) -> None:
    mappings = server.mappings

    def listing() -> web.Response:
        contracts = [c.as_json() for c in server.table.contracts]
        files = {c.source for c in server.table.contracts}
        # the last reload's errors that concern a contract's files (the previous contract serves meanwhile)
        errors = [e.as_dict() for e in server.config_errors
                  if e.file in files or e.file.startswith("--openapi") or "contract" in e.field]
        return web.json_response({"contracts": contracts, "meta": {"total": len(contracts)}, "loadErrors": errors})

    async def list_all(request: web.Request) -> web.Response:
        return listing()

    async def create(request: web.Request) -> web.Response:
        contract = mappings.add_contract(await read_body(request))
        server.publish()
        return web.json_response(contract.as_json(), status=201)

    def find(contract_id: str):
        return next((c for c in server.table.contracts if c.id == contract_id), None)

    async def get_one(request: web.Request) -> web.Response:
        contract = find(request.match_info["id"])
        if contract is None:
            return _no_such(request.match_info["id"])
        return web.json_response(contract.as_json())

    async def delete_one(request: web.Request) -> web.Response:
        contract_id = request.match_info["id"]
        deleted = mappings.delete_contract(contract_id)
        if deleted is None:
            return _no_such(contract_id)
        if not deleted:
            return web.json_response({"error": f"contract {contract_id!r} comes from a file: edit or remove the "
                                               "file (or its --openapi flag)"}, status=409)
        server.publish()
        return web.json_response({"deleted": contract_id})

    app.router.add_get("/__admin/contracts", list_all)
    app.router.add_post("/__admin/contracts", create)
    app.router.add_get("/__admin/contracts/{id}", get_one)
    app.router.add_delete("/__admin/contracts/{id}", delete_one)


def _no_such(contract_id: str) -> web.Response:
    return web.json_response({"error": f"no contract with id {contract_id!r}"}, status=404)
