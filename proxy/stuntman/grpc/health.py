"""grpc.health.v1.Health (Check, Watch, and List where the library has it), answered from what
stuntman serves now.

The overall status (service "") and every service of the current ProtoSet (--proto, read at call
time: a reload changes which services are known) are SERVING, and so are the services stuntman
serves itself (health, reflection), unless a status was set through the admin API
(PUT /__admin/grpc/health[/{service}]). A status set there belongs to the listener, not to the
loaded files: it outlives reloads, and may name a service no .proto describes (one passed through
to an upstream). Any other name is unknown: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN (as
the standard says), until it becomes known. Watch sends the current status, then each change:
one set through the admin API at once, one a reload makes within RECHECK_SECONDS.

grpcio-health-checking's aio servicer keeps one fixed map of statuses (a service is known once
set, never by being loaded), so this is a small servicer of our own on its generated messages.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from .reflection import BUILTIN_SERVICES

if TYPE_CHECKING:
    from .listener import GrpcListener

SERVICE = "grpc.health.v1.Health"
# List is newer than Check and Watch: older grpcio-health-checking (and the type stubs) lack its
# messages; then it is not served (nor in the health.proto reflection sends, the library's)
HealthListRequest: Any = getattr(health_pb2, "HealthListRequest", None)
HealthListResponse: Any = getattr(health_pb2, "HealthListResponse", None)
OVERALL = ""
SERVING = HealthCheckResponse.SERVING
SERVICE_UNKNOWN = HealthCheckResponse.SERVICE_UNKNOWN
STATUSES: dict[str, int] = {name: int(value) for name, value in HealthCheckResponse.ServingStatus.items()}
NAMES = {value: name for name, value in STATUSES.items()}
RECHECK_SECONDS = 1.0  # how often a Watch looks again without a change set here (a reload's)


class HealthStatuses:
    """The statuses set through the admin API, by service name ('' the overall one)."""

    def __init__(self) -> None:
        self.set_here: dict[str, int] = {}
        self._changed = asyncio.Event()  # set (and replaced) on every change

    def set(self, service: str, status: int) -> None:
        self.set_here[service] = status
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def next_change(self) -> asyncio.Event:
        return self._changed


_STATUSES: WeakKeyDictionary[GrpcListener, HealthStatuses] = WeakKeyDictionary()


def health_of(listener: GrpcListener) -> HealthStatuses:
    """The listener's statuses (made on first use; they live as long as the listener)."""
    statuses = _STATUSES.get(listener)
    if statuses is None:
        statuses = _STATUSES[listener] = HealthStatuses()
    return statuses


def loaded_services(listener: GrpcListener) -> list[str]:
    protos = listener.server.table.protos
    return list(protos.services) if protos is not None else []


def status_of(listener: GrpcListener, service: str) -> int | None:
    """The service's status now; None if the service is unknown."""
    status = health_of(listener).set_here.get(service)
    if status is not None:
        return status
    if service == OVERALL or service in BUILTIN_SERVICES or service in loaded_services(listener):
        return SERVING
    return None


def all_statuses(listener: GrpcListener) -> dict[str, int]:
    """Every known service's status: the overall one, the loaded services, stuntman's own, and
    those set through the admin API."""
    names = dict.fromkeys([OVERALL, *loaded_services(listener), *BUILTIN_SERVICES,
                           *health_of(listener).set_here])
    return {name: status for name in names if (status := status_of(listener, name)) is not None}


def handler(listener: GrpcListener) -> grpc.GenericRpcHandler:
    async def check(request: HealthCheckRequest, context: aio.ServicerContext) -> HealthCheckResponse:
        status = status_of(listener, request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return HealthCheckResponse(status=status)

    async def watch(request: HealthCheckRequest, context: aio.ServicerContext) -> AsyncIterator[HealthCheckResponse]:
        statuses = health_of(listener)
        sent = None
        while True:
            changed = statuses.next_change()  # (taken first: a change while sending is not missed)
            status = status_of(listener, request.service)
            status = SERVICE_UNKNOWN if status is None else status
            if status != sent:
                yield HealthCheckResponse(status=status)
                sent = status
            try:
                await asyncio.wait_for(changed.wait(), RECHECK_SECONDS)
            except TimeoutError:
                pass  # (look again: a reload may have added or removed the service)

    async def list_all(request: Any, context: aio.ServicerContext) -> Any:
        response = HealthListResponse()
        for name, status in all_statuses(listener).items():
            response.statuses[name].status = status
        return response

    methods = {
        "Check": grpc.unary_unary_rpc_method_handler(
            check, request_deserializer=HealthCheckRequest.FromString,
            response_serializer=HealthCheckResponse.SerializeToString),
        "Watch": grpc.unary_stream_rpc_method_handler(
            watch, request_deserializer=HealthCheckRequest.FromString,
            response_serializer=HealthCheckResponse.SerializeToString),
    }
    if HealthListRequest is not None:
        methods["List"] = grpc.unary_unary_rpc_method_handler(
            list_all, request_deserializer=HealthListRequest.FromString,
            response_serializer=HealthListResponse.SerializeToString)
    return grpc.method_handlers_generic_handler(SERVICE, methods)
