"""Swagger 2.0, rewritten in the shape of OpenAPI 3.0 (in place, on the bundle), so everything
after loading handles one shape: `servers` from host/basePath, `in: body` and `in: formData`
parameters as a `requestBody`, a response's `schema`/`examples` as `content` per produced media
type, parameter `type`/`collectionFormat` as `schema`/`style`/`explode`, `x-nullable` as
`nullable`, `securityDefinitions` as `components.securitySchemes`.

`#/definitions`, `#/parameters` and `#/responses` stay where they are, so `$ref`s to them keep
working (`components.schemas` is the same object as `definitions`).

A message names the rule at fault as `file#pointer` in the file the user wrote, and a pointer of
the 3.0 shape (`.../requestBody/content/application~1json/schema/...`) is not in a 2.0 file. So
each node made here records where it came from, in `spec.origins` (a pointer of the 3.0 shape →
the pointer of the 2.0 node it was made from; `Spec.where` maps through the longest recorded
prefix, so a keyword deeper in a schema keeps its place): a parameter's `schema` is the parameter
itself (`type`, `items`, `minimum`... are its own keywords), its `style`/`explode` its
`collectionFormat`; a parameter listed at another index (body and formData parameters are not
parameters in 3.0, path-level ones are copied into each operation, a `$ref` is resolved) its
place in the 2.0 list or under `#/parameters`; the `requestBody` the body parameter, its schema
the parameter's `schema`, its media types the `consumes` entries; a form body's schema the
operation's parameters list, each property the formData parameter it was made from, and its
`required` that parameter's `required` (the list when several are required); a response's
content the response's `schema`, `examples` and `produces`; a response header's `schema` the
header; `components.schemas` and `components.securitySchemes` `definitions` and
`securityDefinitions`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .document import METHODS, SpecError, canonical, escape, pointer, walk_pointer

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
    origins = spec.origins
    _nullable(doc)
    base = doc.get("basePath") if isinstance(doc.get("basePath"), str) else ""
    host = doc.get("host")
    schemes = doc.get("schemes") or ["http"]
    doc["servers"] = ([{"url": f"{scheme}://{host}{base}"} for scheme in schemes] if isinstance(host, str)
                      else [{"url": base or "/"}])
    if "host" in doc or "basePath" in doc:
        origins["/servers"] = "/host" if "host" in doc else "/basePath"
    components = doc.setdefault("components", {})
    if isinstance(doc.get("definitions"), dict):
        components["schemas"] = doc["definitions"]
        origins["/components/schemas"] = "/definitions"
    if isinstance(doc.get("securityDefinitions"), dict):
        components["securitySchemes"] = {name: _security_scheme(s)
                                         for name, s in doc["securityDefinitions"].items()}
        _security_origins(doc["securityDefinitions"], origins)
    consumes = _listed(doc, "consumes", "", (["application/json"], ""))
    produces = _listed(doc, "produces", "", (["application/json"], ""))
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return
    upgraded: set[int] = set()
    for template, item in paths.items():
        at = pointer("paths", template)
        item, item_at = _found(spec, item, at)
        if not isinstance(item, dict) or id(item) in upgraded:
            continue  # (a path item two paths $ref is upgraded once: again, its parameters would lose their schema)
        upgraded.add(id(item))
        shared = [_found(spec, p, f"{item_at}/parameters/{i}") for i, p in enumerate(item.get("parameters") or [])]
        item["parameters"] = _parameters(shared, f"{item_at}/parameters", origins)
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_at = f"{item_at}/{method}"
            own = [_found(spec, p, f"{op_at}/parameters/{i}") for i, p in enumerate(op.get("parameters") or [])]
            for p, _ in own:
                if not isinstance(p, dict) or "in" not in p:
                    raise SpecError(spec.file, f"{at}/{method}/parameters", "a parameter needs `name` and `in`")
            # the operation's own parameters replace path-level ones of the same name and place
            names = {(p.get("in"), p.get("name")) for p, _ in own}
            every = [(p, p_at) for p, p_at in shared
                     if isinstance(p, dict) and (p.get("in"), p.get("name")) not in names] + own
            op["parameters"] = _parameters(every, f"{op_at}/parameters", origins)
            form_at = f"{op_at}/parameters" if any(p.get("in") == "formData" for p, _ in own) \
                else f"{item_at}/parameters"
            body = _request_body(every, _listed(op, "consumes", op_at, consumes), f"{op_at}/requestBody", form_at,
                                 origins)
            if body is not None:
                op["requestBody"] = body
            op_produces = _listed(op, "produces", op_at, produces)
            responses = op.get("responses")
            if isinstance(responses, dict):
                op["responses"] = {code: _response(*_found(spec, r, f"{op_at}/responses/{escape(str(code))}"),
                                                   op_produces, f"{op_at}/responses/{escape(str(code))}", origins)
                                   for code, r in responses.items()}


def _found(spec: Spec, node: Any, at: str) -> tuple[Any, str]:
    """node, or what its `$ref` (chain) points at, and the bundle pointer of what was found."""
    for _ in range(65):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node, at
        node, at = walk_pointer(spec.doc, node["$ref"][1:]), canonical(node["$ref"][1:])
    raise SpecError(spec.file, node["$ref"], "a $ref chain loops")


def _listed(holder: dict, key: str, at: str, default: tuple[list[str], str]) -> tuple[list[str], str]:
    """`consumes` or `produces` of holder (the document or an operation) and its pointer; else the
    default: the document's, or application/json, which is nowhere ("")."""
    return (holder[key], f"{at}/{key}") if holder.get(key) else default


def _note(origins: dict[str, str], made: str, source: str) -> None:
    if made != source:
        origins[made] = source


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


def _parameters(params: list[tuple[Any, str]], at: str, origins: dict[str, str]) -> list[dict]:
    """The path, query and header parameters in 3.0 shape, each noted as made from its 2.0 one."""
    out: list[dict] = []
    for param, source in params:
        if _plain(param):
            made = f"{at}/{len(out)}"
            out.append(_parameter(param))
            _parameter_origins(param, made, source, origins)
    return out


def _parameter_origins(param: dict, made: str, source: str, origins: dict[str, str]) -> None:
    _note(origins, made, source)
    _schema_origins(param, f"{made}/schema", source, origins)
    if param.get("type") == "array":
        fmt = f"{source}/collectionFormat" if "collectionFormat" in param else f"{source}/type"
        origins[f"{made}/style"] = origins[f"{made}/explode"] = fmt


def _schema_origins(param: Any, made: str, source: str, origins: dict[str, str]) -> None:
    """The schema _schema_of makes from param: the same keywords (so `items` and what is under it
    keep their place), `x-nullable` as `nullable`."""
    _note(origins, made, source)
    while isinstance(param, dict):
        if "x-nullable" in param:
            origins[f"{made}/nullable"] = f"{source}/x-nullable"
        param, made, source = param.get("items"), f"{made}/items", f"{source}/items"


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


def _request_body(params: list[tuple[Any, str]], consumes: tuple[list[str], str], made: str, form_at: str,
                  origins: dict[str, str]) -> dict | None:
    types = consumes[0]
    found = next(((p, at) for p, at in params if isinstance(p, dict) and p.get("in") == "body"), None)
    if found is not None:
        body, source = found
        schema: dict[str, Any] = body.get("schema") or {}
        content: dict[str, dict[str, Any]] = {media: {"schema": schema} for media in types}
        if "x-example" in body:
            for entry in content.values():
                entry["example"] = body["x-example"]
        _note(origins, made, source)
        _content_origins(content, f"{made}/content", consumes, source, origins)
        for media in content:
            origins[f"{made}/content/{escape(media)}/schema"] = f"{source}/schema"
            origins[f"{made}/content/{escape(media)}/example"] = f"{source}/x-example"
        return {"required": bool(body.get("required")), "content": content,
                **({"description": body["description"]} if "description" in body else {})}
    form = [(p, at) for p, at in params if isinstance(p, dict) and p.get("in") == "formData"]
    if not form:
        return None
    form_type = ("multipart/form-data" if "multipart/form-data" in types
                 or any(p.get("type") == "file" for p, _ in form) else "application/x-www-form-urlencoded")
    schema = {"type": "object", "properties": {p["name"]: _schema_of(p) for p, _ in form}}
    required = [p["name"] for p, _ in form if p.get("required")]
    if required:
        schema["required"] = required
    # where the body's parts are said: each property is a parameter; what is required, that
    # parameter's `required` (or the list, when several are)
    required_at = next(f"{at}/required" for p, at in form if p.get("required")) if len(required) == 1 else form_at
    _note(origins, made, form_at)
    origins[f"{made}/required"] = required_at
    _content_origins({form_type: {}}, f"{made}/content", consumes, form_at, origins)
    schema_at = f"{made}/content/{escape(form_type)}/schema"
    origins[schema_at] = form_at
    origins[f"{schema_at}/required"] = required_at
    for p, at in form:
        _schema_origins(p, f"{schema_at}/properties/{escape(str(p['name']))}", at, origins)
    return {"required": bool(required), "content": {form_type: {"schema": schema}}}


def _content_origins(content: dict, made: str, listed: tuple[list[str], str], otherwise: str,
                     origins: dict[str, str]) -> None:
    """A content object made from `consumes`/`produces`: each media type is an entry of that list
    (where the spec has none, application/json is the default: then `otherwise`)."""
    types, at = listed
    origins[made] = at or otherwise
    for media in content:
        origins[f"{made}/{escape(media)}"] = f"{at}/{types.index(media)}" if at and media in types else otherwise


def _response(response: Any, source: str, produces: tuple[list[str], str], made: str,
              origins: dict[str, str]) -> Any:
    _note(origins, made, source)
    if not isinstance(response, dict) or "content" in response:
        return response
    types = produces[0]
    out: dict[str, Any] = {k: v for k, v in response.items() if k not in ("schema", "examples", "headers")}
    examples: dict = response["examples"] if isinstance(response.get("examples"), dict) else {}
    if "schema" in response or examples:
        media_types = list(dict.fromkeys([*types, *examples]))
        out["content"] = {}
        for media in media_types:
            entry: dict = {}
            if "schema" in response:
                entry["schema"] = response["schema"]
            if media in examples:
                entry["example"] = examples[media]
            out["content"][media] = entry
        _content_origins(out["content"], f"{made}/content", produces, source, origins)
        for media in media_types:
            if media not in types:  # a media type only its examples name
                origins[f"{made}/content/{escape(media)}"] = f"{source}/examples/{escape(media)}"
            origins[f"{made}/content/{escape(media)}/schema"] = f"{source}/schema"
            origins[f"{made}/content/{escape(media)}/example"] = f"{source}/examples/{escape(media)}"
    if isinstance(response.get("headers"), dict):
        out["headers"] = {name: ({"schema": _schema_of(h), **({"description": h["description"]}
                                                                if "description" in h else {})}
                                 if isinstance(h, dict) else h)
                          for name, h in response["headers"].items()}
        for name, h in response["headers"].items():
            if isinstance(h, dict):
                header = f"/headers/{escape(str(name))}"
                _note(origins, f"{made}{header}", f"{source}{header}")
                _schema_origins(h, f"{made}{header}/schema", f"{source}{header}", origins)
    return out


def _security_origins(schemes: dict, origins: dict[str, str]) -> None:
    origins["/components/securitySchemes"] = "/securityDefinitions"
    for name, scheme in schemes.items():
        if isinstance(scheme, dict) and scheme.get("type") == "oauth2":
            made, source = pointer("components", "securitySchemes", name), pointer("securityDefinitions", name)
            origins[f"{made}/flows"] = f"{source}/flow"
            flow = _OAUTH2_FLOWS.get(str(scheme.get("flow")))
            if flow is not None:
                origins[f"{made}/flows/{flow}"] = source


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
