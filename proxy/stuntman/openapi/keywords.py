"""Schema keywords read as the generator and its checker both read them, whatever JSON a spec puts
there: a list or an object where the keyword holds one (else empty), a count, a number (never a
bool), the `type` list, the bounds of either dialect (3.0: exclusiveMinimum is a flag on minimum;
3.1: it is the bound itself), multipleOf as validators test it, the int32/int64 ranges, and the
canonical text that enum and uniqueItems compare values by. Shared so that what generate.py makes
and what conform.py accepts rest on one reading of each keyword.
"""
from __future__ import annotations

import json
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
NOTHING: Any = object()  # "no value" (None is a value)


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def number_or_none(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def type_list(schema: dict) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return [k for k in kind if isinstance(k, str)] if isinstance(kind, list) else []


def part_bounds(schema: dict, inclusive: str, exclusive: str) -> list[tuple[float, bool]]:
    """One schema's lower (minimum, exclusiveMinimum) or upper bounds, as (value, exclusive)."""
    out: list[tuple[float, bool]] = []
    plain = number_or_none(schema.get(inclusive))
    flag = schema.get(exclusive)
    if plain is not None:
        out.append((plain, flag is True))
    numeric = number_or_none(flag)
    if numeric is not None:
        out.append((numeric, True))
    return out


def is_multiple(number: float | int, step: float | int) -> bool:
    """As JSON Schema validators test it (a float quotient must be whole)."""
    if isinstance(step, float):
        try:
            quotient = number / step
            return int(quotient) == quotient
        except (OverflowError, ValueError):
            return False
    return not (number % step)


def canonical(value: Any) -> str:
    """JSON text that tells 1 from True and 1 from "1" (uniqueItems)."""
    return json.dumps(value, sort_keys=True, default=str) + type(value).__name__
