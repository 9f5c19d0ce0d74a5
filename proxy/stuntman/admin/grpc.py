"""/__admin/grpc: the gRPC services of the loaded .proto files (--proto), their methods and health;
and the health statuses grpc.health.v1.Health answers, set at runtime.

GET /__admin/grpc/services lists each service with its methods (path, kind, input and output
types) and its health status, the services stuntman serves itself (health, reflection), and the
statuses set for services no .proto describes. PUT /__admin/grpc/health/{service} (or
/__admin/grpc/health for the overall status) sets one: SERVING, NOT_SERVING, SERVICE_UNKNOWN or
UNKNOWN; it holds until set again, across reloads. Without a gRPC listener (--grpc-port) both
answer 404.
"""
from __future__ import annotations

from aiohttp import web

from .inputs import read_body

NO_LISTENER = "no gRPC listener: start stuntman with --grpc-port"
STATUS_NAMES = ("SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN")


def add_grpc_routes(app: web.Application, server) -> None:
    def no_listener() -> web.Response:
        return web.json_response({"error": NO_LISTENER}, status=404)

    async def list_services(request: web.Request) -> web.Response:
        listener = server.grpc
        if listener is None:
            return no_listener()
        from ..grpc.health import NAMES, OVERALL, all_statuses
        from ..grpc.reflection import BUILTIN_SERVICES

        protos = listener.server.table.protos  # (the set loaded now)
        statuses = {name: NAMES[status] for name, status in all_statuses(listener).items()}
        services: dict[str, dict] = {}
        for name in protos.services if protos is not None else ():
            services[name] = {"name": name, "file": protos.pool.FindServiceByName(name).file.name,
                              "health": statuses.get(name), "methods": []}
        for path, method in (protos.methods.items() if protos is not None else ()):
            service, _, method_name = path[1:].rpartition("/")
            if service in services:
                services[service]["methods"].append({
                    "name": method_name, "path": path, "kind": method.kind,
                    "input": method.input.full_name, "output": method.output.full_name})
        listed = {OVERALL, *services, *BUILTIN_SERVICES}
        return web.json_response({
            "services": list(services.values()),
            "builtin": [{"name": name, "health": statuses.get(name)} for name in BUILTIN_SERVICES],
            "overall": statuses[OVERALL],
            "otherHealth": {name: status for name, status in statuses.items() if name not in listed},
            "meta": {"total": len(services), "protos": protos is not None}})

    async def set_health(request: web.Request) -> web.Response:
        listener = server.grpc
        if listener is None:
            return no_listener()
        from ..grpc.health import NAMES, STATUSES, health_of

        service = request.match_info.get("service", "")
        body = await read_body(request)
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUS_NAMES:
            field = "status" if isinstance(body, dict) else ""
            message = (f"status must be one of {', '.join(STATUS_NAMES)} (given: {status!r})" if field else
                       "expected an object: {\"status\": \"SERVING\"} (or NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN)")
            return web.json_response({"error": message, "errors": [{"field": field, "message": message}],
                                      "known": list(STATUS_NAMES)}, status=400)
        health_of(listener).set(service, STATUSES[status])
        return web.json_response({"service": service, "status": NAMES[STATUSES[status]]})

    app.router.add_get("/__admin/grpc/services", list_services)
    app.router.add_put("/__admin/grpc/health", set_health)
    app.router.add_put("/__admin/grpc/health/{service}", set_health)
