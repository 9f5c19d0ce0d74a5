"""Realistic strings for generated data: what a property of a given name would hold (a first name
for `firstName`, a sentence for `description`, an e-mail address for `email`), and a value of each
string `format` (date-time, date, time, uuid, email, uri, hostname, ipv4, ipv6, byte, binary,
password, duration, json-pointer, uri-template, regex...) within length limits.

Names and words come from pools drawn once per process from Faker (seeded, so the same pools in
every process: the same seed makes the same value anywhere). Whether a string is of a format is
decided by the validator's own check (jsonschema-rs, with stuntman's formats: jsonschema.py), so
a string the generator accepts is one the validators accept; an unknown format passes, as in JSON
Schema.
"""
from __future__ import annotations

import base64
import ipaddress
import random
import re
import string
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

# -- realistic strings -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def pools() -> dict[str, tuple[str, ...]]:
    """Realistic words and names, drawn once per process from Faker (seeded, so the same pools in
    every process; a call to Faker per value would cost tens of microseconds)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(1_000_003)

    def many(make: Any, n: int = 64) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(make()) for _ in range(n)))

    return {"first": many(fake.first_name), "last": many(fake.last_name), "city": many(fake.city),
            "country": many(fake.country), "street": many(fake.street_address), "company": many(fake.company),
            "job": many(fake.job), "phone": many(fake.phone_number), "word": many(fake.word, 400),
            "state": many(fake.state), "color": many(fake.color_name)}


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _sentence(rng: random.Random, words: int) -> str:
    pool = pools()["word"]
    return " ".join(rng.choice(pool) for _ in range(words)).capitalize() + "."


def realistic(name: str | None, rng: random.Random) -> str:
    """A string a property of that name would hold (a first name for firstName...), else a word."""
    drawn = pools()
    key = re.sub(r"[^a-z]", "", (name or "").lower())
    if key in ("firstname", "givenname", "forename"):
        return rng.choice(drawn["first"])
    if key in ("lastname", "surname", "familyname"):
        return rng.choice(drawn["last"])
    if key in ("name", "fullname", "displayname", "author", "owner", "contact"):
        return f"{rng.choice(drawn['first'])} {rng.choice(drawn['last'])}"
    if key in ("username", "login", "nickname", "handle", "user"):
        return _ascii(rng.choice(drawn["first"])) + str(rng.randint(1, 99))
    if key.endswith("email") or key == "mail":
        return _email(rng)
    for pool, names in (("city", ("city", "town")), ("country", ("country",)), ("state", ("state", "region")),
                        ("street", ("street", "address", "streetaddress", "address1", "line1")),
                        ("company", ("company", "organization", "organisation", "employer", "vendor")),
                        ("job", ("job", "jobtitle", "occupation", "role")), ("color", ("color", "colour")),
                        ("phone", ("phone", "phonenumber", "mobile", "telephone", "tel"))):
        if key in names:
            return rng.choice(drawn[pool])
    if key in ("description", "summary", "comment", "bio", "text", "message", "body", "note", "notes"):
        return _sentence(rng, rng.randint(4, 9))
    if key in ("url", "website", "homepage", "link", "href"):
        return _uri(rng)
    if key in ("zip", "zipcode", "postcode", "postalcode"):
        return f"{rng.randint(10000, 99999)}"
    if key in ("title", "label", "headline"):
        return _sentence(rng, rng.randint(2, 4))[:-1]
    return rng.choice(drawn["word"])


def fit(text: str, lowest: int, highest: int | None, rng: random.Random) -> str:
    """text made long enough (more words) and short enough (cut)."""
    pool = pools()["word"]
    while len(text) < lowest:
        text += " " + rng.choice(pool)
    if highest is not None and len(text) > highest:
        text = text[:highest]
        if len(text.rstrip()) >= lowest:
            text = text.rstrip()
    return text


# -- strings of a format: each maker takes (rng, lowest, highest), the length limits ----------------

def _email(rng: random.Random, *_: Any) -> str:
    drawn = pools()
    local = f"{_ascii(rng.choice(drawn['first']))}.{_ascii(rng.choice(drawn['last']))}"
    return f"{local}@{rng.choice(('example.com', 'example.org', 'example.net'))}"


def _uri(rng: random.Random, *_: Any) -> str:
    pool = pools()["word"]
    return f"https://{rng.choice(('example.com', 'example.org', 'api.example.net'))}/{rng.choice(pool)}/" \
           f"{rng.randint(1, 9999)}"


def _moment(rng: random.Random) -> datetime:
    return datetime(2020, 1, 1) + timedelta(seconds=rng.randrange(10 * 365 * 86400))


def _date_time(rng: random.Random, lowest: int = 0, highest: int | None = None) -> str:
    """RFC 3339, in the first spelling whose length fits (20 to 29 characters: Z or +00:00, with
    or without milliseconds)."""
    moment = _moment(rng)
    plain = moment.strftime("%Y-%m-%dT%H:%M:%S")
    spellings = (f"{plain}Z", f"{plain}.{moment.microsecond // 1000:03d}Z", f"{plain}+00:00",
                 f"{plain}.{moment.microsecond // 1000:03d}+00:00")
    return next((t for t in spellings if lowest <= len(t) <= (highest if highest is not None else len(t))),
                spellings[0])


def _date(rng: random.Random, *_: Any) -> str:
    return _moment(rng).date().isoformat()


def _time(rng: random.Random, *_: Any) -> str:
    return _moment(rng).strftime("%H:%M:%SZ")  # RFC 3339 full-time: with its offset


def _uuid(rng: random.Random, *_: Any) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hostname(rng: random.Random, *_: Any) -> str:
    return f"{rng.choice(pools()['word'])}.example.com"


def _ipv4(rng: random.Random, *_: Any) -> str:
    return str(ipaddress.IPv4Address(rng.randint(0x0B000000, 0xDF000000)))


def _ipv6(rng: random.Random, *_: Any) -> str:
    return str(ipaddress.IPv6Address((0x2001_0db8 << 96) | rng.getrandbits(96)))  # the documentation range


def _byte(rng: random.Random, lowest: int, highest: int | None) -> str:
    """base64 of random bytes, its length (a multiple of 4) within the limits when one is."""
    top = highest if highest is not None else max(lowest, 24) + 8
    lengths = [n for n in range(max(4, lowest + (-lowest) % 4), top + 1, 4)] or ([0] if lowest == 0 else [])
    if not lengths:
        return ""  # no base64 length fits: the caller reports it
    size = rng.choice(lengths[:4]) // 4 * 3
    return base64.b64encode(rng.randbytes(size)).decode("ascii")


def _password(rng: random.Random, lowest: int, highest: int | None) -> str:
    size = max(lowest, min(12, highest if highest is not None else 12))
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))


def _binary(rng: random.Random, lowest: int, highest: int | None) -> str:
    return fit("".join(rng.choice(string.ascii_letters) for _ in range(16)), lowest, highest, rng)


def _duration(rng: random.Random, *_: Any) -> str:
    """An ISO 8601 / RFC 3339 duration: P1D, PT15M, P2DT3H30M."""
    return rng.choice(("P1D", "PT15M", "PT1H", "P2DT3H30M", "PT30S", "P7D", "P1M", "P1Y2M"))


def _json_pointer(rng: random.Random, *_: Any) -> str:
    return f"/{rng.choice(pools()['word'])}/{rng.randint(0, 9)}"


def _relative_json_pointer(rng: random.Random, *_: Any) -> str:
    return f"{rng.randint(0, 3)}/{rng.choice(pools()['word'])}"


def _uri_template(rng: random.Random, *_: Any) -> str:
    return f"https://example.com/{rng.choice(pools()['word'])}/{{id}}"


def _regex(rng: random.Random, *_: Any) -> str:
    return rng.choice(("^[a-z]+$", "[0-9]{3}", "^\\w+@example\\.com$"))


FORMAT_MAKERS: dict[str, Any] = {  # a format → its maker
    "date-time": _date_time, "date": _date, "time": _time, "uuid": _uuid, "email": _email, "idn-email": _email,
    "uri": _uri, "url": _uri, "iri": _uri, "uri-reference": _uri, "iri-reference": _uri, "hostname": _hostname,
    "idn-hostname": _hostname, "ipv4": _ipv4, "ipv6": _ipv6, "byte": _byte, "binary": _binary,
    "password": _password, "duration": _duration, "json-pointer": _json_pointer,
    "relative-json-pointer": _relative_json_pointer, "uri-template": _uri_template, "regex": _regex,
}


# -- format checks: the validator's own (jsonschema-rs, with stuntman's formats), so a value the
# generator accepts is one the validators accept (unknown formats pass, as in JSON Schema) --------

@lru_cache(maxsize=64)
def _format_checker(fmt: str) -> Any:
    import jsonschema_rs

    from .jsonschema import FORMATS

    return jsonschema_rs.validator_for({"format": fmt}, validate_formats=True, formats=FORMATS).is_valid


def format_ok(fmt: str, text: str) -> bool:
    return bool(_format_checker(fmt)(text))
