"""stuntman.pact.javatime: Java DateTimeFormatter-style patterns as Pact reads them. Texts conform
or not as the Rust reference decides (its own test cases are among these), formatting a moment
always gives a text the same pattern accepts, bad patterns are refused naming the letter, and a
hostile text is refused without a hang."""
from __future__ import annotations

import datetime as dt
import random
import zoneinfo

import pytest

from stuntman.pact.javatime import (
    DATE_DEFAULT,
    DATETIME_DEFAULT,
    TIME_DEFAULT,
    TimePattern,
    compile_pattern,
)

VALID = [
    # the Rust reference's own cases (pact_models time_utils.rs)
    ("yyyy-MM-dd", "2001-01-02"),
    ("yyyy-MM-dd HH:mm:ss", "2001-01-02 12:33:45"),
    ("yyyy.MM.dd G 'at' HH:mm:ss z", "2001.07.04 AD at 12:08:56 PDT"),
    ("EEE, MMM d, ''yy", "Wed, Jul 4, '01"),
    ("h:mm a", "12:08 PM"),
    ("K:mm a, z", "0:08 PM, AEST"),
    ("yyyyy.MMMMM.dd G hh:mm a", "02001.July.04 AD 12:08 PM"),
    ("EEE, d MMM yyyy HH:mm:ss Z", "Wed, 4 Jul 2001 12:08:56 -0700"),
    ("yyMMddHHmmssZ", "010704120856-0700"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2001-07-04T12:08:56.235-0700"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2001-07-04T12:08:56.235Z"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2001-07-04T12:08:56.235-07:00"),
    ("YYYY-'W'ww-u", "2001-W27-3"),
    ("yyyy-MM-dd'T'HH:mmXXX'['VV']'", "2020-01-01T10:00+01:00[Europe/Warsaw]"),
    ("G", "ad"), ("GG", "AD"), ("GGG", "bc"), ("a", "am"), ("a", "PM"),
    ("yyyyyy", "200000"), ("yy", "20"), ("YYYY", "2000"), ("yyyy", "20"),
    ("MMM", "jan"), ("MMMM", "December"), ("L", "01"), ("MM", "10"),
    ("'ello'", "ello"), ("'dd-MM-yyyy'", "dd-MM-yyyy"), ("'dd-''MM''-yyyy'", "dd-'MM'-yyyy"),
    ("w", "12"), ("WW", "3"), ("F", "0"), ("d", "12"), ("DD", "03"),
    ("c", "7"), ("EEE", "Tue"), ("EEEE", "Tuesday"), ("e", "3"),
    ("k", "11"), ("KK", "11"), ("hh", "11"), ("H", "11"), ("KK", "0"), ("h", "12"), ("H", "0"), ("H", "23"),
    ("m", "12"), ("ss", "03"), ("SSS", "030"), ("SSSSSS", "123456"), ("A", "35392790"), ("n", "35392790"),
    ("Z", "-0700"), ("ZZZZ", "GMT+10:00"), ("Z", "+1030"), ("ZZZZ", "GMT"), ("ZZZZZ", "+10:00"),
    ("X", "Z"), ("X", "-0730"), ("X", "+08"), ("x", "-0730"), ("x", "+0800"), ("XX", "-0730"), ("xx", "+0800"),
    ("XXX", "-07:30"), ("xxx", "+08:00"), ("XXXX", "-0730"), ("xxxx", "+0800"), ("XXXX", "-073000"),
    ("xxxx", "+080000"), ("XXXXX", "-07:30:00"), ("xxxxx", "+08:00:00"),
    ("O", "GMT-7"), ("O", "UTC+10"), ("O", "UTC+9:30"), ("OOOO", "GMT+08:00"),
    ("Q", "2"), ("q", "2"), ("QQ", "02"), ("qq", "02"), ("QQQ", "Q2"), ("QQQQ", "2nd quarter"),
    # lenient digit counts (SEMANTICS.md §3.4, tried against pact stub)
    ("yyyy-MM-dd", "2020-2-3"), ("yyyy-MM-dd", "20-02-03"), ("HH:mm:ss", "9:5:7"),
    ("HH:mm:ss.SSS", "12:00:00.1"),
    # leap years
    ("yyyy-MM-dd", "2020-02-29"), ("yyyy-MM-dd", "2000-02-29"), ("yyyy-MM-dd", "2024-02-29"),
    ("dd MMM yyyy", "29 Feb 2024"), ("dd MMMM yyyy", "29 February 2024"), ("MM-dd", "02-29"),
    ("yy-MM-dd", "00-02-29"), ("yyyy-MM-dd", "2021-04-30"), ("yyyy-MM-dd", "2021-12-31"),
    ("yyyy DDD", "2024 366"), ("DDD", "366"),
    # 12 and 24 hours
    ("hh:mm a", "12:30 AM"), ("hh:mm a", "01:30 pm"), ("HH:mm", "23:59"), ("HH:mm", "00:00"), ("kk:mm", "24:00"),
    ("K a", "11 PM"), ("HH:mm:ss", "23:59:60"),
    # zones
    ("z", "PST"), ("z", "UTC"), ("z", "GMT"), ("z", "CEST"), ("z", "AEDT"), ("XXX", "Z"), ("XXX", "+05:30"),
    ("XXX", "-12:00"), ("XXX", "+14:00"), ("ZZZZZ", "Z"), ("O", "GMT"), ("OOOO", "UTC"),
    ("VV", "America/Los_Angeles"), ("VV", "America/Argentina/Buenos_Aires"), ("VV", "Etc/GMT+5"),
    # names are English and case-insensitive (as Rust's tag_no_case)
    ("MMM", "SEP"), ("MMM", "sep"), ("EEE", "mon"), ("EEE", "MON"), ("EEEE", "sunday"), ("MMMM", "MAY"),
    # what real pacts write
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-01-15T10:30:00.123+01:00"),
    ("EEE, dd MMM yyyy HH:mm:ss z", "Mon, 15 Jan 2024 10:30:00 GMT"),
    ("HH:mm", "10:30"), ("yyyy-MM-dd", "2024-01-15"), ("dd/MM/yyyy", "15/01/2024"), ("MM/dd/yyyy", "01/15/2024"),
    ("yyyy-MM-dd'T'HH:mm:ss", "2024-01-15T10:30:00"), ("yyyy-MM-dd HH:mm:ss.SSSSSS", "2024-01-15 10:30:00.123456"),
    (DATETIME_DEFAULT, "2024-01-15T10:30:00+01:00"), (DATETIME_DEFAULT, "2024-01-15T10:30:00Z"),
    (DATE_DEFAULT, "2024-01-15"), (TIME_DEFAULT, "10:30:00"),
    ("yyyyMMdd", "20240115"), ("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX", "2024-01-15T10:30:00.123456789-05:00"),
    ("2024 yyyy", "2024 2024"),  # (a digit in a pattern is literal, as in Java)
]

INVALID = [
    # the Rust reference's own cases
    ("yyyy-MM-dd", "2001-13-02"), ("yyyy-MM-dd HH:mm:ss", "2001-01-02 25:33:45"),
    ("yyyy-MM-dd", "2000-02-30"), ("yyyy-MM-dd", "2000-06-31"), ("yyyy-MM-dd", "2001-02-29"),
    ("G", "BX"), ("a", "PX"), ("yyyy", ""), ("M", "jan"), ("MMM", "october"), ("L", "December"),
    ("MM", "100"), ("LL", "100"), ("MM", "13"), ("MM", "31"), ("MM", "00"), ("MMM", ""), ("'ello'", "elo"),
    ("ww", "57"), ("dd", "32"), ("D", "0"), ("E", "3"), ("ee", "32"), ("c", "0"),
    ("kk", "25"), ("k", "0"), ("KK", "12"), ("hh", "0"), ("HH", "24"), ("m", "60"), ("s", "61"),
    ("SS", "1000"), ("SSSSSS", "1000000"),
    ("ZZZZ", "1100"), ("Z", "-2400"), ("Z", "2361"), ("Z", "Z"), ("x", "Z"),
    ("XX", "1100"), ("xx", "1100"), ("XX", "+10"), ("xx", "+10"), ("XXX", "-0730"), ("xxx", "+0800"),
    ("XXXX", "-07:30"), ("xxxx", "+08:00"), ("XXXXX", "-073000"), ("xxxxx", "+080000"), ("OOOO", "GMT+08"),
    ("QQ", "Q2"), ("qq", "Q2"), ("QQQQ", "5th quarter"),
    # leap years and month lengths
    ("yyyy-MM-dd", "2023-02-29"), ("yyyy-MM-dd", "1900-02-29"), ("yyyy-MM-dd", "2100-02-29"),
    ("dd MMM yyyy", "29 Feb 2023"), ("dd MMMM yyyy", "31 April 2024"), ("MM-dd", "02-30"), ("yy-MM-dd", "01-02-29"),
    ("yyyy-MM-dd", "2021-04-31"), ("yyyy-MM-dd", "2021-11-31"), ("yyyy DDD", "2023 366"), ("DDD", "367"),
    # each field is read once, greedily, and never re-read (no backtracking)
    ("HHmm", "930"), ("yyyy-MM-dd", "2020-002-03"), ("yyyy", "20201"),
    # 12 and 24 hours
    ("hh:mm a", "13:30 PM"), ("hh:mm a", "00:30 AM"), ("hh:mm a", "12:30"), ("HH:mm", "24:00"),
    ("HH:mm", "12:60"), ("K", "12"),
    # zones
    ("z", "pst"), ("z", "XYZ"), ("z", "PSTX"), ("z", "+05:00"), ("XXX", "+0530"), ("XXX", "+19:00"),
    ("XXX", "05:30"), ("XXX", "+05:60"), ("Z", "+05:30"), ("XXX", "+-05:30"), ("VV", "UTC"), ("VV", "Europe"),
    ("ZZZZZ", "+0500"),
    # fractions, names
    ("HH:mm:ss.SSS", "12:00:00.1234"), ("HH:mm:ss.SSS", "12:00:00."), ("HH:mm:ss.SSS", "12:00:00"),
    ("MMM", "January"), ("MMM", "Sept"), ("MMMM", "Jan"), ("EEE", "Monday"), ("EEEE", "Mon"), ("EEE", "Tues"),
    # literals are case-sensitive, nothing may follow or lead
    ("yyyy-MM-dd'T'HH:mm:ss", "2024-01-15t10:30:00"), ("yyyy-MM-dd", "2024-01-15 "), ("yyyy-MM-dd", " 2024-01-15"),
    ("yyyy-MM-dd", "2024/01/15"), ("yyyy-MM-dd", "2024-01-15T10:00"), ("HH:mm", ""),
    ("yyyy-MM-dd", "２０２４-01-15"),  # (full-width digits: ASCII only)
]


@pytest.mark.parametrize(("pattern", "text"), VALID)
def test_valid(pattern: str, text: str) -> None:
    assert compile_pattern(pattern).matches(text)


@pytest.mark.parametrize(("pattern", "text"), INVALID)
def test_invalid(pattern: str, text: str) -> None:
    assert not compile_pattern(pattern).matches(text)


def test_unknown_zone_id() -> None:
    assert zoneinfo.available_timezones(), "tzdata (a dependency) gives zoneinfo its database everywhere"
    assert not compile_pattern("VV").matches("Mars/Olympus_Mons")
    assert compile_pattern("VV").matches("Europe/Warsaw")


# -- formatting ------------------------------------------------------------------------------------

MOMENT = dt.datetime(2000, 1, 1, 10, 0, 0, tzinfo=dt.UTC)
INDIA = dt.datetime(2024, 3, 5, 19, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
WARSAW = dt.datetime(2024, 7, 5, 7, 8, 9, 120000, tzinfo=zoneinfo.ZoneInfo("Europe/Warsaw"))


@pytest.mark.parametrize(("pattern", "moment", "expected"), [
    (DATETIME_DEFAULT, MOMENT, "2000-01-01T10:00:00Z"),
    (DATETIME_DEFAULT, INDIA, "2024-03-05T19:08:09+05:30"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", MOMENT, "2000-01-01T10:00:00.000+0000"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", WARSAW, "2024-07-05T07:08:09.120+02:00"),
    ("EEE, dd MMM yyyy HH:mm:ss z", MOMENT, "Sat, 01 Jan 2000 10:00:00 UTC"),
    ("EEE, dd MMM yyyy HH:mm:ss z", WARSAW, "Fri, 05 Jul 2024 07:08:09 CEST"),
    ("EEE, dd MMM yyyy HH:mm:ss z", INDIA, "Tue, 05 Mar 2024 13:38:09 UTC"),  # (a bare offset has no name)
    ("EEEE d MMMM yy", INDIA, "Tuesday 5 March 24"),
    ("h:mm a", INDIA, "7:08 PM"), ("hh 'o''clock' a", MOMENT, "10 o'clock AM"), ("K k", MOMENT.replace(hour=0), "0 24"),
    ("X x XX XXX XXXX XXXXX", INDIA, "+0530 +0530 +0530 +05:30 +0530 +05:30"),
    ("X x XXX Z ZZZZ ZZZZZ O OOOO", MOMENT, "Z +00 Z +0000 GMT Z GMT GMT"),
    ("Z ZZZZ O OOOO", INDIA, "+0530 GMT+05:30 GMT+5:30 GMT+05:30"),
    ("VV", WARSAW, "Europe/Warsaw"), ("VV", INDIA, "Etc/UTC"),
    ("D DDD Q QQQ QQQQ", INDIA, "65 065 1 Q1 1st quarter"),
    ("YYYY-'W'ww-e", dt.datetime(2024, 12, 30), "2025-W01-1"),  # (the ISO week-based year)
    ("S SS SSSSSSSSS n A", INDIA, "1 12 123456000 123456000 68889123"),
    ("yyyy-MM-dd", dt.datetime(987, 6, 5), "0987-06-05"), ("y", MOMENT, "2000"), ("G", MOMENT, "AD"),
])
def test_format(pattern: str, moment: dt.datetime, expected: str) -> None:
    assert compile_pattern(pattern).format(moment) == expected
    assert compile_pattern(pattern).matches(expected)


ROUND_TRIP = [
    DATETIME_DEFAULT, DATE_DEFAULT, TIME_DEFAULT, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "EEE, dd MMM yyyy HH:mm:ss z",
    "HH:mm", "yyyyMMddHHmmssSSS", "G GG GGG GGGG GGGGG y yy yyy yyyy yyyyy u uu uuuu Y YY YYYY", "M MM MMM MMMM MMMMM",
    "L LL LLL LLLL LLLLL", "d dd D DD DDD", "Q QQ QQQ QQQQ QQQQQ q qq", "w ww W WW F FF", "E EE EEE EEEE EEEEE",
    "e ee eee eeee eeeee c", "a h hh K KK k kk H HH", "m mm s ss", "S SS SSS SSSS SSSSSS SSSSSSSSS",
    "n nnnnnnnn A AAAAAAAA N", "X XX XXX XXXX XXXXX", "x xx xxx xxxx xxxxx", "Z ZZ ZZZ ZZZZ ZZZZZ",
    "O OO OOO OOOO", "z zz zzz", "V VV", "dd/MM/yy hh:mm a", "'at' HH 'o''clock'", "''yy''",
    "EEE, MMM d, ''yy", "yyyy-'W'ww-e", "yyyy.MM.dd G 'at' HH:mm:ss z", "YYYY-'W'ww-u",
    "yyyy-MM-dd'T'HH:mmXXX'['VV']'", "MMMM d, yyyy", "d MMM yyyy HH:mm:ss Z", "yyMMddHHmmssZ",
]
ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=-9, minutes=-30)), dt.timezone(dt.timedelta(hours=14)),
         dt.timezone(dt.timedelta(hours=5, minutes=45, seconds=30)), zoneinfo.ZoneInfo("America/New_York"),
         zoneinfo.ZoneInfo("Australia/Sydney"), zoneinfo.ZoneInfo("Asia/Kolkata"), zoneinfo.ZoneInfo("UTC"), None]


def _moments(seed: int, count: int) -> list[dt.datetime]:
    rng = random.Random(seed)
    low, span = dt.datetime(2, 1, 1), (dt.datetime(9998, 12, 31) - dt.datetime(2, 1, 1)).total_seconds()
    out = []
    for _ in range(count):
        naive = low + dt.timedelta(seconds=int(rng.uniform(0, span)))
        naive = naive.replace(microsecond=rng.choice([0, rng.randrange(1_000_000)]))
        zone = rng.choice(ZONES)
        out.append(naive if zone is None else naive.replace(tzinfo=zone))
    edges = [dt.datetime(2024, 2, 29, 0, 0), dt.datetime(2023, 12, 31, 23, 59, 59, 999999), dt.datetime(2000, 1, 1),
             dt.datetime(2021, 1, 3, 12, 0), dt.datetime(2026, 5, 31, 12, 0), dt.datetime(1, 1, 1, 23, 0)]
    return out + edges


@pytest.mark.parametrize("pattern", ROUND_TRIP)
def test_round_trip(pattern: str) -> None:
    """Whatever a pattern writes, it reads back (the generators' output passes the matchers)."""
    compiled = compile_pattern(pattern)
    for moment in _moments(sum(map(ord, pattern)), 300):
        text = compiled.format(moment)
        assert compiled.matches(text), (pattern, moment, text)


def test_round_trip_every_letter() -> None:
    """Every supported letter, at every count it allows, appears in a round-trip pattern."""
    from stuntman.pact.javatime import _MAX_COUNT

    covered = {(run[0], len(run)) for pattern in ROUND_TRIP for run in _runs(pattern)}
    missing = {(letter, n) for letter, most in _MAX_COUNT.items() for n in range(1, min(most, 5) + 1)
               if (letter, n) not in covered and letter not in "yuYSnAN"}
    assert not missing


def _runs(pattern: str) -> list[str]:
    runs, quoted, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            quoted = not quoted
            i += 1
            continue
        j = i
        while j < len(pattern) and pattern[j] == c:
            j += 1
        if not quoted and c.isascii() and c.isalpha():
            runs.append(pattern[i:j])
        i = j
    return runs


def test_naive_is_utc() -> None:
    assert compile_pattern("HH:mmXXX").format(dt.datetime(2000, 1, 1, 10, 0)) == "10:00Z"


# -- bad patterns ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "named"), [
    ("yyyy-MM-dd B", "'B' at position 11"),
    ("hh:mm p", "'p' at position 6"),
    ("g", "'g' at position 0"),
    ("v", "'v'"),
    ("yyyy-MM-dd'T", "unterminated quote at position 10"),
    ("'", "unterminated quote at position 0"),
    ("yyyy[-MM]", "'[' at position 4"),
    ("HH:mm{x}", "'{' at position 5"),
    ("#", "'#'"),
    ("dddd", "'dddd' at position 0"),
    ("aa", "'aa'"),
    ("HHH", "'HHH'"),
    ("MMMMMM", "'MMMMMM'"),
    ("OOOOO", "'OOOOO'"),
    ("cc", "'cc'"),
    ("SSSSSSSSSS", "'SSSSSSSSSS'"),
    ("zzzz", "zzzz"),
    ("", "empty"),
])
def test_bad_pattern(pattern: str, named: str) -> None:
    with pytest.raises(ValueError, match="pattern") as info:
        compile_pattern(pattern)
    assert named in str(info.value)


def test_cached() -> None:
    assert compile_pattern("yyyy-MM-dd") is compile_pattern("yyyy-MM-dd")
    assert isinstance(compile_pattern("yyyy-MM-dd"), TimePattern)


# -- hostile texts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [
    "yyyy-MM-dd", "yyyyMMddHHmmssSSS", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "VV", "O" * 4 + " " + "x" * 5,
    " ".join(["yyyyy MMMM EEEE VV zzz"] * 50), "n A N " * 20,
])
@pytest.mark.parametrize("filler", ["1", "9-", "a", "January ", "Europe/", "+1", "GMT+", " "])
def test_long_text_returns(pattern: str, filler: str) -> None:
    """100 KB of near-misses are refused (a text from the network must never hang the matcher)."""
    compiled = compile_pattern(pattern)
    text = (filler * (100_000 // len(filler) + 1))[:100_000]
    assert not compiled.matches(text)
    assert not compiled.matches(text[:len(pattern) * 30])  # (short enough to be read)


def test_long_pattern_near_miss_returns() -> None:
    pattern = " ".join(["yyyy-MM-dd'T'HH:mm:ss.SSSXXX"] * 200)
    good = " ".join(["2024-01-15T10:30:00.123+01:00"] * 200)
    assert compile_pattern(pattern).matches(good)
    assert not compile_pattern(pattern).matches(good[:-1] + "x")
    assert not compile_pattern(pattern).matches(good.replace("2024-01-15", "2024-02-30", 1))
