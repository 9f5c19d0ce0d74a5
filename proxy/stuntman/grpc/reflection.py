"""gRPC server reflection, v1 and v1alpha, answered from the .proto files loaded now (--proto).

Both services are the same bidi stream (one response per request): list_services,
file_by_filename, file_containing_symbol, file_containing_extension and
all_extension_numbers_of_type. Each request reads the server's current ProtoSet
(`server.table.protos`, replaced on every reload), so what a client sees is what is loaded at
that moment; nothing is kept from one reload to the next. A file is sent as protoc compiled it
(with its source info, so comments reach the client), followed by every file it imports,
transitively. Names the ProtoSet does not hold are looked up among the services stuntman serves
itself (grpc.health.v1.Health and the two reflection services), which list_services names too.

grpcio-reflection's servicer takes a fixed pool and list of services when it is made and serves
v1alpha only, so the servicer here is a small one of our own on its generated messages.
v1 is the same protocol with the same messages, only in package grpc.reflection.v1; the library
does not ship it, so its descriptor is v1alpha's with the package renamed (file name, package,
the type names that point inside it, the options that name the package) and its message classes
are made from that descriptor. On the wire the two are identical; the renamed descriptor is what
reflection itself answers when asked about grpc.reflection.v1.ServerReflection.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc import aio
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha

if TYPE_CHECKING:
    from ..proto.protoset import ProtoSet
    from .listener import GrpcListener

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
METHOD = "ServerReflectionInfo"


def _proto_of(file: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    return proto


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto: v1alpha's file in package grpc.reflection.v1."""
    proto = _proto_of(v1alpha.DESCRIPTOR)
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    proto.name, proto.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old):]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    proto.options.ClearField("deprecated")  # (v1alpha is; v1 is its successor)
    return proto


# The files of the services stuntman serves itself, in a pool of their own.
BUILTIN_FILES = {proto.name: proto for proto in (
    _proto_of(health_pb2.DESCRIPTOR), _v1_file(), _proto_of(v1alpha.DESCRIPTOR))}
_BUILTIN_POOL = descriptor_pool.DescriptorPool()
for _proto in BUILTIN_FILES.values():
    _BUILTIN_POOL.Add(_proto)
BUILTIN_SERVICES = tuple(f"{proto.package}.{service.name}" for proto in BUILTIN_FILES.values()
                         for service in proto.service)

# v1's message classes, made from the renamed descriptor (v1alpha's are reflection_pb2's).
v1 = SimpleNamespace(**{name: message_factory.GetMessageClass(_BUILTIN_POOL.FindMessageTypeByName(
    f"grpc.reflection.v1.{name}")) for name in v1alpha.DESCRIPTOR.message_types_by_name})


class _Files:
    """Where names are looked up for one request: the current ProtoSet, then the built-in files."""

    def __init__(self, protos: ProtoSet | None):
        self.pools = [protos.pool, _BUILTIN_POOL] if protos is not None else [_BUILTIN_POOL]
        self.protos = {proto.name: proto for proto in protos.files} if protos is not None else {}
        self.services = [*(protos.services if protos is not None else ()), *BUILTIN_SERVICES]

    def file(self, name: str) -> descriptor_pb2.FileDescriptorProto:
        """The file as protoc compiled it (the pool's copy if the set lacks it); KeyError if none."""
        found = self.protos.get(name) or BUILTIN_FILES.get(name)
        if found is not None:
            return found
        for pool in self.pools:
            try:
                return _proto_of(pool.FindFileByName(name))
            except KeyError:
                continue
        raise KeyError(f"no file named {name!r}")

    def _find(self, what: str, find: Any) -> str:
        for pool in self.pools:
            try:
                return str(find(pool).name)
            except KeyError:
                continue
        raise KeyError(what)

    def containing_symbol(self, symbol: str) -> str:
        return self._find(f"no symbol {symbol!r}", lambda pool: _file_containing(pool, symbol))

    def containing_extension(self, containing_type: str, number: int) -> str:
        return self._find(f"no extension {number} of {containing_type!r}", lambda pool: pool.FindExtensionByNumber(
            pool.FindMessageTypeByName(containing_type), number).file)

    def extension_numbers(self, containing_type: str) -> tuple[str, list[int]]:
        for pool in self.pools:
            try:
                message = pool.FindMessageTypeByName(containing_type)
            except KeyError:
                continue
            return message.full_name, sorted(ext.number for ext in pool.FindAllExtensions(message))
        raise KeyError(f"no message type {containing_type!r}")

    def with_imports(self, name: str) -> Iterator[bytes]:
        """The file, then every file it imports (transitively), each once, serialized."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            try:
                proto = self.file(name)
            except KeyError:  # (an import the set does not hold: the client is told of what there is)
                continue
            yield proto.SerializeToString()
            todo.extend(proto.dependency)


def _file_containing(pool: Any, symbol: str) -> Any:
    """The file that declares a symbol: a message, enum, service, field, enum value, extension,
    or a method (pkg.Service.Method, which the pool itself does not look up)."""
    try:
        return pool.FindFileContainingSymbol(symbol)
    except KeyError:
        service, _, method = symbol.rpartition(".")
        if service and method in pool.FindServiceByName(service).methods_by_name:  # (KeyError if none)
            return pool.FindServiceByName(service).file
        raise


def answer(protos: ProtoSet | None, request: Any, types: Any) -> Any:
    """The response to one request, in `types`' messages (v1 or v1alpha)."""
    response = types.ServerReflectionResponse(valid_host=request.host, original_request=request)
    asked = request.WhichOneof("message_request")
    files = _Files(protos)
    try:
        if asked == "list_services":
            response.list_services_response.service.extend(
                types.ServiceResponse(name=name) for name in dict.fromkeys(files.services))
        elif asked == "file_by_filename":
            response.file_descriptor_response.file_descriptor_proto.extend(
                files.with_imports(files.file(request.file_by_filename).name))
        elif asked == "file_containing_symbol":
            response.file_descriptor_response.file_descriptor_proto.extend(
                files.with_imports(files.containing_symbol(request.file_containing_symbol)))
        elif asked == "file_containing_extension":
            extension = request.file_containing_extension
            response.file_descriptor_response.file_descriptor_proto.extend(files.with_imports(
                files.containing_extension(extension.containing_type, extension.extension_number)))
        elif asked == "all_extension_numbers_of_type":
            base, numbers = files.extension_numbers(request.all_extension_numbers_of_type)
            response.all_extension_numbers_response.base_type_name = base
            response.all_extension_numbers_response.extension_number.extend(numbers)
        else:
            response.error_response.error_code = grpc.StatusCode.INVALID_ARGUMENT.value[0]
            response.error_response.error_message = "the request asks for nothing this server knows"
    except KeyError as exc:
        response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
        response.error_response.error_message = str(exc.args[0]) if exc.args else "not found"
    return response


def handlers(listener: GrpcListener) -> list[grpc.GenericRpcHandler]:
    """grpc.reflection.v1 and v1alpha's ServerReflection."""
    return [_handler(listener, V1, v1), _handler(listener, V1ALPHA, v1alpha)]


def _handler(listener: GrpcListener, service: str, types: Any) -> grpc.GenericRpcHandler:
    async def info(requests: AsyncIterator[Any], context: aio.ServicerContext) -> AsyncIterator[Any]:
        async for request in requests:
            yield answer(listener.server.table.protos, request, types)  # (the set loaded now)
    return grpc.method_handlers_generic_handler(service, {METHOD: grpc.stream_stream_rpc_method_handler(
        info, request_deserializer=types.ServerReflectionRequest.FromString,
        response_serializer=types.ServerReflectionResponse.SerializeToString)})
