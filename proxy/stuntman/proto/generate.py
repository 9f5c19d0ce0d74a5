"""A message made from its descriptor, for a method no stub answers: a .proto alone is a stand-in.

Deterministic: the same request to the same method with the same seed gets the same answer (the
generator is seeded by seed, method and the request's bytes). Every field gets a value of its type:
nested messages (to a bounded depth: recursive types end), enums (a declared value other than the
zero default where there is one), one field of each oneof, maps and repeated fields (1-3 entries),
and the well-known types (Timestamp, Duration, Struct, Value, ListValue, Any, the wrappers, Empty,
FieldMask). Strings follow the field's name where it says what it holds (id, email, name, url...).
A field of the answer that the request has too, by name and type, echoes the request's value
(GetOrder {id: "o-42"} answers an Order whose id is "o-42"), as OpenAPI generation echoes a path
parameter.
"""
from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import any_pb2, wrappers_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

MAX_DEPTH = 4  # message fields nested deeper are left unset (a recursive type ends)
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper")
_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson")
_INTS = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
         FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
_UINTS = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_UINT64,
          FieldDescriptor.TYPE_FIXED64}
_FLOATS = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def generate(message_class: Any, method: str, request: bytes, seed: int, request_message: Any = None) -> Any:
    """A message of message_class for a call to method with these request bytes."""
    rng = random.Random(zlib.crc32(f"{seed}:{method}:".encode() + request))
    message = message_class()
    _fill(message, rng, 0)
    if request_message is not None:
        _echo(request_message, message)
    return message


def _fill(message: Any, rng: random.Random, depth: int) -> None:
    descriptor: Descriptor = message.DESCRIPTOR
    if _well_known(message, descriptor.full_name, rng):
        return
    # one field of each oneof (by full name: descriptor wrappers are not the same object each time)
    chosen = {oneof.full_name: rng.choice(list(oneof.fields)).full_name for oneof in descriptor.oneofs if oneof.fields}
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen.get(oneof.full_name) != field.full_name:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _fill_map(message, field, rng, depth)
        elif _repeated(field):
            _fill_repeated(message, field, rng, depth)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < MAX_DEPTH:
                sub = getattr(message, field.name)
                sub.SetInParent()
                _fill(sub, rng, depth + 1)
        else:
            setattr(message, field.name, _scalar(field, rng))


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)  # (protobuf 6+; `label` is gone)


def _fill_repeated(message: Any, field: FieldDescriptor, rng: random.Random, depth: int) -> None:
    items = getattr(message, field.name)
    for _ in range(rng.randint(1, 3)):
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= MAX_DEPTH:
                return
            _fill(items.add(), rng, depth + 1)
        else:
            items.append(_scalar(field, rng))


def _fill_map(message: Any, field: FieldDescriptor, rng: random.Random, depth: int) -> None:
    entries = getattr(message, field.name)
    entry = field.message_type
    assert entry is not None
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    for _ in range(rng.randint(1, 3)):
        key = _scalar(key_field, rng)
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < MAX_DEPTH:
                _fill(entries[key], rng, depth + 1)
        else:
            entries[key] = _scalar(value_field, rng)


def _scalar(field: FieldDescriptor, rng: random.Random) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _string(field.name.lower(), rng)
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(4, 16))
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if kind in _INTS:
        return rng.randint(1, 1000)
    if kind in _UINTS:
        return rng.randint(1, 1000)
    if kind in _FLOATS:
        return round(rng.uniform(1, 1000), 2)
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        values = [v.number for v in field.enum_type.values]
        named = [v for v in values if v != 0] or values
        return rng.choice(named)
    raise ValueError(f"field {field.full_name}: type {kind} has no generator")  # (groups: proto2 only)


def _string(name: str, rng: random.Random) -> str:
    n = rng.randint(1, 99999)
    if name == "id" or name.endswith("_id") or name.endswith("id") and len(name) <= 4:
        return f"{name.removesuffix('_id') or 'id'}-{n}"
    if "email" in name:
        return f"{rng.choice(_WORDS)}.{n}@example.com"
    if name.endswith("name"):
        return rng.choice(_NAMES)
    if "url" in name or "uri" in name or "link" in name:
        return f"https://example.com/{rng.choice(_WORDS)}/{n}"
    if "phone" in name:
        return f"+44 20 7946 {n % 10000:04d}"
    if "currency" in name:
        return rng.choice(("EUR", "USD", "GBP", "JPY"))
    return f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"


def _well_known(message: Any, name: str, rng: random.Random) -> bool:
    """Values that mean something for the well-known types (True: message is filled)."""
    if name == "google.protobuf.Timestamp":
        message.FromDatetime(_EPOCH + timedelta(seconds=rng.randint(0, 3 * 365 * 86400)))
    elif name == "google.protobuf.Duration":
        message.FromTimedelta(timedelta(seconds=rng.randint(1, 86400)))
    elif name == "google.protobuf.Struct":
        message.update({rng.choice(_WORDS): rng.choice(_WORDS), "count": rng.randint(1, 100)})
    elif name == "google.protobuf.Value":
        message.string_value = rng.choice(_WORDS)
    elif name == "google.protobuf.ListValue":
        message.extend([rng.choice(_WORDS) for _ in range(rng.randint(1, 3))])
    elif name == "google.protobuf.Any":
        any_message: any_pb2.Any = message
        any_message.Pack(wrappers_pb2.StringValue(value=rng.choice(_WORDS)))
    elif name == "google.protobuf.FieldMask":
        message.paths.extend(rng.sample(_WORDS, 2))
    elif name == "google.protobuf.Empty":
        pass
    elif name.startswith("google.protobuf.") and name.endswith("Value"):  # the wrappers
        field = message.DESCRIPTOR.fields_by_name["value"]
        message.value = _scalar(field, rng)
    else:
        return False
    return True


def _echo(request: Any, answer: Any) -> None:
    """Top-level scalar fields of the answer that the request has too (same name, same type)."""
    fields = request.DESCRIPTOR.fields_by_name
    for field in answer.DESCRIPTOR.fields:
        theirs = fields.get(field.name)
        if theirs is None or theirs.type != field.type or _repeated(theirs) or _repeated(field) \
                or field.type == FieldDescriptor.TYPE_MESSAGE or field.containing_oneof is not None:
            continue
        if field.type == FieldDescriptor.TYPE_ENUM and theirs.enum_type is not field.enum_type:
            continue
        value = getattr(request, field.name)
        if value:  # (proto3: a default value is not sent, and is no answer)
            setattr(answer, field.name, value)
