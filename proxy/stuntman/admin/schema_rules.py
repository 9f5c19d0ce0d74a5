"""What the admin API's validation checks beyond the config model's own JSON Schema, stated in the
OpenAPI document too (`strict(components)`), so that what the document allows the API accepts.

The model's validators (exactly one of, names of files, URLs, header names...) are code, not
schema. A null counts as absent, as in validation. Where a rule has no JSON Schema form (a file or
recording that must exist, a regex that must compile in RE2, a JSONPath, uniform's min_ms <=
max_ms) the field's description says it. Two rules are stated a little tighter than they are
checked: recording names' parts (63 characters here, 255 bytes in fact) and upstream URLs (the
common forms; the URL parser takes more).
"""
from __future__ import annotations

from ..config.model import GRPC_TARGET, HTTP_METHODS, METADATA_KEY, METADATA_VALUE, STATUS_DETAILS_KEY

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict:
    """A reference to a component schema."""
    return {"$ref": REF.format(model=name)}


_CTRL = "\\u0000-\\u001f\\u007f"
# config.paths.recording_name_problem: no control characters, no leading / or ., no . or .. part
RECORDING_MODE = {"anyOf": [{"enum": ["append", "overwrite"]}, {"type": "null"}], "description": (
    "into a recording that already holds exchanges: append to them, or overwrite (remove) them; left out, "
    "such a recording is a 409, as `record --to` asks for --append or --overwrite")}
RECORDING_NAME = {
    "type": "string", "minLength": 1, "maxLength": 1024,
    "pattern": f"^[^./{_CTRL}][^/{_CTRL}]{{0,62}}(/\\.{{0,2}}[^./{_CTRL}][^/{_CTRL}]{{0,60}})*$",
    "description": "a relative path inside --recordings: /-separated parts of at most 255 bytes (63 characters "
                   "here), none empty, . or .., the first not starting with a dot, no control characters"}
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HOST = ("((([A-Za-z0-9]+(-[A-Za-z0-9]+)*)\\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*"
         f"|({_OCTET}\\.){{3}}{_OCTET})")
_PORT = "(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
HTTP_URL = {"type": "string", "format": "uri", "maxLength": 2048,
            "pattern": f"^https?://{_HOST}{_PORT}(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?$",
            "description": "http(s)://host[:port][/base-path]"}
HEADER_NAME = {"type": "string", "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"}  # RFC 9110 field-name
LATIN1_LINE = {"type": "string", "pattern": "^[\\u0000-\\u0009\\u000b\\u000c\\u000e-\\u00ff]*$",
               "description": "one line of Latin-1 text"}
BASE64 = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
METHOD = {"type": "string", "description": "GET, POST, ... in any case, or ANY", "pattern": "^(" + "|".join(
    "".join(f"[{c}{c.lower()}]" for c in m) for m in ("ANY", *HTTP_METHODS)) + ")$"}
ABSOLUTE_PATH = {"type": "string", "pattern": "^/[^?]*$"}
REGEX = {"type": "string", "format": "regex", "description": "RE2 syntax (linear time: no backreferences or "
         "lookarounds); it must compile"}
JSONPATH = {"type": "string", "description": "JSONPath (RFC 9535), e.g. $.items[?@.qty > 0]; it must compile"}
NULL = {"type": "null"}


def _given(name: str) -> dict:
    """`name` is there and not null."""
    return {"required": [name], "properties": {name: {"not": NULL}}}


def _exactly_one(schema: dict, names: list[str]) -> None:
    schema["oneOf"] = [_given(name) for name in names]


def _at_most_one(schema: dict, names: list[str]) -> None:
    schema.setdefault("allOf", []).extend(
        {"if": _given(name), "then": {"properties": {other: NULL for other in names if other != name}}}
        for name in names)


def _string(prop: dict, value: dict) -> dict:
    """A string property's schema (`value`), nullable as it was; its description kept unless
    `value` brings one."""
    described = {"description": prop["description"], **value} if "description" in prop else value
    return {"anyOf": [described, NULL], "default": None} if NULL in prop.get("anyOf", []) else described


def strict(c: dict) -> None:
    """The components as validation checks them (see above)."""
    matcher = c["MatcherSpec"]
    _exactly_one(matcher, ["equals", "contains", "regex", "absent", "present", "anyOf", "allOf", "not"])
    matcher["properties"]["regex"] = _string(matcher["properties"]["regex"], REGEX)

    body = c["BodyMatcherSpec"]
    _exactly_one(body, ["equals", "contains", "regex", "absent", "present", "json", "jsonPath", "form", "anyOf",
                        "allOf", "not"])
    body["properties"]["regex"] = _string(body["properties"]["regex"], REGEX)
    body["properties"]["jsonPath"]["anyOf"][0] = JSONPATH
    c["JsonPathSpec"]["properties"]["expression"] = {**c["JsonPathSpec"]["properties"]["expression"], **JSONPATH}

    request = c["RequestSpec"]
    request["properties"]["method"]["anyOf"] = [METHOD, {"type": "array", "items": METHOD, "minItems": 1}]
    for name in ("path", "pathPrefix"):
        request["properties"][name] = _string(request["properties"][name], ABSOLUTE_PATH)
    request["properties"]["path"]["anyOf"][0]["description"] += " (starts with /, no ?query: put it under query)"
    request["properties"]["pathRegex"] = _string(request["properties"]["pathRegex"], REGEX)
    _at_most_one(request, ["path", "pathRegex", "pathPrefix"])

    response = c["ResponseSpec"]
    response["properties"]["headers"].update(propertyNames=HEADER_NAME, additionalProperties={"anyOf": [
        LATIN1_LINE, {"type": "array", "items": LATIN1_LINE}]})
    response["properties"]["base64Body"] = _string(response["properties"]["base64Body"],
                                                    {"type": "string", "pattern": BASE64})
    response["properties"]["bodyFile"] = _string(response["properties"]["bodyFile"], {
        "type": "string", "description": "a file that exists, relative to the stubs directory (and inside it), "
                                         "served as is"})
    _at_most_one(response, ["body", "json", "bodyFile", "base64Body"])

    proxy = c["ProxySpec"]
    proxy["properties"]["upstream"] = HTTP_URL
    proxy["properties"]["record"] = {**proxy["properties"]["record"], "anyOf": [RECORDING_NAME, {"type": "boolean"},
                                                                                NULL]}

    replay = c["ReplaySpec"]
    replay["properties"]["recording"] = {**RECORDING_NAME, "description": "the name of a recording that exists "
                                         "(under --recordings)"}
    replay["properties"]["upstream"] = {"anyOf": [HTTP_URL, NULL], "default": None,
                                        "description": "for spy mode (required there)"}
    replay["properties"]["ignore_body"]["items"] = JSONPATH
    replay["if"] = {"required": ["mode"], "properties": {"mode": {"const": "spy"}}}
    replay["then"] = _given("upstream")

    # a gRPC call: service and method names (no /) or RE2 regexes; nothing of HTTP's beside it
    call = c["GrpcCallSpec"]
    for name in ("service", "method"):
        call["properties"][name] = _string(call["properties"][name], {"type": "string", "pattern": "^[^/]+$"})
        call["properties"][f"{name}Regex"] = _string(call["properties"][f"{name}Regex"], REGEX)
        _at_most_one(call, [name, f"{name}Regex"])
    request.setdefault("allOf", []).append({"if": _given("grpc"), "then": {"properties": {
        "path": NULL, "pathRegex": NULL, "pathPrefix": NULL, "body": NULL, "query": {"maxProperties": 0},
        "method": {"const": "ANY"}}}})
    answer = c["GrpcAnswerSpec"]
    answer["properties"]["upstream"] = _string(answer["properties"]["upstream"], {
        "type": "string", "pattern": f"^{GRPC_TARGET.pattern}$"})
    _at_most_one(answer, ["message", "messages", "rawMessages"])
    answer["allOf"].append({"if": _given("upstream"), "then": {  # an upstream answers: nothing of a stub's
        "properties": {"message": NULL, "messages": NULL, "rawMessages": NULL, "metadata": {"maxProperties": 0},
                       "trailers": {"maxProperties": 0}, "details": {"const": ""}},
        "not": {"required": ["status"]}}})
    answer["properties"]["rawMessages"] = _string(answer["properties"]["rawMessages"], {
        "type": "array", "items": {"type": "string", "pattern": BASE64}})
    for name in ("metadata", "trailers"):  # text values, or bytes in base64 under a -bin key
        reserved = {"pattern": "^grpc-"} if name == "metadata" else \
            {"pattern": "^grpc-", "not": {"const": STATUS_DETAILS_KEY}}
        answer["properties"][name].update(
            propertyNames={"pattern": f"^{METADATA_KEY.pattern}$", "not": reserved},
            patternProperties={"-bin$": {"type": "string", "pattern": BASE64}},
            additionalProperties={"type": "string", "pattern": f"^{METADATA_VALUE.pattern}$"})
    for name in ("message", "messages"):
        answer["properties"][name]["description"] += (" (of the method's output type: the stub names its service and "
                                                      "method exactly, and --proto has them)")

    stub = c["StubSpec"]
    _exactly_one(stub, ["response", "responses", "proxy", "replay", "grpc"])
    stub["allOf"] = [{  # a (non-empty) requiredState or newState needs a (non-empty) scenario
        "if": {"required": [state], "properties": {state: {"type": "string", "minLength": 1}}},
        "then": {"required": ["scenario"], "properties": {"scenario": {"type": "string", "minLength": 1}}},
    } for state in ("requiredState", "newState")]
    stub["allOf"].append({  # a gRPC stub matches with request.grpc and answers with grpc:, else neither
        "if": _given("grpc"),
        "then": {"required": ["request"], "properties": {"request": _given("grpc")}},
        "else": {"properties": {"request": {"properties": {"grpc": NULL}}}}})
    stub["properties"]["faults"]["items"] = {
        "allOf": [ref("FaultSpec")], "properties": {"route": NULL, "request": NULL},
        "description": "a stub's own faults apply to it: no `route` or `request`"}
    stub["properties"]["id"]["description"] = "unique: a POST naming an id in use is a 400"

    for kind in c["FaultSpec"]["discriminator"]["mapping"].values():
        fault = c[kind.rsplit("/", 1)[1]]
        _at_most_one(fault, ["route", "request"])
        fault["properties"]["route"]["description"] += (" (a standalone fault: a stub of that name must exist "
                                                        "when the fault is made)")
        if "headers" in fault["properties"]:
            fault["properties"]["headers"].update(propertyNames=HEADER_NAME, additionalProperties=LATIN1_LINE)
    c["UniformSpec"]["description"] = "min_ms <= max_ms"
    _exactly_one(c["LatencyFault"], ["fixed_ms", "uniform", "normal", "lognormal"])
