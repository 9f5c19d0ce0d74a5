"""The fault kinds, one file each (after Toxiproxy's toxics/*.go): its model, its runtime class
and its registration. Importing this package registers them all; FAULT_TYPES and `FaultSpec`
(the discriminated union every config file, admin API body and the JSON Schema use) are derived
from the registry, in registration order: the order of the imports below.

What they share (selection, counters, the registry, `compile_fault`) is in `base.py`; the
models build on `stuntman.config.base` only, so `stuntman.config.model` can import this package.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from ...config.base import FaultBase
from .base import KINDS, Answer, Counter, Fault, FaultState, Kind, compile_fault, register

# isort: off
# registration order = the order of FAULT_TYPES, of the schema's union and of error messages
from . import latency, error, reset, close, hang, deadline, bandwidth, dribble, truncate, corrupt, upstream_timeout  # noqa: E501,F401
from . import rate_limit, concurrency_limit  # noqa: F401  (limits: they keep state across requests)
from . import load_latency, flap  # noqa: F401  (load and outages: state across requests too)
from . import abort_stream  # noqa: F401  (gRPC streams)
# isort: on
from .abort_stream import AbortStream, AbortStreamFault
from .bandwidth import Bandwidth, BandwidthFault
from .close import Close, CloseFault
from .concurrency_limit import ConcurrencyLimit, ConcurrencyLimitFault
from .corrupt import Corrupt, CorruptFault
from .deadline import Deadline, DeadlineFault
from .dribble import Dribble, DribbleFault
from .error import GRPC_STATUS_CODES, GRPC_STATUS_NAMES, Error, ErrorFault
from .flap import Flap, FlapFault
from .hang import Hang, HangFault
from .latency import Latency, LatencyFault, LognormalSpec, NormalSpec, UniformSpec
from .load_latency import LoadLatency, LoadLatencyFault
from .rate_limit import RateLimit, RateLimitFault
from .reset import Reset, ResetFault
from .truncate import Truncate, TruncateFault
from .upstream_timeout import UpstreamTimeout, UpstreamTimeoutFault

FAULT_TYPES: tuple[str, ...] = tuple(KINDS)

if TYPE_CHECKING:  # a union built at run time is beyond a type checker: every kind's model is a FaultBase
    FaultSpec = FaultBase
else:
    FaultSpec = Annotated[
        # a union of a tuple built at run time: only Union[...] takes one (X | Y needs the members spelt out)
        Union[tuple(kind.spec for kind in KINDS.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]
    # a flap holds any other kind: its `fault` field is this union, which exists only now
    FlapFault.model_rebuild(_types_namespace={"FaultSpec": FaultSpec})

__all__ = [
    "FAULT_TYPES", "GRPC_STATUS_CODES", "GRPC_STATUS_NAMES", "KINDS", "AbortStream", "AbortStreamFault", "Answer",
    "Bandwidth", "BandwidthFault", "Deadline", "DeadlineFault",
    "Close", "CloseFault", "ConcurrencyLimit", "ConcurrencyLimitFault", "Corrupt", "CorruptFault", "Counter",
    "Dribble", "DribbleFault", "Error", "ErrorFault", "Fault", "FaultSpec", "FaultState", "Flap", "FlapFault",
    "Hang", "HangFault", "Kind", "Latency", "LatencyFault", "LoadLatency", "LoadLatencyFault", "LognormalSpec",
    "NormalSpec", "RateLimit", "RateLimitFault", "Reset", "ResetFault", "Truncate", "TruncateFault", "UniformSpec",
    "UpstreamTimeout", "UpstreamTimeoutFault", "compile_fault", "register",
]
