"""Protocol Buffers at runtime: .proto files compiled in-process by grpcio-tools' bundled protoc
into descriptors (no generated code written anywhere), messages read from and written as JSON."""
