"""Swagger 2.0, rewritten in the shape of OpenAPI 3.0 (in place, on the bundle), so everything
after loading handles one shape: `servers` from host/basePath, `in: body` and `in: formData`
parameters as a `requestBody`, a response's `schema`/`examples` as `content` per produced media
type, parameter `type`/`collectionFormat` as `schema`/`style`/`explode`, `x-nullable` as
`nullable`, `securityDefinitions` as `components.securitySchemes`.

`#/definitions`, `#/parameters` and `#/responses` stay where they are, so `$ref`s to them keep
working (`components.schemas` is the same object as `definitions`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .document import METHODS, SpecError, pointer

if TYPE_CHECKING:
    from .document import Spec

# the keywords a non-body 2.0 parameter shares with a schema
_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "maximum", "exclusiveMaximum", "minimum",
                "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
                "multipleOf", "x-nullable")
# collectionFormat → (style, explode), for query (and formData) parameters; path and header: simple
_QUERY_STYLES = {"csv": ("form", False), "ssv": ("spaceDelimited", False), "tsv": ("tabDelimited", False),
                 "pipes": ("pipeDelimited", False), "multi": ("form", True)}


def upgrade(spec: Spec) -> None:
    doc = spec.doc
    _nullable(doc)
    base = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
    host = doc.get("host")
    schemes = doc.get("schemes") or ["http"]
    doc["servers"] = ([{"url": f"{scheme}://{host}{base}"} for scheme in schemes] if isinstance(host, str)
                      else [{"url": base or "/"}])
    components = doc.setdefault("components", {})
    if isinstance(doc.get("definitions"), dict):
        components["schemas"] = doc["definitions"]
    if isinstance(doc.get("securityDefinitions"), dict):
        components["securitySchemes"] = {name: _security_scheme(s)
                                         for name, s in doc["securityDefinitions"].items()}
    consumes = doc.get("consumes") or ["application/json"]
    produces = doc.get("produces") or ["application/json"]
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return
    for template, item in paths.items():
        item = spec.resolve(item)
        if not isinstance(item, dict):
            continue
        at = pointer("paths", template)
        shared = [spec.resolve(p) for p in item.get("parameters") or []]
        item["parameters"] = [_parameter(p) for p in shared if _plain(p)]
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            own = [spec.resolve(p) for p in op.get("parameters") or []]
            for p in own:
                if not isinstance(p, dict) or "in" not in p:
                    raise SpecError(spec.file, f"{at}/{method}/parameters", "a parameter needs `name` and `in`")
            # the operation's own parameters replace path-level ones of the same name and place
            names = {(p.get("in"), p.get("name")) for p in own}
            every = [p for p in shared if isinstance(p, dict) and (p.get("in"), p.get("name")) not in names] + own
            op["parameters"] = [_parameter(p) for p in every if _plain(p)]
            body = _request_body(every, op.get("consumes") or consumes)
            if body is not None:
                op["requestBody"] = body
            op_produces = op.get("produces") or produces
            responses = op.get("responses")
            if isinstance(responses, dict):
                op["responses"] = {code: _response(spec.resolve(r), op_produces) for code, r in responses.items()}


def _nullable(node: Any) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "x-nullable" in item and "nullable" not in item:
                item["nullable"] = item["x-nullable"]
            if item.get("type") == "file":
                item["type"], item["format"] = "string", "binary"
            stack.extend(v for k, v in item.items() if isinstance(v, (dict, list)) and k not in ("example", "examples"))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def _plain(param: Any) -> bool:
    return isinstance(param, dict) and param.get("in") in ("path", "query", "header")


def _schema_of(param: dict) -> dict:
    schema = {k: param[k] for k in _SCHEMA_KEYS if k in param}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _schema_of(schema["items"])
    if "x-nullable" in schema:
        schema["nullable"] = schema.pop("x-nullable")
    return schema


def _parameter(param: dict) -> dict:
    dropped = (*_SCHEMA_KEYS, "collectionFormat", "allowEmptyValue")
    out: dict[str, Any] = {k: v for k, v in param.items() if k not in dropped}
    out["schema"] = _schema_of(param)
    if param.get("allowEmptyValue"):
        out["allowEmptyValue"] = True
    fmt = param.get("collectionFormat")
    if param.get("type") == "array":
        if param["in"] == "query":
            out["style"], out["explode"] = _QUERY_STYLES.get(fmt or "csv", ("form", False))
        else:
            out["style"], out["explode"] = "simple", False
    return out


def _request_body(params: list, consumes: list[str]) -> dict | None:
    body = next((p for p in params if isinstance(p, dict) and p.get("in") == "body"), None)
    if body is not None:
        schema: dict[str, Any] = body.get("schema") or {}
        content: dict[str, dict[str, Any]] = {media: {"schema": schema} for media in consumes}
        if "x-example" in body:
            for media in content.values():
                media["example"] = body["x-example"]
        return {"required": bool(body.get("required")), "content": content,
                **({"description": body["description"]} if "description" in body else {})}
    form = [p for p in params if isinstance(p, dict) and p.get("in") == "formData"]
    if not form:
        return None
    form_type = ("multipart/form-data" if "multipart/form-data" in consumes
                 or any(p.get("type") == "file" for p in form) else "application/x-www-form-urlencoded")
    schema = {"type": "object", "properties": {p["name"]: _schema_of(p) for p in form}}
    required = [p["name"] for p in form if p.get("required")]
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {form_type: {"schema": schema}}}


def _response(response: Any, produces: list[str]) -> Any:
    if not isinstance(response, dict) or "content" in response:
        return response
    out: dict[str, Any] = {k: v for k, v in response.items() if k not in ("schema", "examples", "headers")}
    examples: dict = response["examples"] if isinstance(response.get("examples"), dict) else {}
    if "schema" in response or examples:
        media_types = list(dict.fromkeys([*produces, *examples]))
        out["content"] = {}
        for media in media_types:
            entry: dict = {}
            if "schema" in response:
                entry["schema"] = response["schema"]
            if media in examples:
                entry["example"] = examples[media]
            out["content"][media] = entry
    if isinstance(response.get("headers"), dict):
        out["headers"] = {name: ({"schema": _schema_of(h), **({"description": h["description"]}
                                                                if "description" in h else {})}
                                 if isinstance(h, dict) else h)
                          for name, h in response["headers"].items()}
    return out


def _security_scheme(scheme: Any) -> Any:
    if not isinstance(scheme, dict):
        return scheme
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "apiKey":
        return {"type": "apiKey", "name": scheme.get("name"), "in": scheme.get("in")}
    if kind == "oauth2":
        flow = _OAUTH2_FLOWS.get(str(scheme.get("flow")))
        if flow is None:
            return {"type": "oauth2", "flows": {}}
        urls = {k: scheme[k] for k in ("authorizationUrl", "tokenUrl") if k in scheme}
        return {"type": "oauth2", "flows": {flow: {**urls, "scopes": scheme.get("scopes") or {}}}}
    return scheme


# a 2.0 oauth2 `flow` → the name of its 3.0 flow
_OAUTH2_FLOWS = {"implicit": "implicit", "password": "password", "application": "clientCredentials",
                 "accessCode": "authorizationCode"}
