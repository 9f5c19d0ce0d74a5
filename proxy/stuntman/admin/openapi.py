"""The admin API's OpenAPI 3.1 document (GET /__admin/openapi.json) and its docs page.

Stub bodies reuse the config model's JSON Schema, so the document cannot drift from what the
API accepts; the tests fuzz the running API from this document (schemathesis).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter

from .. import __version__
from ..config.model import FaultSpec, RequestSpec, StubSpec
from .schema_rules import HTTP_URL, NULL, RECORDING_MODE, RECORDING_NAME, REF, strict
from .schema_rules import ref as _ref


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OBJECT = {"type": "object"}
ERROR = _json({"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string", "description": "why: `invalid <what the body is>` (stub, fault, recording request, "
                                               "request matcher...) when it does not validate"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string", "description": "path of the field in the body as sent ('' for the body)"},
        "message": {"type": "string"}}}}}}, "Invalid input")
SCENARIO_ERROR = _json({"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"},
    "errors": ERROR["content"]["application/json"]["schema"]["properties"]["errors"],
    "known": {"type": "array", "items": {"type": "string"}, "description": "the scenarios the stubs name (an "
              "unknown `name`), or the states of the scenario (an unknown `state`)"}}},
    "Invalid input, or a scenario or state no stub names")
NOT_FOUND = _json({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                  "No such stub")
MAPPING = {"type": "object", "required": ["id", "source"], "description": "A stub (StubSpec's fields) with "
           "its id and where it comes from (file:line, or admin-api)", "properties": {
               "id": {"type": "string"}, "source": {"type": "string"}}}
MAPPINGS = {"type": "object", "required": ["mappings", "meta"], "properties": {
    "mappings": {"type": "array", "items": MAPPING},
    "meta": {"type": "object", "properties": {"total": {"type": "integer"}}}}}
REQUESTS = {"type": "object", "required": ["requests", "meta"], "properties": {
    "requests": {"type": "array", "items": OBJECT},
    "meta": {"type": "object", "properties": {"total": {"type": "integer"}}}}}
CONFIG_ERRORS = {"type": "array", "items": {"type": "object", "properties": {
    "file": {"type": "string"}, "line": {"type": ["integer", "null"]},
    "field": {"type": "string"}, "message": {"type": "string"}}}}
STUB_BODY = {"required": True, "content": {
    "application/json": {"schema": _ref("StubSpec")},
    "application/yaml": {"schema": _ref("StubSpec")}}}
# PUT: the URL names the stub (a body's id, if any, must be the same: left out here)
REPLACEMENT = {"allOf": [_ref("StubSpec")], "properties": {"id": False}}
REPLACEMENT_BODY = {"required": True, "content": {
    "application/json": {"schema": REPLACEMENT}, "application/yaml": {"schema": REPLACEMENT}}}
FAULT = {"type": "object", "required": ["id", "type", "origin", "source"], "description": "A fault "
         "(FaultSpec's fields) with its id, origin (file, cli, api, stub) and source", "properties": {
             "id": {"type": "string"}, "type": {"type": "string"}, "origin": {"type": "string"},
             "source": {"type": "string"}, "stub": {"type": "string"}}}
FAULTS = {"type": "object", "required": ["faults", "meta"], "properties": {
    "faults": {"type": "array", "items": FAULT},
    "meta": {"type": "object", "properties": {"total": {"type": "integer"}}}}}
FAULT_BODY = {"required": True, "content": {
    "application/json": {"schema": _ref("FaultSpec")},
    "application/yaml": {"schema": _ref("FaultSpec")}}}
NEAR_MISSES = {"type": "object", "required": ["request", "nearest"], "properties": {
    "error": {"type": "string", "description": "`no stub matched`, when none does"},
    "message": {"type": "string", "description": "which stub matches, when one does"},
    "matched": {**MAPPING, "description": "the stub that matches the request (as GET /__admin/mappings/{id} "
                                          "shows it), when one does; `nearest` is empty then"},
    "request": {"type": "object", "properties": {"method": {"type": "string"}, "url": {"type": "string"}}},
    "nearest": {"type": "array", "items": {"type": "object", "required": ["id", "source", "diff"], "properties": {
        "id": {"type": "string"}, "name": {"type": ["string", "null"]}, "source": {"type": "string"},
        "diff": {"type": "array", "items": {"type": "string"}}}}}}}
RECORDING_STATUS = {"type": "object", "required": ["recording"], "properties": {
    "recording": {"type": "boolean"}, "name": {"type": "string"}, "upstream": {"type": "string"},
    "exchanges": {"type": "integer"}}}
ALREADY = _json({"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "exchanges": {"type": "integer"}}},
    "Already recording, or the recording holds `exchanges` and no `mode` was given")
CONFLICT = _json({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                 "A stub's own fault: change it through its stub")
MATCHER_BODY = {"required": True, "content": {"application/json": {"schema": _ref("RequestSpec")}}}
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
_PACT_INTERACTION = {"type": "object", "properties": {
    "description": {"type": "string"}, "status": {"type": "integer"},
    "providerStates": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "params": OBJECT}}},
    "request": {"type": "object", "properties": {"method": {"type": "string"}, "path": {"type": "string"}}},
    "servedAs": {"type": ["string", "null"], "description": "the id of the route that serves it"},
    "source": {"type": "string", "description": "file#/interactions/N"}}}
CONTRACT = {"type": "object", "required": ["id", "name", "kind"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"},
    "kind": {"type": "string", "enum": ["openapi", "pact"], "description": "an OpenAPI contract lists "
             "`operations`, a pact `interactions` and `messages`"},
    "source": {"type": "string"}, "origin": {"type": "string", "enum": ["file", "api"]},
    "mode": {"type": "string", "enum": ["stub", "monitor"], "description": "served as stubs, or checking the "
             "traffic other sources answer"},
    "validate": {"type": "boolean"}, "enforceSecurity": {"type": "boolean"}, "enforce": {"type": "boolean"},
    "violationHeader": {"type": "boolean"},
    "version": {"type": "string"}, "title": {"type": "string"},
    "basePaths": {"type": "array", "items": {"type": "string"}},
    "notes": {"type": "array", "items": {"type": "string"}},
    "operations": {"type": "array", "items": {"type": "object", "properties": {
        "method": {"type": "string"}, "path": {"type": "string"}, "operationId": {"type": ["string", "null"]},
        "servedAt": {"type": "array", "items": {"type": "string"}},
        "monitoredAt": {"type": "array", "items": {"type": "string"}}, "source": {"type": "string"}}}},
    "consumer": {"type": "string"}, "provider": {"type": "string"},
    "providerStateHeader": {"type": "string"}, "providerState": {"type": ["string", "null"]},
    "strictProviderState": {"type": "boolean"},
    "scenario": {"type": "string", "description": "the scenario that holds a session's provider state"},
    "interactions": {"type": "array", "items": _PACT_INTERACTION},
    "messages": {"type": "array", "items": {"type": "object", "properties": {
        "description": {"type": "string"}, "type": {"type": "string"}, "served": {"type": "boolean"},
        "note": {"type": "string"}, "source": {"type": "string"}}}}}}
CONTRACTS = {"type": "object", "required": ["contracts", "loadErrors"], "properties": {
    "contracts": {"type": "array", "items": CONTRACT}, "meta": OBJECT,
    "loadErrors": {"type": "array", "items": OBJECT}}}
CONTRACT_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "properties": {
        "openapi": {"type": "string", "description": "a spec file under the stubs directory"},
        "pact": {"type": "string", "description": "a pact file under the stubs directory"},
        "spec": {"type": "object", "description": "the OpenAPI document or the pact itself (a pact has "
                                                  "`interactions` or `messages`)"},
        "providerState": {"type": "string"}, "strictProviderState": {"type": "boolean"},
        "providerStateHeader": {"type": "string"},
        "id": {"type": "string"}, "name": {"type": "string"}, "basePath": {"type": "string"},
        "seed": {"type": "integer"}, "validate": {"type": "boolean"}, "enforceSecurity": {"type": "boolean"},
        "priority": {"type": "integer"}, "monitor": {"type": "boolean"}, "enforce": {"type": "boolean"},
        "violationHeader": {"type": "boolean"}}}}}}
SESSION = [{"name": "session", "in": "query", "required": False, "schema": {"type": "string"}}]
HEALTH_STATUS = {"enum": ["SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN"]}
GRPC_SERVICES = {"type": "object", "required": ["services", "builtin", "overall", "otherHealth", "meta"],
                 "properties": {
    "services": {"type": "array", "description": "the services of the .proto files loaded now (--proto)",
                 "items": {"type": "object", "required": ["name", "file", "health", "methods"], "properties": {
                     "name": {"type": "string"}, "file": {"type": "string"}, "health": HEALTH_STATUS,
                     "methods": {"type": "array", "items": {
                         "type": "object", "required": ["name", "path", "kind", "input", "output"], "properties": {
                             "name": {"type": "string"}, "path": {"type": "string", "description": "/pkg.Service/M"},
                             "kind": {"enum": ["unary", "server-streaming", "client-streaming", "bidi-streaming"]},
                             "input": {"type": "string"}, "output": {"type": "string"}}}}}}},
    "builtin": {"type": "array", "description": "the services stuntman serves itself: health, reflection v1 and "
                "v1alpha", "items": {"type": "object", "required": ["name", "health"], "properties": {
                    "name": {"type": "string"}, "health": HEALTH_STATUS}}},
    "overall": HEALTH_STATUS,
    "otherHealth": {"type": "object", "additionalProperties": HEALTH_STATUS,
                    "description": "statuses set for services no loaded .proto describes"},
    "meta": {"type": "object", "properties": {"total": {"type": "integer"}, "protos": {"type": "boolean"}}}}}
GRPC_HEALTH_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["status"], "properties": {"status": HEALTH_STATUS}}}}}
GRPC_HEALTH = {"type": "object", "required": ["service", "status"], "properties": {
    "service": {"type": "string", "description": "'' for the overall status"}, "status": HEALTH_STATUS}}
GRPC_HEALTH_ERROR = _json({"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"},
    "errors": ERROR["content"]["application/json"]["schema"]["properties"]["errors"],
    "known": {"type": "array", "items": {"type": "string"}, "description": "the statuses there are"}}},
    "Invalid input: the body is not {status}, or the status is none of the four")
NO_GRPC = _json({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "No gRPC listener (stuntman was started without --grpc-port)")
GRPC_HEALTH_PUT = ("Set the status grpc.health.v1.Health answers for {what} (Check, and Watch streams the "
                   "change); it holds across reloads until set again")


REFUSED = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
# Every operation: the admin API answers its own clients only, never a web page (admin/__init__.py).
GUARDED = {
    "403": _json(REFUSED, "Cross-origin: an Origin header that is not this API's own (a web page elsewhere)"),
    "415": _json(REFUSED, "A body that is not application/json or application/yaml (text/plain, form "
                          "encodings and no type are what a page can send cross-site)"),
    "421": _json(REFUSED, "A Host that does not name this API: localhost, 127.0.0.1, [::1] or the address "
                          "connected to, on the admin port, or an --admin-allowed-host name"),
}


TOO_LARGE = _json({"type": "object", "required": ["error", "limit"], "properties": {
    "error": {"type": "string"}, "limit": {"type": "integer", "description": "bytes"}}},
    "A body over the admin API's limit (--admin-max-body-bytes, default 1 MiB)")


def _op(summary: str, responses: dict, **extra: Any) -> dict:
    if "requestBody" in extra:
        responses = {**responses, "413": TOO_LARGE}
    return {"summary": summary, "responses": {**responses, **GUARDED}, **extra}


@lru_cache(maxsize=1)
def document() -> dict:
    schemas = TypeAdapter(StubSpec).json_schema(by_alias=True, ref_template=REF)
    components = schemas.pop("$defs", {})
    components["StubSpec"] = schemas
    request = TypeAdapter(RequestSpec).json_schema(by_alias=True, ref_template=REF)
    components.update(request.pop("$defs", {}))
    components["RequestSpec"] = request
    fault = TypeAdapter(FaultSpec).json_schema(by_alias=True, ref_template=REF)
    components.update(fault.pop("$defs", {}))
    components["FaultSpec"] = fault
    strict(components)
    paths = {
        "/__admin/health": {"get": _op("Version, uptime, stub count, configuration errors, faults waiting for "
                                       "their route", {"200": _json(
            {"type": "object", "required": ["status", "stubs"], "properties": {
                "status": {"enum": ["ok", "degraded"]}, "version": {"type": "string"},
                "uptimeSeconds": {"type": "number"}, "stubs": {"type": "integer"},
                "configErrors": CONFIG_ERRORS, "journal": OBJECT,
                "orphanFaults": {"type": "array", "description": "Standalone faults whose `route` names no stub "
                                 "now (its stub was deleted or left the files); they wait for it to come back",
                                 "items": {"type": "object", "required": ["id", "route", "source"], "properties": {
                                     "id": {"type": "string"}, "route": {"type": "string"},
                                     "source": {"type": "string"}}}}}})})},
        "/__admin/ready": {"get": _op("Readiness for probes, no token needed: 200 while serving, 503 while "
                                      "draining on shutdown", {
            "200": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}}),
            "503": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "draining"}}},
                         "Stopping")})},
        "/__admin/mappings": {
            "get": _op("Every stub, in match order", {"200": _json(MAPPINGS)}),
            "post": _op("Create a stub", {"201": _json(MAPPING, "Created"), "400": ERROR}, requestBody=STUB_BODY),
            "delete": _op("Delete every stub, file stubs included (reset brings them back)",
                          {"200": _json(MAPPINGS)}),
        },
        "/__admin/mappings/{id}": {
            "parameters": ID,
            "get": _op("One stub", {"200": _json(MAPPING), "404": NOT_FOUND}),
            "put": _op("Replace a stub (the body without an id: the URL names it)",
                       {"200": _json(MAPPING), "400": ERROR, "404": NOT_FOUND}, requestBody=REPLACEMENT_BODY),
            "delete": _op("Delete a stub", {"200": _json({"type": "object", "required": ["deleted"]}),
                                            "404": NOT_FOUND}),
        },
        "/__admin/mappings/reset": {"post": _op("Back to exactly what the stub files say", {"200": _json(
            {"type": "object", "required": ["stubs"], "properties": {
                "stubs": {"type": "integer"}, "configErrors": CONFIG_ERRORS}})})},
        "/__admin/mappings/reload": {"post": _op("Re-read the stub files (the API's changes stay)", {
            "200": _json({"type": "object", "required": ["reloaded", "stubs"]}),
            "422": _json({"type": "object", "required": ["reloaded", "configErrors"], "properties": {
                "configErrors": CONFIG_ERRORS}}, "The files have errors; the previous table keeps serving")})},
        "/__admin/requests": {
            "get": _op("The journal, newest first", {"200": _json(REQUESTS), "400": ERROR}, parameters=[
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}}]),
            "delete": _op("Empty the journal", {"200": _json(OBJECT)}),
        },
        "/__admin/requests/find": {"post": _op("Journaled requests a request matcher accepts",
                                               {"200": _json(REQUESTS), "400": ERROR}, requestBody=MATCHER_BODY)},
        "/__admin/requests/count": {"post": _op("How many journaled requests a request matcher accepts", {
            "200": _json({"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}),
            "400": ERROR}, requestBody=MATCHER_BODY)},
        "/__admin/requests/unmatched": {"get": _op("Journaled requests no stub matched", {"200": _json(REQUESTS)})},
        "/__admin/near-misses": {"post": _op("The stubs nearest to a request, with what differed; or, when a "
                                             "stub matches it, that stub (`matched`) and no near misses", {
            "200": _json(NEAR_MISSES), "400": ERROR}, requestBody={
                "required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "method": {"type": "string"}, "url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {"type": "string"}}}}}})},
        "/__admin/scenarios": {
            "get": _op("Scenarios and their state in a session", {"200": _json(OBJECT)}, parameters=SESSION),
            "post": _op("Set a scenario's state in a session. The scenario and the state must be ones the stubs "
                        "name (Started, requiredState, newState): an unknown one is a 400 listing the known "
                        "scenarios, or the known states of that scenario, in `known` (WireMock answers 404 for "
                        "an unknown scenario)", {"200": _json(OBJECT), "400": SCENARIO_ERROR}, requestBody={
                "required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "state"], "properties": {
                        "name": {"type": "string"}, "state": {"type": "string"},
                        "session": {"type": "string"}}}}}}),
        },
        "/__admin/scenarios/reset": {"post": _op("Scenarios and sequences back to the start (one session, or all)",
                                                 {"200": _json(OBJECT)}, parameters=SESSION)},
        "/__admin/faults": {
            "get": _op("Every fault: standalone ones (files, --fault, this API), then stubs' own",
                       {"200": _json(FAULTS)}),
            "post": _op("Create a fault (for a stub by `route` name, for requests a `request` matcher accepts, "
                        "or for every request)", {"201": _json(FAULT, "Created"), "400": ERROR},
                        requestBody=FAULT_BODY),
            "delete": _op("Delete every standalone fault, files' included (reset brings them back)",
                          {"200": _json(FAULTS)}),
        },
        "/__admin/contracts": {
            "get": _op("Contracts (OpenAPI) served as stubs or monitoring traffic: their operations, where each "
                       "is served or watched, and the last reload's errors in their files (`loadErrors`; the "
                       "previous contract keeps serving)",
                       {"200": _json(CONTRACTS)}),
            "post": _op("Serve a contract: `{openapi: FILE}` or `{pact: FILE}` (under the stubs directory) or "
                        "`{spec: {...}}` (the document itself), with the options of a stub file's `contract:` "
                        "entry (name, seed, priority; OpenAPI: basePath, validate, enforceSecurity, monitor, "
                        "enforce, violationHeader; pact: providerState, strictProviderState, providerStateHeader)",
                        {"201": _json(CONTRACT, "Created"), "400": ERROR}, requestBody=CONTRACT_BODY),
        },
        "/__admin/contracts/{id}": {
            "parameters": ID,
            "get": _op("One contract", {"200": _json(CONTRACT), "404": NOT_FOUND}),
            "delete": _op("Stop serving a contract created through this API (one from a file changes with its "
                          "file: 409)", {"200": _json({"type": "object", "required": ["deleted"]}),
                                         "404": NOT_FOUND, "409": CONFLICT}),
        },
        "/__admin/grpc/services": {"get": _op(
            "The gRPC services of the .proto files loaded now, each with its methods (path, kind, input and output "
            "types) and its health status; stuntman's own services (health, reflection) and the overall status",
            {"200": _json(GRPC_SERVICES), "404": NO_GRPC})},
        "/__admin/grpc/health": {"put": _op(GRPC_HEALTH_PUT.format(what="the server as a whole (service '')"), {
            "200": _json(GRPC_HEALTH), "400": GRPC_HEALTH_ERROR, "404": NO_GRPC}, requestBody=GRPC_HEALTH_BODY)},
        "/__admin/grpc/health/{service}": {
            "parameters": [{"name": "service", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "the service's full name, e.g. shop.v1.Orders (any name: one passed "
                                           "through without a .proto too)"}],
            "put": _op(GRPC_HEALTH_PUT.format(what="one service"), {
                "200": _json(GRPC_HEALTH), "400": GRPC_HEALTH_ERROR, "404": NO_GRPC}, requestBody=GRPC_HEALTH_BODY)},
        "/__admin/faults/reset": {"post": _op("Back to the files' and --fault flags' faults; counters, generators "
                                              "and limits start afresh. With `session`, only that session's "
                                              "counters, generators and limits keyed by session (the faults stay "
                                              "as they are)", {"200": _json(FAULTS)}, parameters=SESSION)},
        "/__admin/faults/{id}": {
            "parameters": ID,
            "get": _op("One standalone fault", {"200": _json(FAULT), "404": NOT_FOUND, "409": CONFLICT}),
            "put": _op("Replace a fault", {"200": _json(FAULT), "400": ERROR, "404": NOT_FOUND, "409": CONFLICT},
                       requestBody=FAULT_BODY),
            "patch": _op("Change some fields of a fault, e.g. {\"enabled\": false}",
                         {"200": _json(FAULT), "400": ERROR, "404": NOT_FOUND, "409": CONFLICT},
                         requestBody={"required": True, "content": {"application/json": {"schema": OBJECT}}}),
            "delete": _op("Delete a fault", {"200": _json({"type": "object", "required": ["deleted"]}),
                                             "404": NOT_FOUND, "409": CONFLICT}),
        },
        "/__admin/recordings/start": {"post": _op(
            "Record what `filter` accepts (default: every request no stub answers) through `upstream` "
            "(default: --upstream) into the recording `name`; into one that holds exchanges only with `mode`",
            {"200": _json(RECORDING_STATUS), "400": ERROR, "409": ALREADY}, requestBody={
                "required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "additionalProperties": False, "properties": {
                        "name": RECORDING_NAME,
                        "upstream": {"anyOf": [HTTP_URL, NULL], "description": "http(s)://host[:port][/base-path]; "
                                     "default --upstream (without it, this is required)"},
                        "filter": {"anyOf": [_ref("RequestSpec"), NULL], "description": "the requests to record "
                                   "(default: all that no stub answers)"},
                        "mode": RECORDING_MODE}}}}})},
        "/__admin/recordings/stop": {"post": _op("Stop recording", {"200": _json(RECORDING_STATUS)})},
        "/__admin/recordings/snapshot": {"post": _op(
            "Write the proxied exchanges the journal holds (those its `filter` accepts) into the recording "
            "`name`; needs --journal-responses", {
                "200": _json({"type": "object", "required": ["name", "exchanges", "skipped"], "properties": {
                    "name": {"type": "string"}, "exchanges": {"type": "integer"}, "skipped": {"type": "integer"}}}),
                "400": ERROR, "409": _json({"type": "object", "required": ["error"]}, "No responses in the journal, "
                                           "or the recording holds exchanges and no `mode` was given")},
            requestBody={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "additionalProperties": False, "properties": {
                    "name": RECORDING_NAME, "filter": {"anyOf": [_ref("RequestSpec"), NULL]},
                    "mode": RECORDING_MODE}}}}})},
        "/__admin/recordings/status": {"get": _op("Whether stuntman is recording, where to, how many exchanges",
                                                  {"200": _json(RECORDING_STATUS)})},
        "/__admin/shutdown": {"post": _op("Stop stuntman", {"200": _json(OBJECT)})},
        "/__admin/openapi.json": {"get": _op("This document", {"200": _json(OBJECT)})},
        "/__admin/docs": {"get": _op("This API for humans", {
            "200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}})},
        "/metrics": {"get": _op("Prometheus metrics", {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "404": NOT_FOUND})},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "stuntman admin API", "version": __version__,
                 "description": "Stubs and faults at runtime, the request journal, near-misses, scenarios, health."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearer": []}],
    }


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>stuntman admin API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2em}h2{margin-top:2rem}li{margin:.2rem 0}</style></head>
<body><h1>stuntman admin API</h1>
<p>The machine-readable document is <a href="/__admin/openapi.json">/__admin/openapi.json</a>
(OpenAPI 3.1). Bodies are JSON with <code>Content-Type: application/json</code>, or YAML with
<code>Content-Type: application/yaml</code> (any other type: 415); stubs follow the same model as
the files in <code>stubs/</code>. Requests from web pages elsewhere (an <code>Origin</code> that is
not this API's) get 403, a <code>Host</code> that does not name it 421.</p>
{sections}
</body></html>
"""


@lru_cache(maxsize=1)
def docs_page() -> str:
    from html import escape

    items = []
    for path, operations in document()["paths"].items():
        for method, op in operations.items():
            if method != "parameters":
                items.append(f"<li><code>{method.upper()} {escape(path)}</code> — {escape(op['summary'])}</li>")
    return DOCS_PAGE.replace("{sections}", "<h2>Endpoints</h2><ul>\n" + "\n".join(items) + "\n</ul>")
