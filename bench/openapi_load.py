#!/usr/bin/env python3
"""How long a big OpenAPI spec takes to load, and how much memory (the issue's bound: a 4 MB,
500-operation spec loads in under 5 s).

  openapi_load.py [--resources 125] [--rounds 3] [--keep DIR]

Generates the spec from a template (the one tests/test_openapi_document.py loads): `resources`
resources, each with a list, create, get and delete operation (4 x 125 = 500) and 8 component
schemas (1,000) that `$ref` each other and the next resource's schemas, with descriptions,
examples, enums and formats, to about 4 MB of YAML. Then, each in a fresh process (so peak RSS is
its own): `load_spec` (libyaml's CSafeLoader), a bare yaml.load with CSafeLoader, and a bare
yaml.load with the pure-Python SafeLoader for comparison. Prints seconds and peak RSS (VmHWM).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
LOREM = ("The value the service keeps for this field. It is returned as stored, trimmed of surrounding "
         "white space, and compared case-insensitively when the collection is filtered by it.")


def _fields(prefix: str, n: int) -> dict[str, Any]:
    """n plain string properties, described (what makes a real spec's bulk)."""
    return {f"{prefix}{k}": {"type": "string", "maxLength": 100 + k, "description": f"{prefix} {k}. {LOREM}",
                             "example": f"{prefix} value {k}"} for k in range(n)}


def _schemas(r: int, resources: int) -> dict[str, Any]:
    """Resource r's 8 schemas; Item refers to the next resource's Item (a ring through all of them)."""
    nxt = (r + 1) % resources
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    return {
        f"Item{r}": {
            "type": "object", "description": f"Resource {r}. {LOREM}",
            "required": ["id", "name", "status"],
            "properties": {
                "id": {"type": "string", "format": "uuid", "readOnly": True, "description": LOREM},
                "name": {"type": "string", "minLength": 1, "maxLength": 120, "description": LOREM,
                         "example": f"item {r}"},
                "status": {"type": "string", "enum": ["draft", "active", "archived", "deleted"],
                           "description": LOREM},
                "price": {"type": "number", "format": "double", "minimum": 0, "description": LOREM},
                "count": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10_000},
                "createdAt": {"type": "string", "format": "date-time", "readOnly": True},
                "address": ref(f"Address{r}"),
                "tags": {"type": "array", "maxItems": 20, "items": ref(f"Tag{r}")},
                "meta": ref(f"Meta{r}"),
                "links": {"type": "array", "items": ref(f"Link{r}")},
                "related": ref(f"Item{nxt}"),
                "parent": ref(f"Item{r}"),
                **_fields("attribute", 26),
            },
            "example": {"id": "8d0c6a8e-3f5e-4d59-9a53-1b4c7a0f2e11", "name": f"item {r}", "status": "active",
                        "price": 12.5, "count": 3},
        },
        f"NewItem{r}": {
            "type": "object", "description": f"What a client sends to create resource {r}. {LOREM}",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 120, "description": LOREM},
                "status": {"type": "string", "enum": ["draft", "active"], "default": "draft"},
                "price": {"type": "number", "format": "double", "minimum": 0},
                "address": ref(f"Address{r}"),
                "tags": {"type": "array", "items": ref(f"Tag{r}")},
                **_fields("attribute", 26),
            },
        },
        f"ItemList{r}": {
            "type": "object", "description": f"A page of resource {r}. {LOREM}",
            "required": ["items", "total"],
            "properties": {
                "items": {"type": "array", "items": ref(f"Item{r}")},
                "total": {"type": "integer", "format": "int64", "minimum": 0},
                "next": ref(f"Link{r}"),
            },
        },
        f"Address{r}": {
            "type": "object", "description": LOREM,
            "properties": {
                "street": {"type": "string", "maxLength": 200, "description": LOREM},
                "city": {"type": "string", "maxLength": 100, "description": LOREM},
                "postcode": {"type": "string", "pattern": "^[0-9A-Z -]{3,10}$", "description": LOREM},
                "country": {"type": "string", "minLength": 2, "maxLength": 2, "description": LOREM},
            },
        },
        f"Tag{r}": {
            "type": "object", "description": LOREM, "required": ["key"],
            "properties": {"key": {"type": "string", "maxLength": 40}, "value": {"type": "string", "maxLength": 200}},
        },
        f"Meta{r}": {
            "type": "object", "description": LOREM,
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "etag": {"type": "string", "description": LOREM},
                "owner": {"type": "string", "format": "email", "description": LOREM},
                **_fields("note", 12),
            },
            "additionalProperties": {"type": "string"},
        },
        f"Link{r}": {
            "type": "object", "description": LOREM, "required": ["href"],
            "properties": {"href": {"type": "string", "format": "uri", "description": LOREM},
                           "rel": {"type": "string", "enum": ["self", "next", "prev", "related"]}},
        },
        f"Error{r}": {
            "type": "object", "description": LOREM, "required": ["code", "message"],
            "properties": {"code": {"type": "integer", "format": "int32"}, "message": {"type": "string"},
                           "item": ref(f"Item{r}")},
        },
    }


def _paths(r: int) -> dict[str, Any]:
    ref = lambda kind, name: {"$ref": f"#/components/{kind}/{name}"}  # noqa: E731
    json_of = lambda name: {"application/json": {"schema": ref("schemas", name)}}  # noqa: E731
    errors = {"404": {"description": f"No such resource {r}. {LOREM}", "content": json_of(f"Error{r}")},
              "default": ref("responses", "Error")}
    return {
        f"/resources{r}/items": {
            "get": {"operationId": f"list{r}", "summary": f"List resource {r}", "description": LOREM,
                    "tags": [f"resource{r}"],
                    "parameters": [ref("parameters", "Limit"), ref("parameters", "Cursor"),
                                   {"name": "status", "in": "query", "description": LOREM,
                                    "schema": {"type": "array", "items": {"type": "string"}}, "explode": False}],
                    "responses": {"200": {"description": LOREM, "content": json_of(f"ItemList{r}")}, **errors}},
            "post": {"operationId": f"create{r}", "summary": f"Create resource {r}", "description": LOREM,
                     "tags": [f"resource{r}"],
                     "requestBody": {"required": True, "content": json_of(f"NewItem{r}")},
                     "responses": {"201": {"description": LOREM, "content": json_of(f"Item{r}")}, **errors}},
        },
        f"/resources{r}/items/{{itemId}}": {
            "parameters": [ref("parameters", "ItemId")],
            "get": {"operationId": f"get{r}", "summary": f"Get resource {r}", "description": LOREM,
                    "tags": [f"resource{r}"],
                    "responses": {"200": {"description": LOREM, "content": json_of(f"Item{r}")}, **errors}},
            "delete": {"operationId": f"delete{r}", "summary": f"Delete resource {r}", "description": LOREM,
                       "tags": [f"resource{r}"],
                       "responses": {"204": {"description": "Deleted"}, **errors}},
        },
    }


def generate(path: Path, resources: int = 125) -> Path:
    """Write the big spec (4 operations and 8 schemas per resource) to path, as YAML."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for r in range(resources):
        schemas.update(_schemas(r, resources))
        paths.update(_paths(r))
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "A big generated API", "version": "1.0.0", "description": LOREM},
        "servers": [{"url": "https://{host}/api/{version}",
                     "variables": {"host": {"default": "api.example.com"}, "version": {"default": "v1"}}}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                "Cursor": {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                "ItemId": {"name": "itemId", "in": "path", "required": True,
                           "schema": {"type": "string", "format": "uuid"}},
            },
            "responses": {"Error": {"description": "Something went wrong", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error0"}}}}},
        },
    }
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(doc, Dumper=dumper, sort_keys=False, width=120), encoding="utf-8")
    return path


_MEASURE = """
import sys, time
from pathlib import Path
import yaml
what, file = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if what == "load_spec":
    from stuntman.openapi.document import load_spec
    n = len(load_spec(file).operations)
else:
    loader = yaml.CSafeLoader if what == "CSafeLoader" else yaml.SafeLoader
    n = len(yaml.load(file.read_text(), Loader=loader)["paths"])
took = time.perf_counter() - start
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(f"{what:12} {took:6.2f} s   peak RSS {int(hwm) / 1024:6.1f} MB   ({n} operations or paths)")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=125, help="4 operations and 8 schemas each")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (the box may be busy: compare the best)")
    parser.add_argument("--keep", type=Path, help="write the spec here (kept) instead of a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = generate((args.keep or Path(tmp)) / "big.yaml", args.resources)
        print(f"{spec}: {spec.stat().st_size / 1e6:.2f} MB, {4 * args.resources} operations, "
              f"{8 * args.resources} schemas")
        for _ in range(args.rounds):
            for what in ("load_spec", "CSafeLoader", "SafeLoader"):
                subprocess.run([sys.executable, "-c", _MEASURE, what, str(spec)], check=True)


if __name__ == "__main__":
    main()
