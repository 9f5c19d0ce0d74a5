"""gRPC, a protocol in front of the pipeline: a grpc.aio server on --grpc-port whose one generic
handler takes every call, as raw bytes, with no generated code (listener.py); each call is an
Exchange (call.py) the pipeline journals and counts; calls pass through to --grpc-upstream
(proxy.py). (Absolute `import grpc` in these modules is grpcio, not this package.)"""
