"""Java DateTimeFormatter-style patterns, as Pact's `date`, `time` and `datetime` matchers and its
Date, Time and DateTime generators use them (pact-specification v3: "the format specifier is based
on the Java DateTimeFormatter").

`compile_pattern(pattern)` reads a pattern once (cached) into a `TimePattern`:
`matches(text)` says whether a text conforms, `format(moment)` renders a moment.

Matching follows the Rust reference (pact_models time_utils.rs), which is what pact files are
checked with: each field is read greedily with *lenient digit counts* (`yyyy` takes 1 to 4 digits,
`MM` 1 or 2: `2020-2-3` conforms to `yyyy-MM-dd`) and never re-read (a parser without backtracking:
`HHmm` reads `930` as hour 93 and fails), then its range is checked, then the day against its month
and year (2020-02-30 fails, 2020-02-29 conforms). Names (months, days, AM/PM, era) are English and
case-insensitive, as in Rust; quoted literals are case-sensitive. The whole pattern is compiled to
one regular expression whose fields are atomic groups with bounded quantifiers, so a text from the
network is read in linear time, and a text longer than the pattern allows is refused unread.

Letters (count = how many times the letter repeats):

=====  ==========================  =======================================================
G      era                         AD / BC (any count)
y u    year                        yy: 2 digits (20yy); else 1..max(count, 4) digits
Y      week-based year             as y (formatted as the ISO week-based year)
M L    month                       1-2: number; 3: Jan; 4-5: January
d      day of month                checked against month and year (no year: Feb 29 allowed)
D      day of year                 1..366 (366 only in a leap year, when the year is given)
Q q    quarter                     1-2: number; Q 3: Q1; Q 4-5: 1st quarter
w      week of week-based year     1..53 (formatted as the ISO week)
W F    week of month               W 0..6 (Monday-first weeks), F 0..5 (aligned: days 1-7 = 1)
E      day name                    1-3: Mon; 4-5: Monday
e c    day of week                 1-2: number 1..7, Monday = 1 (ISO); e 3: Mon; e 4-5: Monday
a      AM/PM
H k    hour of day                 H 0..23, k 1..24
h K    hour of AM/PM               h 1..12, K 0..11
m s    minute, second              second 0..60 (a leap second)
S      fraction of second          1..count digits (formatted truncated to count digits)
n N A  nano of second, of day; milli of day
X x    offset                      X: 'Z' for zero; 1 +HH[mm], 2 +HHmm, 3 +HH:mm, 4 +HHmm[ss], 5 +HH:mm[:ss]
Z      offset                      1-3 +HHmm; 4 GMT[+HH:mm]; 5 Z or +HH:mm[:ss]
O      localized offset            1-3 GMT[+H[:mm]]; 4 GMT[+HH:mm] (UTC also accepted for GMT)
z      zone abbreviation           1-3: PST, CEST... (the alphabetic abbreviations of the tz database)
V      zone id                     Europe/Warsaw (an IANA id with a '/', checked against the zone database)
'..'   literal text, '' a quote; any other non-letter is literal
=====  ==========================  =======================================================

Errors (ValueError, naming the letter and its position): a letter Java does not define or Pact does
not support (B, p, g, v, ...), too many letters (dddd), an unterminated quote, the reserved
characters { } [ ] # (optional sections and padding are not supported), `zzzz` (full zone names,
which Rust never matches either), an empty pattern.

Deviations from Rust, each where Rust rejects what Java and real pacts write, or is inconsistent:
`y`/`yyy` read up to 4 digits (Rust: 1 or 3, so `y` could never match a real year); offsets allow
hours up to 18 (Rust stops at 11, rejecting +12:00 to +14:00) and one sign (Rust reads `+-+05`); `d`
without a year allows Feb 29 (Rust checks it against 2001); `D` allows 366 (Rust 356); `w` stops at
53 (Rust 56); `W` reads 0..6 and `F` 0..5 (Rust 1..5, 0..4: Java writes 1..6, 1..5); `L` is checked
against the day like `M` and `LLL` reads names; `ee` reads 2 digits; `ZZZZZ` also reads `Z` and `O`
also a bare `GMT`/`UTC` (both as Java writes a zero offset); `V` accepts ids with `_`, `-` or three
parts (America/Los_Angeles, Rust: none of them); digits in a pattern are literal (Rust: an error);
`n`, `A`, `N` read at most 9, 8, 14 digits (Rust: any number). Formatting follows Java rather than
Rust's chrono translation (which writes `SS` as 3 digits, `X` as +00:00, `w` as a Sunday-based
00..53). Like Rust (and unlike Java's strict resolver) a day name is not checked against the date.
`format` of a naive moment takes it as UTC; `z` and `V` need a zone with a name: a moment whose zone
has none (a bare offset) is rendered in UTC instead.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass

DATETIME_DEFAULT = "yyyy-MM-dd'T'HH:mm:ssXXX"
DATE_DEFAULT = "yyyy-MM-dd"
TIME_DEFAULT = "HH:mm:ss"

# how many times each supported letter may repeat (Rust's limits, years capped at 9)
_MAX_COUNT = {
    "G": 5, "y": 9, "u": 9, "Y": 9, "M": 5, "L": 5, "d": 2, "D": 3, "Q": 5, "q": 2, "w": 2, "W": 2, "F": 2,
    "E": 5, "e": 5, "c": 1, "a": 1, "H": 2, "k": 2, "h": 2, "K": 2, "m": 2, "s": 2, "S": 9, "n": 9, "A": 19,
    "N": 19, "X": 5, "x": 5, "Z": 5, "O": 4, "z": 3, "V": 2,
}
_RESERVED = "{}[]#"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDINALS = ("1st", "2nd", "3rd", "4th")
_MONTH_NUMBER = {name.lower(): i for i, full in enumerate(_MONTHS, 1) for name in (full, full[:3])}

# The alphabetic 3-4 letter abbreviations of the tz database (2025), which Rust reads `z` against
# (its build extracts them from the tzdata it bundles). Fixed here so a match does not depend on
# the machine's zone files.
ZONE_ABBREVIATIONS = frozenset((
    "ACDT", "ACST", "ADDT", "ADMT", "ADT", "AEDT", "AEST", "AHDT", "AHST", "AKDT", "AKST", "AMT", "APT", "AST",
    "AWDT", "AWST", "AWT", "BDST", "BDT", "BMT", "BST", "CAST", "CAT", "CDT", "CEMT", "CEST", "CET", "CMT", "CPT",
    "CST", "CWT", "DMT", "EAST", "EAT", "EDT", "EEST", "EET", "EMT", "EPT", "EST", "EWT", "FFMT", "FMT", "GDT",
    "GMT", "GST", "HDT", "HKST", "HKT", "HKWT", "HMT", "HPT", "HST", "HWT", "IDDT", "IDT", "IMT", "IST", "JDT",
    "JMT", "JST", "KDT", "KMT", "KST", "LMT", "LST", "MDST", "MDT", "MEST", "MET", "MMT", "MPT", "MSD", "MSK",
    "MST", "MWT", "NDDT", "NDT", "NPT", "NST", "NWT", "NZDT", "NZMT", "NZST", "PDT", "PKST", "PKT", "PLMT",
    "PMMT", "PMT", "PPMT", "PPT", "PST", "PWT", "QMT", "RMT", "SAST", "SDMT", "SET", "SJMT", "SMT", "SST", "TBMT",
    "TMT", "UTC", "WAST", "WAT", "WEMT", "WEST", "WET", "WIB", "WIT", "WITA", "WMT", "YDDT", "YDT", "YPT", "YST",
    "YWT", "ZMT",
))

_MAX_OFFSET_HOURS = 18  # java.time.ZoneOffset's range


@dataclass(frozen=True, slots=True)
class _Field:
    letter: str
    count: int
    group: str  # the regex group name (its sub-groups: group + "h", "m", "s")


def _numeric(letter: str, count: int) -> tuple[int, int, int] | None:
    """(most digits, lowest, highest) of a numeric field; None for a field written as text."""
    if letter in "yuY":
        width = 2 if count == 2 else max(count, 4)
        return width, 0, 10 ** width - 1
    if letter in "ML":
        return (2, 1, 12) if count <= 2 else None
    if letter in "Qq":
        return (2, 1, 4) if count <= 2 else None
    if letter in "ec":
        return (count, 1, 7) if count <= 2 else None
    if letter == "S":
        return count, 0, 10 ** count - 1
    return {
        "d": (2, 1, 31), "D": (3, 1, 366), "w": (2, 1, 53), "W": (2, 0, 6), "F": (2, 0, 5),
        "H": (2, 0, 23), "k": (2, 1, 24), "h": (2, 1, 12), "K": (2, 0, 11), "m": (2, 0, 59), "s": (2, 0, 60),
        "n": (max(count, 9), 0, 999_999_999), "A": (max(count, 8), 0, 86_399_999),
        "N": (max(count, 14), 0, 86_399_999_999_999),
    }.get(letter)


def _names(letter: str, count: int) -> tuple[str, ...]:
    """The words a text field is written with (matched case-insensitively)."""
    if letter == "G":
        return ("AD", "BC")
    if letter == "a":
        return ("AM", "PM")
    if letter in "ML":
        return _MONTHS if count >= 4 else tuple(m[:3] for m in _MONTHS)
    if letter in "Ee":
        return _DAYS if count >= 4 else tuple(d[:3] for d in _DAYS)
    if letter == "Q":
        return tuple(f"{o} quarter" for o in _ORDINALS) if count >= 4 else ("Q1", "Q2", "Q3", "Q4")
    raise AssertionError(letter)


def _offset_parts(letter: str, count: int) -> tuple[str, bool, str, bool]:
    """An offset field's shape: (prefix regex, whether 'Z' is accepted, offset regex template,
    whether the offset may be missing after the prefix). Template slots: {h} {m} {s} are groups."""
    if letter in "Xx":
        body = {1: "{h}(?:{m})?+", 2: "{h}{m}", 3: "{h}:{m}", 4: "{h}{m}(?:{s})?+", 5: "{h}:{m}(?::{s})?+"}[count]
        return "", letter == "X", "[+-]" + body, False
    if letter == "Z":
        if count <= 3:
            return "", False, "[+-]{h}{m}", False
        if count == 4:
            return "(?:GMT|UTC)", False, "[+-]{h}:{m}", True
        return "", True, "[+-]{h}:{m}(?::{s})?+", False
    # O
    return "(?:GMT|UTC)", False, "[+-]{h}(?::{m})?+" if count < 4 else "[+-]{h}:{m}", True


def _field_regex(field: _Field) -> tuple[str, int]:
    """The field's regex (an atomic group: read once, never re-read) and its longest match."""
    letter, count, group = field.letter, field.count, field.group
    numeric = _numeric(letter, count)
    if numeric is not None:
        width = numeric[0]
        return f"(?P<{group}>[0-9]{{1,{width}}}+)", width
    if letter in "XxZO":
        prefix, zulu, template, optional = _offset_parts(letter, count)
        digits = "[0-9]{1,2}+"
        body = template.replace("{h}", f"(?P<{group}h>{digits})").replace("{m}", f"(?P<{group}m>{digits})") \
            .replace("{s}", f"(?P<{group}s>{digits})")
        regex = prefix + (f"(?:{body})?+" if optional else body)
        return f"(?P<{group}>(?>{'Z|' if zulu else ''}{regex}))", len("GMT+18:00:00")
    if letter == "z":
        return f"(?P<{group}>[A-Z]{{3,4}}+)", 4
    if letter == "V":
        part = "[A-Za-z0-9_+-]{1,40}+"
        return f"(?P<{group}>[A-Za-z][A-Za-z0-9_+-]{{0,40}}+(?:/{part}){{1,2}}+)", 41 + 2 * 41
    words = _names(letter, count)
    return f"(?P<{group}>(?>(?i:{'|'.join(map(re.escape, words))})))", max(map(len, words))


def _read(pattern: str) -> list[str | _Field]:
    """The pattern's tokens: literal text and fields; ValueError names what is wrong and where."""
    tokens: list[str | _Field] = []
    i, n = 0, len(pattern)
    if not pattern:
        raise ValueError("empty date/time pattern")
    while i < n:
        c = pattern[i]
        if c == "'":
            if pattern.startswith("''", i):
                tokens.append("'")
                i += 2
                continue
            j, text = i + 1, []
            while True:
                if j >= n:
                    raise ValueError(f"unterminated quote at position {i} in date/time pattern {pattern!r}")
                if pattern.startswith("''", j):
                    text.append("'")
                    j += 2
                elif pattern[j] == "'":
                    break
                else:
                    text.append(pattern[j])
                    j += 1
            tokens.append("".join(text))
            i = j + 1
        elif c in _RESERVED:
            raise ValueError(f"reserved character {c!r} at position {i} in date/time pattern {pattern!r} "
                             "(optional sections and padding are not supported)")
        elif "a" <= c <= "z" or "A" <= c <= "Z":
            j = i
            while j < n and pattern[j] == c:
                j += 1
            count = j - i
            if c not in _MAX_COUNT:
                raise ValueError(f"unsupported pattern letter {c!r} at position {i} in date/time pattern {pattern!r}")
            if c == "z" and count == 4:
                raise ValueError(f"full zone names ('zzzz' at position {i}) are not supported in date/time "
                                 f"pattern {pattern!r}")
            if count > _MAX_COUNT[c]:
                raise ValueError(f"too many pattern letters {c * count!r} at position {i} (at most "
                                 f"{_MAX_COUNT[c]}) in date/time pattern {pattern!r}")
            tokens.append(_Field(c, count, f"f{i}"))
            i = j
        else:
            tokens.append(c)
            i += 1
    return tokens


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_days(month: int, year: int | None) -> int:
    if month == 2:
        return 29 if year is None or _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


@functools.lru_cache(maxsize=1)
def _zone_ids() -> frozenset[str]:
    """The IANA zone ids: the system's, or the tzdata package's where it has none (empty only if the
    zone directory cannot be read: then any id of the right shape is accepted)."""
    try:
        return frozenset(zoneinfo.available_timezones())
    except OSError:  # an unreadable zone directory
        return frozenset()


class TimePattern:
    """A compiled pattern: `matches` a text, `format`s a moment. Immutable, shared through the cache."""

    __slots__ = ("pattern", "_tokens", "_regex", "_longest", "_zone_text")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._tokens = tuple(_read(pattern))
        parts: list[str] = []
        longest = 0
        for token in self._tokens:
            if isinstance(token, str):
                parts.append(re.escape(token))
                longest += len(token)
            else:
                regex, most = _field_regex(token)
                parts.append(regex)
                longest += most
        self._regex = re.compile("".join(parts))
        self._longest = longest
        self._zone_text = any(isinstance(t, _Field) and t.letter in "zV" for t in self._tokens)

    def __repr__(self) -> str:
        return f"TimePattern({self.pattern!r})"

    # -- matching --------------------------------------------------------------------------------

    def matches(self, text: str) -> bool:
        """Whether text is a date/time written in this pattern (see the module docstring)."""
        if len(text) > self._longest:
            return False
        found = self._regex.fullmatch(text)
        return found is not None and self._valid(found)

    def _valid(self, found: re.Match[str]) -> bool:
        year = month = day = day_of_year = None
        groups = found.groupdict()
        for token in self._tokens:
            if isinstance(token, str):
                continue
            letter, value = token.letter, groups[token.group]
            numeric = _numeric(letter, token.count)
            if numeric is not None:
                number = int(value)
                if not numeric[1] <= number <= numeric[2]:
                    return False
                if letter in "yuY" and year is None:
                    year = 2000 + number if token.count == 2 else number
                elif letter in "ML" and month is None:
                    month = number
                elif letter == "d" and day is None:
                    day = number
                elif letter == "D" and day_of_year is None:
                    day_of_year = number
            elif letter in "XxZO":
                if value != "Z" and not _offset_ok(groups, token.group):
                    return False
            elif letter == "z":
                if value not in ZONE_ABBREVIATIONS:
                    return False
            elif letter == "V":
                ids = _zone_ids()
                if ids and value not in ids:
                    return False
            elif letter in "ML" and month is None:
                month = _MONTH_NUMBER[value.lower()]
        if day is not None and month is not None and day > _month_days(month, year):
            return False
        return not (day_of_year == 366 and year is not None and not _is_leap(year))

    # -- formatting ------------------------------------------------------------------------------

    def format(self, moment: dt.datetime) -> str:
        """The moment written in this pattern (Java's rendering: e.g. `X` writes 'Z' for UTC)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if self._zone_text and (_zone_abbreviation(moment) is None or _zone_id(moment) is None):
            moment = moment.astimezone(dt.UTC)
        out: list[str] = []
        for token in self._tokens:
            out.append(token if isinstance(token, str) else _render(token, moment))
        return "".join(out)


def _offset_ok(groups: dict[str, str | None], group: str) -> bool:
    hours, minutes, seconds = groups.get(group + "h"), groups.get(group + "m"), groups.get(group + "s")
    return (hours is None or int(hours) <= _MAX_OFFSET_HOURS) and (minutes is None or int(minutes) <= 59) \
        and (seconds is None or int(seconds) <= 59)


def _zone_abbreviation(moment: dt.datetime) -> str | None:
    name = moment.tzname()  # ("UTC" for datetime.timezone.utc, "UTC+02:00" for a bare offset)
    return name if name in ZONE_ABBREVIATIONS else None


def _zone_id(moment: dt.datetime) -> str | None:
    if moment.tzinfo is dt.UTC:
        return "Etc/UTC"
    key = getattr(moment.tzinfo, "key", None)
    return key if isinstance(key, str) and "/" in key else None


def _pad(value: int, count: int) -> str:
    return f"{value:0{count}d}"


def _render(field: _Field, moment: dt.datetime) -> str:
    letter, count = field.letter, field.count
    if letter in "yuY":
        year = moment.isocalendar().year if letter == "Y" else moment.year
        return _pad(year % 100, 2) if count == 2 else _pad(year, count)
    if letter in "ML":
        if count >= 3:
            name = _MONTHS[moment.month - 1]
            return name if count >= 4 else name[:3]
        return _pad(moment.month, count)
    if letter in "Ee" and (letter == "E" or count >= 3):
        name = _DAYS[moment.weekday()]
        return name if count >= 4 else name[:3]
    if letter in "Qq":
        quarter = (moment.month - 1) // 3 + 1
        if count <= 2:
            return _pad(quarter, count)
        return f"Q{quarter}" if count == 3 else f"{_ORDINALS[quarter - 1]} quarter"
    if letter == "G":
        return "AD"
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "S":
        return f"{moment.microsecond:06d}000"[:count]
    if letter in "XxZO":
        return _render_offset(letter, count, moment.utcoffset() or dt.timedelta(0))
    if letter == "z":
        return _zone_abbreviation(moment) or "UTC"
    if letter == "V":
        return _zone_id(moment) or "Etc/UTC"
    return _pad(_number(letter, moment), count)


def _number(letter: str, moment: dt.datetime) -> int:
    """The value of a numeric field (years, months and quarters are handled by `_render`)."""
    micros_of_day = ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond
    first_weekday = moment.replace(day=1).weekday()
    return {
        "d": moment.day, "D": moment.timetuple().tm_yday, "w": moment.isocalendar().week,
        "W": (moment.day - 1 + first_weekday) // 7 + 1, "F": (moment.day - 1) // 7 + 1,
        "e": moment.isoweekday(), "c": moment.isoweekday(),
        "H": moment.hour, "k": moment.hour or 24, "h": moment.hour % 12 or 12, "K": moment.hour % 12,
        "m": moment.minute, "s": moment.second, "n": moment.microsecond * 1000,
        "A": micros_of_day // 1000, "N": micros_of_day * 1000,
    }[letter]


def _render_offset(letter: str, count: int, offset: dt.timedelta) -> str:
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    if letter == "O":
        if total == 0:
            return "GMT"
        if count < 4:
            return f"GMT{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
        return f"GMT{sign}{hours:02d}:{minutes:02d}"
    if total == 0 and (letter == "X" or (letter == "Z" and count == 5)):
        return "Z"
    if letter == "Z" and count == 4:
        return "GMT" if total == 0 else f"GMT{sign}{hours:02d}:{minutes:02d}"
    if letter == "Z":
        count = 2 if count <= 3 else 5
    secs = f"{seconds:02d}" if seconds else ""
    return sign + {
        1: f"{hours:02d}" + (f"{minutes:02d}" if minutes else ""),
        2: f"{hours:02d}{minutes:02d}",
        3: f"{hours:02d}:{minutes:02d}",
        4: f"{hours:02d}{minutes:02d}{secs}",
        5: f"{hours:02d}:{minutes:02d}" + (f":{secs}" if secs else ""),
    }[count]


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> TimePattern:
    """The pattern compiled (cached: pact files repeat a few patterns many times); ValueError for
    an unsupported or invalid one, naming the letter or character and its position."""
    return TimePattern(pattern)
