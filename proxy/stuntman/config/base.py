"""The config model's foundations: what matchers and fault kinds are built from.

`Model` (every spec's base: camelCase aliases, unknown fields rejected, frozen), the string and
body matchers, the request matcher, fault windows and `FaultBase` (the selection and targeting
options every fault kind shares). The kinds themselves (`stuntman.faults.kinds`, one file each)
and the aggregates built from them (`stuntman.config.model`: stubs, fault files, the JSON Schema)
sit on top; this module imports neither, so matchers and fault kinds can import it freely.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def exactly_one(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        fields = type(model).model_fields
        aliases = [fields[n].alias or n for n in names]
        found = [fields[n].alias or n for n in given]
        raise ValueError(f"{what} needs exactly one of {', '.join(aliases)}; got {found or 'none'}")


def check_regex(value: str | None) -> str | None:
    """A stub's regex must compile in RE2, the engine that runs it (`match.matchers.user_regex`):
    linear time, so no backreferences and no lookarounds."""
    if value is not None:
        import re2

        options = re2.Options()
        options.log_errors = False
        try:
            re2.compile(value, options)
        except (re2.error, UnicodeError) as exc:
            why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(f"invalid regex {value!r}: {why} (RE2 syntax: no backreferences or "
                             "lookarounds)") from None
    return value


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.1 field-name


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
        return True
    except UnicodeEncodeError:
        return False


def wire_safe_headers(headers: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
    """Response headers that cannot break the response head they go into."""
    for name, values in headers.items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        for value in [values] if isinstance(values, str) else values:
            if "\r" in value or "\n" in value or not value.isascii() and not _latin1(value):
                raise ValueError(f"header {name}: value must be one line of Latin-1 text")
    return headers


class MatcherSpec(Model):
    """A predicate on one string value (a header, a query parameter, a form field, a body).

    A plain string in a file means `{equals: string}`.
    """

    equals: str | None = None
    contains: str | None = None
    regex: str | None = Field(None, description="RE2 regex (linear time: no backreferences or lookarounds), "
                                                "searched anywhere; anchor with ^...$")
    absent: Literal[True] | None = Field(None, description="the value must not be there")
    present: Literal[True] | None = Field(None, description="the value must be there, any content")
    any_of: list[Matcher] | None = Field(None, alias="anyOf", min_length=1)
    all_of: list[Matcher] | None = Field(None, alias="allOf", min_length=1)
    not_: Matcher | None = Field(None, alias="not")
    ignore_case: bool = Field(False, alias="ignoreCase", description="for equals and contains")

    _ops = ("equals", "contains", "regex", "absent", "present", "any_of", "all_of", "not_")

    @model_validator(mode="after")
    def _one_operator(self) -> MatcherSpec:
        exactly_one(self, self._ops, "a matcher")
        check_regex(self.regex)
        return self


def _string_means_equals(value: Any) -> Any:
    return {"equals": value} if isinstance(value, str) else value


Matcher = Annotated[
    MatcherSpec,
    BeforeValidator(_string_means_equals, json_schema_input_type=str | MatcherSpec),
]
MatcherSpec.model_rebuild()


class JsonPathSpec(Model):
    expression: str = Field(description="JSONPath (RFC 9535), e.g. $.items[?@.qty > 0]")
    matches: Matcher | None = Field(
        None, description="the (first) value found must also satisfy this matcher (as text)"
    )


class BodyMatcherSpec(Model):
    """A predicate on the request body. A plain string means `{equals: string}`."""

    equals: str | None = None
    contains: str | None = None
    regex: str | None = None
    absent: Literal[True] | None = Field(None, description="the body must be empty")
    present: Literal[True] | None = Field(None, description="the body must not be empty")
    json_: Any = Field(None, alias="json", description="JSON equality (key order never matters)")
    ignore_extra_elements: bool = Field(False, alias="ignoreExtraElements")
    ignore_array_order: bool = Field(False, alias="ignoreArrayOrder")
    json_path: str | JsonPathSpec | None = Field(
        None, alias="jsonPath", description="matches when the JSONPath finds at least one value"
    )
    form: dict[str, Matcher] | None = Field(None, description="application/x-www-form-urlencoded fields")
    any_of: list[BodyMatcher] | None = Field(None, alias="anyOf", min_length=1)
    all_of: list[BodyMatcher] | None = Field(None, alias="allOf", min_length=1)
    not_: BodyMatcher | None = Field(None, alias="not")
    ignore_case: bool = Field(False, alias="ignoreCase", description="for equals and contains")

    _ops = ("equals", "contains", "regex", "absent", "present", "json_", "json_path", "form",
            "any_of", "all_of", "not_")

    @model_validator(mode="after")
    def _one_operator(self) -> BodyMatcherSpec:
        exactly_one(self, self._ops, "a body matcher")
        check_regex(self.regex)
        return self

    @field_validator("json_path")
    @classmethod
    def _compile_json_path(cls, value: str | JsonPathSpec | None) -> str | JsonPathSpec | None:
        from .jsonpaths import compile_path  # (python-jsonpath: only when a stub uses JSONPath)

        expr = value.expression if isinstance(value, JsonPathSpec) else value
        if expr is not None:
            try:
                compile_path(expr)
            except Exception as exc:  # python-jsonpath raises several error types
                raise ValueError(f"invalid JSONPath {expr!r}: {exc}") from None
        return value


BodyMatcher = Annotated[
    BodyMatcherSpec,
    BeforeValidator(_string_means_equals, json_schema_input_type=str | BodyMatcherSpec),
]
BodyMatcherSpec.model_rebuild()


class GrpcCallSpec(Model):
    """A gRPC call's service and method: each exact, or a regular expression (RE2); left out, any."""

    service: str | None = Field(None, description="the full service name, e.g. payments.v1.Payments")
    service_regex: str | None = Field(None, alias="serviceRegex")
    method: str | None = Field(None, description="the method name, e.g. Charge")
    method_regex: str | None = Field(None, alias="methodRegex")

    @field_validator("service_regex", "method_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return check_regex(value)

    @field_validator("service", "method")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value):
            raise ValueError(f"a name without '/': {value!r}")
        return value

    @model_validator(mode="after")
    def _one_each(self) -> GrpcCallSpec:
        for exact, regex in (("service", "service_regex"), ("method", "method_regex")):
            if getattr(self, exact) is not None and getattr(self, regex) is not None:
                raise ValueError(f"use one of {exact}, {exact}Regex")
        return self

    def path(self) -> tuple[str, str]:
        """("exact", /service/method) when both are names, else ("regex", a pattern over the path)."""
        if self.service is not None and self.method is not None:
            return "exact", f"/{self.service}/{self.method}"
        service = re.escape(self.service) if self.service is not None else f"(?:{self.service_regex or '[^/]+'})"
        method = re.escape(self.method) if self.method is not None else f"(?:{self.method_regex or '[^/]+'})"
        return "regex", f"/{service}/{method}"


class RequestSpec(Model):
    """What a request must look like. Every field is optional; an empty request matches all."""

    method: str | list[str] = Field("ANY", description="GET, a list of methods, or ANY")
    path: str | None = Field(None, description="exact path, or a template such as /api/users/{id}")
    path_regex: str | None = Field(None, alias="pathRegex", description="named groups become path params")
    path_prefix: str | None = Field(None, alias="pathPrefix")
    query: dict[str, Matcher] = Field(default_factory=dict)
    headers: dict[str, Matcher] = Field(default_factory=dict)
    body: BodyMatcher | None = None
    grpc: GrpcCallSpec | None = Field(
        None, description="a gRPC call (on --grpc-port) to this service and method; `headers` match its metadata, "
                          "`body` its request messages in protobuf's JSON mapping (each, in a stream; needs --proto)")

    @field_validator("method")
    @classmethod
    def _known_methods(cls, value: str | list[str]) -> str | list[str]:
        for m in [value] if isinstance(value, str) else value:
            if m.upper() != "ANY" and m.upper() not in HTTP_METHODS:
                raise ValueError(f"unknown HTTP method {m!r}")
        if isinstance(value, list) and not value:
            raise ValueError("method list is empty")
        return value

    @field_validator("path", "path_prefix")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"must start with '/': {value!r}")
        if value is not None and "?" in value:
            raise ValueError("put query parameters under `query:`, not in the path")
        return value

    @field_validator("path")
    @classmethod
    def _params_once(cls, value: str | None) -> str | None:
        if value is not None:  # {name} becomes path.name: one name, one segment
            names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"path parameter {{{twice[0]}}} appears more than once: name each segment apart")
        return value

    @field_validator("path_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return check_regex(value)

    @model_validator(mode="after")
    def _one_path_kind(self) -> RequestSpec:
        kinds = [n for n in ("path", "path_regex", "path_prefix") if getattr(self, n) is not None]
        if len(kinds) > 1:
            raise ValueError("use only one of path, pathRegex, pathPrefix")
        if self.grpc is not None:
            http = [n for n in ("path", "pathRegex", "pathPrefix", "query")
                    if getattr(self, {"pathRegex": "path_regex", "pathPrefix": "path_prefix"}.get(n, n))]
            if http or self.method != "ANY":
                raise ValueError(f"a gRPC call is matched by grpc:, headers: (its metadata) and body: (its "
                                 f"messages' fields, as JSON), not by "
                                 f"{', '.join(http) or 'method'}")
        return self


# -- faults ------------------------------------------------------------------------------------
# Field names are the snake_case ones Toxiproxy and the fault docs use (fixed_ms, first_n...).

class WindowSpec(Model):
    """When a fault is active: relative to the moment it was loaded or created, and/or between
    two wall-clock times."""

    after_ms: int = Field(0, ge=0, description="active from this long after the fault was loaded/created")
    for_ms: int | None = Field(None, gt=0, description="then for this long (default: no end)")
    from_: datetime | None = Field(None, alias="from", description="not before this time (ISO 8601)")
    until: datetime | None = Field(None, description="not from this time on (ISO 8601)")


class FaultBase(Model):
    """What every fault kind shares: when it fires, and what it applies to. A kind (one file in
    stuntman/faults/kinds/) subclasses it with `type: Literal["<kind>"]` and its parameters."""

    if TYPE_CHECKING:  # each kind declares its own `type` (a field here would move it in the schema)
        type: str

    id: str | None = None
    name: str | None = Field(None, description="for the admin API, the journal and `when_header`")
    enabled: bool = True
    probability: float = Field(1.0, ge=0, le=1, description="chance the fault fires on a request it applies to")
    seed: int | None = Field(None, description="seed of this fault's decisions (default: from the run's --seed)")
    first_n: int | None = Field(None, ge=0, description="fire only on the first N requests it applies to")
    after_n: int | None = Field(None, ge=0, description="fire only after the first N requests it applies to")
    every_nth: int | None = Field(None, ge=1, description="fire only on every Nth request it applies to")
    when_header: dict[str, Matcher] | None = Field(
        None, description="only for requests with these headers, e.g. {X-Stuntman-Fault: slow-payments}")
    window: WindowSpec | None = None
    header: bool = Field(True, description="add `X-Stuntman-Fault: <type>` to the response, when there is one")
    # where a standalone fault applies (fault files, the admin API); inline on a stub: neither
    route: str | None = Field(None, description="the stub (by name) this fault applies to")
    request: RequestSpec | None = Field(None, description="the requests this fault applies to, stub or proxied")

    @model_validator(mode="after")
    def _one_target(self) -> FaultBase:
        if self.route is not None and self.request is not None:
            raise ValueError("use route (a stub name) or request (a matcher), not both")
        return self


DAY_MS = 86_400_000  # the longest delay: anything longer is a hang
