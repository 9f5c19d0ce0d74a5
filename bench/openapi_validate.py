#!/usr/bin/env python3
"""What OpenAPI validation costs: µs of CPU per `check` and the time to compile a big spec.

  .venv/bin/python bench/openapi_validate.py [--operations 500] [--schemas 1000] [--repeat 200000]

1. A typical request (POST /orders/{orderId}/items?limit=10 with a small JSON body: two parameters
   and a body of 4 fields, one nested) through `RequestValidator.check`, valid and invalid; a
   typical response (200, one header, a small JSON body) through `ResponseValidator.check`. Each
   is timed as the best of 5 runs of --repeat calls (process CPU time), in µs per call.
2. A generated spec of --operations operations and --schemas schemas (each schema ~15 properties
   with descriptions, formats, a nullable field, a readOnly id, and a $ref to the next schema, so
   the chain of references is one long cycle), written as YAML (about 4 MB with the defaults):
   the time `load_spec` takes, then the time to build the request validators of every operation
   (the first one converts and compiles the spec's request schemas), then the response validators.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "proxy"))

from stuntman.openapi.document import load_spec  # noqa: E402
from stuntman.openapi.validate import RequestValidator, ResponseValidator  # noqa: E402

TYPICAL = {
    "openapi": "3.0.3",
    "info": {"title": "typical", "version": "1"},
    "paths": {"/orders/{orderId}/items": {"post": {
        "parameters": [
            {"name": "orderId", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Item"}}}},
        "responses": {"200": {"description": "ok",
                              "headers": {"X-Rate-Limit": {"required": True, "schema": {"type": "integer"}}},
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                      "default": {"description": "error"}}}}},
    "components": {"schemas": {
        "Item": {"type": "object", "required": ["sku", "qty"], "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
            "qty": {"type": "integer", "minimum": 1},
            "note": {"type": "string", "nullable": True, "maxLength": 200},
            "price": {"$ref": "#/components/schemas/Money"}}},
        "Money": {"type": "object", "required": ["amount", "currency"], "properties": {
            "amount": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]}}}}},
}
BODY = json.dumps({"sku": "ABC-12", "qty": 2, "note": None, "price": {"amount": 9.5, "currency": "EUR"}}).encode()
BAD_BODY = json.dumps({"sku": "abc", "qty": 0, "price": {"amount": -1, "currency": "XXX"}}).encode()


def per_call(fn, repeat: int) -> float:
    """Best of 5: µs of process CPU time per call."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, time.process_time() - start)
    return best / repeat * 1e6


def typical(repeat: int, directory: Path) -> None:
    path = directory / "typical.json"
    path.write_text(json.dumps(TYPICAL))
    spec = load_spec(path, "typical.json")
    op = spec.operations[0]
    request, response = RequestValidator(spec, op), ResponseValidator(spec, op)
    params, query, headers = {"orderId": "42"}, {"limit": ["10"]}, {"content-type": "application/json"}
    assert request.check(params, query, headers, BODY, "application/json") == []
    assert len(request.check({"orderId": "0"}, query, headers, BAD_BODY, "application/json")) == 5
    rows = [
        ("request, valid (2 params + JSON body)",
         lambda: request.check(params, query, headers, BODY, "application/json"), repeat),
        ("  of which json.loads(body)", lambda: json.loads(BODY), repeat),
        ("request, invalid (5 violations, messages built)",
         lambda: request.check({"orderId": "0"}, query, headers, BAD_BODY, "application/json"), repeat // 20),
        ("response, valid (status, 1 header, JSON body)",
         lambda: response.check(200, {"x-rate-limit": "10"}, BODY, "application/json"), repeat),
    ]
    print(f"{'check':<52} µs/call (CPU)")
    for label, fn, n in rows:
        print(f"{label:<52} {per_call(fn, n):7.2f}")


def big_spec(operations: int, schemas: int) -> dict:
    """A spec the size of a large public API: `schemas` object schemas referring to each other in
    one cycle, `operations` operations over them (half GET with parameters, half POST with a body)."""
    components = {}
    for i in range(schemas):
        nxt = (i + 1) % schemas
        props = {
            "id": {"type": "string", "format": "uuid", "readOnly": True, "description": f"The id of thing {i}."},
            "name": {"type": "string", "minLength": 1, "maxLength": 100, "description": "A name people read."},
            "count": {"type": "integer", "format": "int32", "minimum": 0, "description": "How many there are."},
            "price": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "description": "Price, tax incl."},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 10},
            "created": {"type": "string", "format": "date-time", "description": "When it was made (RFC 3339)."},
            "status": {"type": "string", "enum": ["draft", "active", "archived"], "nullable": True},
            "email": {"type": "string", "format": "email", "description": "Who to write to about it."},
            "next": {"$ref": f"#/components/schemas/Thing{nxt}"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1, "description": "A share between 0 and 1."},
            "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$", "description": "A code of two letters."},
            "active": {"type": "boolean", "description": "Whether it is in use at the moment."},
            "parent": {"allOf": [{"$ref": f"#/components/schemas/Thing{(i * 7) % schemas}"}], "nullable": True},
            "secret": {"type": "string", "writeOnly": True, "description": "Only ever sent, never answered."},
        }
        components[f"Thing{i}"] = {"type": "object", "description": f"Thing number {i}, " + "words " * 20,
                                   "required": ["id", "name", "secret"], "properties": props}
    paths: dict = {}
    for i in range(operations // 2):
        ref = {"$ref": f"#/components/schemas/Thing{(i * 2) % schemas}"}
        paths[f"/things{i}/{{thingId}}"] = {
            "get": {"operationId": f"get{i}", "summary": f"Read thing {i}", "parameters": [
                {"name": "thingId", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
                {"name": "fields", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "X-Request-Id", "in": "header", "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"200": {"description": "the thing", "content": {"application/json": {"schema": ref}}},
                              "404": {"description": "none such"},
                              "default": {"description": "error", "content": {"application/json": {
                                  "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}}}},
            "post": {"operationId": f"post{i}", "summary": f"Replace thing {i}", "parameters": [
                {"name": "thingId", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {"200": {"description": "replaced", "content": {"application/json": {"schema": ref}}},
                              "4XX": {"description": "refused"}}},
        }
    return {"openapi": "3.0.3", "info": {"title": "big", "version": "1"}, "paths": paths,
            "components": {"schemas": components}}


def big(operations: int, schemas: int, directory: Path) -> None:
    path = directory / "big.yaml"
    path.write_text(yaml.safe_dump(big_spec(operations, schemas), sort_keys=False))
    print(f"\nbig spec: {operations} operations, {schemas} schemas, {path.stat().st_size / 1e6:.1f} MB of YAML")
    start = time.perf_counter()
    spec = load_spec(path, "big.yaml")
    loaded = time.perf_counter()
    requests = [RequestValidator(spec, op) for op in spec.operations]
    compiled_requests = time.perf_counter()
    responses = [ResponseValidator(spec, op) for op in spec.operations]
    compiled_responses = time.perf_counter()
    print(f"load_spec                                 {loaded - start:6.2f} s")
    print(f"request validators of every operation     {compiled_requests - loaded:6.2f} s")
    print(f"response validators of every operation    {compiled_responses - compiled_requests:6.2f} s")
    print(f"total                                     {compiled_responses - start:6.2f} s")
    assert len(requests) == len(responses) == len(spec.operations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=500)
    parser.add_argument("--schemas", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        typical(args.repeat, Path(tmp))
        big(args.operations, args.schemas, Path(tmp))


if __name__ == "__main__":
    main()
