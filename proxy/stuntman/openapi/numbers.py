"""Numbers for generated data: an integer or a number within a schema list's bounds (the tightest
minimum and maximum, either dialect's exclusive bounds, the int32/int64 range of a format) and a
multiple of its multipleOf (the least common multiple of every part's, kept as an exact fraction:
0.1 is 1/10, so a multiple of it is found without float error). Values stay small and readable:
an integer or a multiple between 1 and 1000 when the bounds allow, else near the bound closest to
that range; any other number with two decimals. A float multiple is also checked as the
validators check it (the float quotient must be whole). flatten.py reads the bounds and the step
(`Facts`); bounds that leave nothing raise `GenerateError`.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import TYPE_CHECKING

from .flatten import GenerateError
from .keywords import INT32, INT64, is_multiple, number_or_none

if TYPE_CHECKING:
    from .flatten import Facts, Part


def make_integer(parts: list[Part], facts: Facts, rng: random.Random) -> int:
    """An integer within the bounds (and the int32/int64 range of a format) and a multiple of the step."""
    if facts.bounds_error:
        raise GenerateError(parts[0].at, facts.bounds_error)
    low, high = facts.low, facts.high
    lo = None if low is None else (math.floor(low[0]) + 1 if low[1] and low[0] == math.floor(low[0])
                                    else math.ceil(low[0]))
    hi = None if high is None else (math.ceil(high[0]) - 1 if high[1] and high[0] == math.ceil(high[0])
                                     else math.floor(high[0]))
    for fmt, (a, b) in (("int32", INT32), ("int64", INT64)):
        if any(p.schema.get("format") == fmt for p in parts):
            lo, hi = max(lo, a) if lo is not None else a, min(hi, b) if hi is not None else b
    step = facts.step
    if step is None and (lo is None or lo <= 1000) and (hi is None or hi >= 1):  # the common case, fast
        return rng.randint(max(lo, 1) if lo is not None else 1, min(hi, 1000) if hi is not None else 1000)
    step_int = step.numerator if step is not None else 1  # a whole multiple of p/q is a multiple of p
    value = _pick_multiple(Fraction(step_int), lo, hi, rng, parts[0].at, whole=True)
    return int(value)


def make_number(parts: list[Part], facts: Facts, rng: random.Random) -> float | int:
    """A number within the bounds, a multiple of the step (a float that divides as a float)."""
    if facts.bounds_error:
        raise GenerateError(parts[0].at, facts.bounds_error)
    low, high, step = facts.low, facts.high, facts.step
    at = parts[0].at
    if step is not None:
        lo = None if low is None else Fraction(low[0]) + (step if low[1] and Fraction(low[0]) % step == 0 else 0)
        hi = None if high is None else Fraction(high[0]) - (step if high[1] and Fraction(high[0]) % step == 0
                                                            else 0)
        for _ in range(8):  # a float multiple must also divide as a float (what validators check)
            picked = _pick_multiple(step, lo, hi, rng, at, whole=False)
            number = float(picked)
            if _multiple_ok(number, parts):
                return number
        raise GenerateError(at, f"no float found that is a multiple of {float(step)} within the bounds")
    lo_f = -1e6 if low is None else float(low[0])
    hi_f = lo_f + 1000 if high is None else float(high[0])
    if low is None and high is not None:
        lo_f = hi_f - 1000 if hi_f < 1 else max(0.0, hi_f - 1000)
    elif low is None:
        lo_f, hi_f = 0.0, 1000.0
    if lo_f > hi_f or (lo_f == hi_f and (low and low[1] or high and high[1])):
        raise GenerateError(at, f"no number lies between {lo_f} and {hi_f}")
    for _ in range(8):
        number = round(rng.uniform(lo_f, hi_f), 2)
        if _within(number, low, high):
            return number
    middle = (lo_f + hi_f) / 2
    if _within(middle, low, high):
        return middle
    raise GenerateError(at, f"no number lies between {lo_f} and {hi_f}")


def _within(number: float, low: tuple[float, bool] | None, high: tuple[float, bool] | None) -> bool:
    if low is not None and (number < low[0] or (low[1] and number == low[0])):
        return False
    return not (high is not None and (number > high[0] or (high[1] and number == high[0])))


def _multiple_ok(number: float, parts: list[Part]) -> bool:
    return all(is_multiple(number, p.schema["multipleOf"]) for p in parts
               if number_or_none(p.schema.get("multipleOf")))


def _pick_multiple(step: Fraction, lo: Fraction | float | None, hi: Fraction | float | None,
                   rng: random.Random, at: str, *, whole: bool) -> Fraction:
    """k * step within [lo, hi]: between 1 and 1000 when the bounds allow, else near the bound
    closest to that range."""
    kmin = None if lo is None else math.ceil(Fraction(lo) / step)
    kmax = None if hi is None else math.floor(Fraction(hi) / step)
    if kmin is not None and kmax is not None and kmin > kmax:
        raise GenerateError(at, f"no {'integer' if whole else 'number'} multiple of {float(step):g} "
                                f"lies between {lo} and {hi}")
    span = max(1, math.floor(1000 / step))
    low, high = math.ceil(1 / step), math.ceil(1 / step) + span  # k of the values 1...1000
    if kmin is not None and kmin > high:
        low, high = kmin, kmin + span
    elif kmax is not None and kmax < low:
        low, high = kmax - span, kmax
    low = max(low, kmin) if kmin is not None else low
    high = min(high, kmax) if kmax is not None else high
    return rng.randint(low, high) * step

