"""Messages seen as JSON, in protobuf's JSON mapping (lowerCamelCase field names, 64-bit integers
as strings, enums by name, well-known types in their JSON forms: as grpcurl prints them).

What a request-field matcher of a gRPC route reads, and what the journal and recordings show of
a call's messages when the method's descriptors are loaded (--proto).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from ..body import BodyView

if TYPE_CHECKING:
    from google.protobuf.descriptor import Descriptor

    from .protoset import ProtoSet

NOT_A_MESSAGE = BodyView(b"")  # what matchers see of bytes that are not the method's input type


def message_json(protos: ProtoSet, descriptor: Descriptor, data: bytes) -> dict[str, Any] | None:
    """data read as a `descriptor` message, in JSON terms; None if it is not one."""
    message = protos.message_class(descriptor)()
    try:
        message.ParseFromString(data)
        return json_format.MessageToDict(message, descriptor_pool=protos.pool)
    # (an Any whose type the pool lacks, a Timestamp out of range: json_format's own errors)
    except (DecodeError, json_format.Error, TypeError, ValueError):
        return None


def message_view(protos: ProtoSet, descriptor: Descriptor, data: bytes) -> BodyView:
    """The body view of a message, for matchers: its JSON (and the JSON's text)."""
    value = message_json(protos, descriptor, data)
    if value is None:
        return NOT_A_MESSAGE
    return BodyView.of_json(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), value)
