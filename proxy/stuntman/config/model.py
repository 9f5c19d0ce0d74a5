"""The one config model: stub files, admin API bodies and the published JSON Schema.

Names are camelCase in files (WireMock's vocabulary); Python attributes are snake_case.
Everything here is validated once, then compiled (`stuntman.match.routes.compile_table`) into
plain objects for the hot path; nothing in this module runs per request.

This module holds the aggregates: responses, proxying, replay, stubs and fault files. What they
are built from lives below them: matchers, the request matcher and the fault base in
`stuntman.config.base`, each fault kind's model in its own file under `stuntman.faults.kinds`
(which also gives `FaultSpec`, the union of them all, and `FAULT_TYPES`). Those names are
re-exported here, so `from stuntman.config.model import ErrorFault, MatcherSpec` keeps working.
"""
from __future__ import annotations

import base64
import re
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, ValidationInfo, field_validator, model_validator

from ..faults.kinds import (  # noqa: F401  (re-exported: the fault kinds' models)
    FAULT_TYPES,
    BandwidthFault,
    CloseFault,
    CorruptFault,
    DribbleFault,
    ErrorFault,
    FaultSpec,
    HangFault,
    LatencyFault,
    LognormalSpec,
    NormalSpec,
    ResetFault,
    TruncateFault,
    UniformSpec,
    UpstreamTimeoutFault,
)
from ..faults.kinds.error import GrpcStatus
from .base import (  # noqa: F401  (re-exported: the specs matchers and fault kinds are built from)
    DAY_MS,
    HTTP_METHODS,
    BodyMatcher,
    BodyMatcherSpec,
    FaultBase,
    JsonPathSpec,
    Matcher,
    MatcherSpec,
    Model,
    RequestSpec,
    WindowSpec,
    exactly_one,
    wire_safe_headers,
)
from .paths import recording_name_problem


class ResponseSpec(Model):
    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str | list[str]] = Field(default_factory=dict)
    body: str | None = Field(None, description="text body (templated when it contains {{...}})")
    json_: Any = Field(None, alias="json", description="JSON body; strings in it may be templates")
    body_file: str | None = Field(
        None, alias="bodyFile", description="file relative to the stubs directory, served as is"
    )
    base64_body: str | None = Field(None, alias="base64Body", description="binary body, base64 (served as is)")
    template: bool | None = Field(
        None, description="render {{...}} expressions; default: on when the body or a header has one"
    )

    _wire_safe = field_validator("headers")(wire_safe_headers)

    @model_validator(mode="after")
    def _one_body(self) -> ResponseSpec:
        given = [n for n in ("body", "json_", "body_file", "base64_body") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError("use only one of body, json, bodyFile, base64Body")
        if self.base64_body is not None:
            try:
                base64.b64decode(self.base64_body, validate=True)
            except ValueError:
                raise ValueError("base64Body is not valid base64") from None
        return self


def _base64(text: str, what: str) -> None:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not valid base64") from None


def _recording_name(value: str) -> str:
    problem = recording_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class ProxySpec(Model):
    upstream: AnyHttpUrl = Field(description="http(s)://host[:port][/base-path]")
    preserve_host: bool | None = Field(
        None, alias="preserveHost", description="send the client's Host upstream (default: --preserve-host)"
    )
    timeout_ms: int | None = Field(None, alias="timeoutMs", gt=0, description="default: --upstream-timeout")
    strip_prefix: str | None = Field(None, alias="stripPrefix", description="remove this path prefix")
    record: str | bool | None = Field(
        None, description="record every exchange into this recording (a directory under --recordings); "
                          "true: a recording named after the stub")

    @field_validator("record")
    @classmethod
    def _plain_name(cls, value: str | bool | None) -> str | bool | None:
        if isinstance(value, str):
            _recording_name(value)
        return value


METADATA_KEY, METADATA_VALUE = re.compile(r"[0-9a-z_.-]+"), re.compile(r"[\x20-\x7e]*")
GRPC_TARGET = re.compile(r"(?:grpcs?://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}")


# the one grpc-* key a stub may send: a status's google.rpc.Status details, as a trailer
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class GrpcAnswerSpec(Model):
    """How a gRPC stub answers the calls it matches: with messages written as JSON (protobuf's JSON
    mapping, for the method's output type from --proto) or as raw bytes, and a status; or passed
    through to an upstream (the default when it says neither)."""

    upstream: str | None = Field(None, description="HOST:PORT (h2c) or grpcs://HOST:PORT (TLS, verified "
                                                     "against --grpc-upstream-ca); default: --grpc-upstream")
    message: dict[str, Any] | None = Field(None, description="the one response message, as JSON")
    messages: list[dict[str, Any]] | None = Field(None, description="response messages in turn (a stream)")
    raw_messages: list[str] | None = Field(
        None, alias="rawMessages", description="response messages in turn, each its bytes in base64, sent as they "
        "are (no --proto needed): what a recording replays of messages their method's type does not read")
    delay_ms: int = Field(0, alias="delayMs", ge=0, le=DAY_MS, description="before each message")
    template: bool | None = Field(
        None, description="strings of message/messages holding {{...}} are templates, made for each call "
                          "(body: the request message answered, as JSON); false: sent as written")
    status: GrpcStatus = Field(0, description="the status the call ends with: a code 0-16 or its name")
    details: str = Field("", description="the status's details (with a status other than OK)")
    metadata: dict[str, str] = Field(default_factory=dict, description="initial metadata sent first; a key "
                                     "ending in -bin holds bytes, written in base64")
    trailers: dict[str, str] = Field(default_factory=dict, description="trailing metadata, with the status; a "
                                     f"key ending in -bin holds bytes, written in base64 ({STATUS_DETAILS_KEY}: "
                                     "the status's google.rpc.Status)")

    @field_validator("metadata", "trailers")
    @classmethod
    def _metadata(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for key, text in value.items():
            allowed = key == STATUS_DETAILS_KEY and info.field_name == "trailers"
            if not METADATA_KEY.fullmatch(key) or (key.startswith("grpc-") and not allowed):
                raise ValueError(f"metadata key {key!r}: lower-case letters, digits, _ . - (not grpc-*, but "
                                 f"{STATUS_DETAILS_KEY} in trailers)")
            if key.endswith("-bin"):
                _base64(text, f"metadata {key} (a -bin key: bytes, in base64)")
            elif not METADATA_VALUE.fullmatch(text):
                raise ValueError(f"metadata {key}: printable ASCII only")
        return value

    @field_validator("raw_messages")
    @classmethod
    def _raw(cls, value: list[str] | None) -> list[str] | None:
        for i, text in enumerate(value or ()):
            _base64(text, f"rawMessages[{i}]")
        return value

    @property
    def answers(self) -> bool:
        """It answers itself (messages or a status), rather than passing the call on."""
        return (self.message is not None or self.messages is not None or self.raw_messages is not None
                or "status" in self.model_fields_set)

    @model_validator(mode="after")
    def _one_way(self) -> GrpcAnswerSpec:
        given = [name for name in ("message", "messages", "raw_messages") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError("use one of message, messages, rawMessages")
        if self.upstream is not None and (self.answers or self.metadata or self.trailers or self.details):
            raise ValueError("an upstream answers the call: no message, messages, status or metadata beside it")
        return self

    @field_validator("upstream")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not GRPC_TARGET.fullmatch(value):
            raise ValueError(f"a gRPC upstream is HOST:PORT or grpcs://HOST:PORT, got {value!r}")
        return value


class FaultFileSpec(Model):
    """A file of standalone faults: each applies to a stub (`route`), to matching requests
    (`request`), or, with neither, to every request (before any stub's own faults)."""

    faults: list[FaultSpec]


class ReplaySpec(Model):
    """A recording (under --recordings) answering this stub's requests."""

    recording: str = Field(description="the recording's name")
    mode: Literal["strict", "spy"] = Field(
        "strict", description="what was not recorded: strict answers 404, spy passes it to `upstream`")
    upstream: AnyHttpUrl | None = Field(None, description="for spy mode")
    latency: Literal["none", "recorded"] = "none"
    ignore_query: list[str] = Field(default_factory=lambda: ["_"], description="query parameters not matched on")
    ignore_body: list[str] = Field(default_factory=list, description="JSONPaths of body fields not matched on")

    @field_validator("recording")
    @classmethod
    def _inside_recordings(cls, value: str) -> str:
        return _recording_name(value)

    @model_validator(mode="after")
    def _spy_needs_upstream(self) -> ReplaySpec:
        if self.mode == "spy" and self.upstream is None:
            raise ValueError("spy mode needs an upstream for what was not recorded")
        return self


class StubSpec(Model):
    """One route: a request matcher and what to answer (a response, a sequence, or a proxy)."""

    name: str | None = None
    id: str | None = None
    priority: int = Field(5, description="lower wins; ties: most specific, then file order")
    request: RequestSpec = Field(default_factory=RequestSpec)
    response: ResponseSpec | None = None
    responses: list[ResponseSpec] | None = Field(None, min_length=1, description="answered in turn")
    sequence: Literal["cycle", "last"] = Field(
        "last", description="after the last of `responses`: start over (cycle) or repeat it (last)"
    )
    proxy: ProxySpec | None = None
    replay: ReplaySpec | None = Field(None, description="answer from a recording, for the requests this stub matches")
    grpc: GrpcAnswerSpec | None = Field(None, description="answer the gRPC calls `request.grpc` matches")
    seed: int | None = Field(None, description="faker seed (default: derived from the stub name)")
    scenario: str | None = None
    required_state: str | None = Field(None, alias="requiredState")
    new_state: str | None = Field(None, alias="newState")
    faults: list[FaultSpec] = Field(default_factory=list, description="applied in order to this stub's requests")
    fault_headers: bool | None = Field(
        None, alias="faultHeaders",
        description="let requests ask for faults with X-Stuntman-Delay-Ms / X-Stuntman-Abort "
                    "(default: --fault-headers)")

    @model_validator(mode="after")
    def _one_action(self) -> StubSpec:
        exactly_one(self, ("response", "responses", "proxy", "replay", "grpc"), "a stub")
        if (self.request.grpc is None) != (self.grpc is None):
            raise ValueError("a gRPC stub matches with request.grpc and answers with grpc:; "
                             "an HTTP stub uses neither")
        if (self.required_state or self.new_state) and not self.scenario:
            raise ValueError("requiredState/newState need a `scenario` name")
        for fault in self.faults:
            if fault.route is not None or fault.request is not None:
                raise ValueError("a stub's own faults apply to it: drop their `route`/`request`")
        return self


class ContractSpec(Model):
    """A contract served as stubs: each of its operations (OpenAPI) or interactions (Pact) becomes
    a route, ranked after every hand-written stub (a team starts from the contract and pins the
    cases it cares about)."""

    openapi: str | None = Field(None, description="an OpenAPI document (Swagger 2.0, OpenAPI 3.0/3.1; YAML or "
                                                  "JSON): a path relative to the stubs directory")
    pact: str | None = Field(None, description="a Pact file (specification v1 to v4, JSON): a path relative to "
                                               "the stubs directory")
    provider_state: str | None = Field(None, alias="providerState", description="a pact's provider state, fixed: "
                                       "a regular expression the interactions' states are searched with (a "
                                       "request's X-Pact-Provider-State header, or its session's state, "
                                       "comes first)")
    strict_provider_state: bool = Field(False, alias="strictProviderState", description="a pact's interactions "
                                        "without a provider state answer only when no state is asked for")
    provider_state_header: str = Field("X-Pact-Provider-State", alias="providerStateHeader",
                                       description="the request header that asks for a pact's provider state")
    name: str | None = Field(None, description="how the admin API, the journal and metrics name it "
                                               "(default: the file name)")
    base_path: str | None = Field(None, alias="basePath", description="serve the operations under this prefix "
                                  "(default: the path of each of the spec's `servers`, and the root)")
    seed: int | None = Field(None, description="of the generated data (default: from the file name)")
    validate_: bool = Field(True, alias="validate", description="answer a request that breaks the contract "
                            "with 400 application/problem+json listing what is wrong")
    enforce_security: bool = Field(False, alias="enforceSecurity", description="answer 401 when the declared "
                                   "security is not met (default: a header names the unmet requirement)")
    priority: int = Field(100, description="of its routes (stubs default to 5: lower wins)")
    monitor: bool = Field(False, description="serve nothing: check the traffic other sources answer (the "
                          "upstream, a recording, a stub) against the contract, and report what breaks it in "
                          "the journal and the stuntman_contract_violations_total metric")
    enforce: bool = Field(False, description="a monitored contract blocks what breaks it: a request with 400, "
                          "a response replaced by 502 (both application/problem+json)")
    violation_header: bool = Field(False, alias="violationHeader", description="a monitored contract says "
                                   "its verdict in an X-Stuntman-Contract response header (ok, or the violations)")

    @property
    def kind(self) -> str:
        return "pact" if self.pact is not None else "openapi"

    @property
    def document(self) -> str:
        """The contract's file, as the entry names it."""
        return self.pact if self.pact is not None else self.openapi  # type: ignore[return-value]

    @model_validator(mode="after")
    def _one_document(self) -> ContractSpec:
        if (self.openapi is None) == (self.pact is None):
            raise ValueError("a contract names one document: `openapi: FILE` or `pact: FILE`")
        if self.pact is not None:
            wrong = sorted(self.model_fields[f].alias or f for f in self.model_fields_set & _OPENAPI_ONLY)
            if wrong:
                raise ValueError(f"{', '.join(wrong)} applies to an OpenAPI contract, not a pact")
        else:
            wrong = sorted(self.model_fields[f].alias or f for f in self.model_fields_set & _PACT_ONLY)
            if wrong:
                raise ValueError(f"{', '.join(wrong)} applies to a pact, not an OpenAPI contract")
        if self.provider_state is not None:
            import re

            try:
                re.compile(self.provider_state)
            except re.error as exc:
                raise ValueError(f"providerState {self.provider_state!r} is not a regular expression: {exc}") from None
        return self

    @model_validator(mode="after")
    def _monitor_options(self) -> ContractSpec:
        if (self.enforce or self.violation_header) and not self.monitor:
            raise ValueError("enforce and violationHeader apply to a monitored contract (monitor: true); "
                             "a contract served as stubs checks requests already (validate)")
        return self

    @field_validator("base_path")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and value not in ("", "/") and (not value.startswith("/") or "?" in value):
            raise ValueError(f"a base path starts with '/' and has no query: {value!r}")
        return None if value is None else value.rstrip("/")


_OPENAPI_ONLY = frozenset(("base_path", "validate_", "enforce_security", "monitor", "enforce", "violation_header"))
_PACT_ONLY = frozenset(("provider_state", "strict_provider_state", "provider_state_header"))


class ContractEntrySpec(Model):
    """A stub file's entry naming a contract to serve: `contract: {openapi: specs/payments.yaml}` or
    `contract: {pact: pacts/orders-payments.json}`."""

    contract: ContractSpec


STARTED = "Started"  # every scenario's initial state, as in WireMock


def stub_file_schema() -> dict[str, Any]:
    """JSON Schema of a stub file: one stub or a list of stubs."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(StubSpec | ContractEntrySpec | list[StubSpec | ContractEntrySpec] | FaultFileSpec
                         ).json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stuntman stub file"
    return schema
