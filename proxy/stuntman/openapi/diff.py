"""What changed between two versions of an OpenAPI spec, and whether the change breaks clients.

`diff_files(old, new)` loads both specs and lists `Finding`s: a rule id and level (diff_rules.py,
oasdiff's names), the operation, a message, and where the change is in each spec (`file#pointer`
in the files as written, not in the bundle). Operations are matched by method and path template
with the parameter names left out (`/pets/{id}` is `/pets/{petId}`); parameters by where they go
and their name (path parameters by their place in the template); responses by status; media
types by name; security requirements by what their schemes are (so renaming a scheme in
components is not a change). Schemas are compared by diff_schema.py. The formats are in
diff_report.py.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .diff_rules import level_of
from .diff_schema import Place, Ref, SchemaDiff, follow
from .document import Operation, Spec, escape, load_spec, pointer

_TEMPLATE_VARIABLE = re.compile(r"\{([^}/]*)\}")
_DEFAULT_STYLES = {"query": "form", "cookie": "form", "path": "simple", "header": "simple"}


@dataclass(frozen=True)
class Finding:
    id: str
    level: str        # error | warning | info
    operation: str    # "GET /pets/{petId}", or the path a path-level finding is about
    message: str
    old: str          # file#pointer in the old spec
    new: str          # file#pointer in the new spec

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def diff_files(old: Path, new: Path, old_name: str | None = None, new_name: str | None = None) -> list[Finding]:
    """The changes from the spec at old to the spec at new (SpecError if either does not load)."""
    return diff_specs(load_spec(old, old_name), load_spec(new, new_name))


def diff_specs(old: Spec, new: Spec) -> list[Finding]:
    differ = _Differ(old, new)
    differ.run()
    return differ.findings


def same_path(template: str) -> str:
    """A path template with its parameters' names left out: what two versions are matched by."""
    return _TEMPLATE_VARIABLE.sub("{}", template)


def locate(spec: Spec, ptr: str) -> Ref:
    """The node at bundle pointer ptr, following each `$ref` on the way, and its real pointer."""
    node: Any = spec.doc
    at = ""
    for raw in ptr[1:].split("/") if ptr else []:
        node, at = follow(spec, node, at)
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node.get(token) if isinstance(node, dict) else None
        at = f"{at}/{raw}"
    return follow(spec, node, at)


class _Differ:
    def __init__(self, old: Spec, new: Spec):
        self.old, self.new = old, new
        self.findings: list[Finding] = []
        self.operation = ""
        self.schemas = SchemaDiff(old, new, self.emit)

    def emit(self, rule: str, message: str, old_ptr: str, new_ptr: str) -> None:
        self.findings.append(Finding(rule, level_of(rule), self.operation, message,
                                     self.old.where(old_ptr), self.new.where(new_ptr)))

    def run(self) -> None:
        old_ops = {(same_path(op.path), op.method): op for op in self.old.operations}
        new_ops = {(same_path(op.path), op.method): op for op in self.new.operations}
        new_paths = {same_path(op.path): op.pointer.rsplit("/", 1)[0] for op in self.new.operations}
        removed_paths: dict[str, list[Operation]] = {}
        for key, op in old_ops.items():
            if key in new_ops:
                self._operation(op, new_ops[key])
            elif key[0] not in new_paths:
                removed_paths.setdefault(key[0], []).append(op)
            else:
                self.operation = op.label
                rule = "api-removed-with-deprecation" if op.deprecated else "api-removed-without-deprecation"
                self.emit(rule, f"{op.label} removed", op.pointer, new_paths[key[0]])
        for ops in removed_paths.values():
            self.operation = ops[0].path
            deprecated = all(op.deprecated for op in ops)
            rule = "api-path-removed-with-deprecation" if deprecated else "api-path-removed-without-deprecation"
            self.emit(rule, f"path {ops[0].path} removed", ops[0].pointer.rsplit("/", 1)[0], "/paths")
        old_paths = {same_path(op.path): op.pointer.rsplit("/", 1)[0] for op in self.old.operations}
        for key, op in new_ops.items():
            if key not in old_ops:
                self.operation = op.label
                self.emit("endpoint-added", f"{op.label} added", old_paths.get(key[0], "/paths"), op.pointer)

    def _operation(self, old: Operation, new: Operation) -> None:
        self.operation = new.label
        old_node, old_ptr = locate(self.old, old.pointer)
        new_node, new_ptr = locate(self.new, new.pointer)
        if old.deprecated != new.deprecated:
            rule = "endpoint-deprecated" if new.deprecated else "endpoint-reactivated"
            self.emit(rule, f"{new.label} {'deprecated' if new.deprecated else 'no longer deprecated'}",
                      old_ptr, new_ptr)
        self._parameters(old, new)
        self._request_body((old_node, old_ptr), (new_node, new_ptr))
        self._responses((old_node, old_ptr), (new_node, new_ptr))
        self._security((old_node, old_ptr), (new_node, new_ptr))

    # -- parameters ------------------------------------------------------------------------------

    def _parameters(self, old: Operation, new: Operation) -> None:
        before, after = _parameters(self.old, old), _parameters(self.new, new)
        moved: set[tuple[str, str]] = set()
        for key, (param, ptr) in before.items():
            if key in after:
                self._parameter(param, ptr, *after[key])
                continue
            elsewhere = [k for k in after if k not in before and k[1] == key[1] and k not in moved]
            if elsewhere:
                moved.add(elsewhere[0])
                self.emit("request-parameter-location-changed", f"{_label(param)}: moved to "
                          f"{after[elsewhere[0]][0]['in']}", ptr + "/in", after[elsewhere[0]][1] + "/in")
            else:
                self.emit("request-parameter-removed", f"{_label(param)}: removed", ptr, new.pointer)
        for key, (param, ptr) in after.items():
            if key not in before and key not in moved:
                required = _required(param)
                rule = "new-required-request-parameter" if required else "new-optional-request-parameter"
                self.emit(rule, f"{_label(param)}: added ({'required' if required else 'optional'})",
                          old.pointer, ptr)

    def _parameter(self, old: dict, old_ptr: str, new: dict, new_ptr: str) -> None:
        label = _label(new)
        if _required(old) != _required(new):
            became = "required" if _required(new) else "optional"
            self.emit(f"request-parameter-became-{became}", f"{label}: became {became}", old_ptr, new_ptr)
        old_style, new_style = _style(old), _style(new)
        if old_style[0] != new_style[0]:
            self.emit("request-parameter-style-changed", f"{label}: style changed from {old_style[0]} to "
                      f"{new_style[0]}", old_ptr, new_ptr)
        elif old_style[1] != new_style[1]:
            self.emit("request-parameter-explode-changed", f"{label}: explode changed from "
                      f"{str(old_style[1]).lower()} to {str(new_style[1]).lower()}", old_ptr, new_ptr)
        old_schema, new_schema = _parameter_schema(old, old_ptr), _parameter_schema(new, new_ptr)
        if old_schema and new_schema:
            self.schemas.compare(old_schema, new_schema, Place("request", "parameter", label))

    # -- request body ----------------------------------------------------------------------------

    def _request_body(self, old_op: Ref, new_op: Ref) -> None:
        old = _part(self.old, old_op, "requestBody")
        new = _part(self.new, new_op, "requestBody")
        if old is None and new is None:
            return
        if old is None or new is None:
            if new is not None:
                kind = "required" if new[0].get("required") is True else "optional"
                self.emit(f"request-body-added-{kind}", f"{kind} request body added", old_op[1], new[1])
            elif old is not None:
                self.emit("request-body-removed", "request body removed", old[1], new_op[1])
            return
        was, now = old[0].get("required") is True, new[0].get("required") is True
        if was != now:
            became = "required" if now else "optional"
            self.emit(f"request-body-became-{became}", f"the request body became {became}", old[1], new[1])
        self._media_types(old, new, "request-body-media-type", "request body",
                          lambda media: Place("request", "body", f"the request body ({media})"))

    def _media_types(self, old: Ref, new: Ref, rule: str, what: str, place_of: Callable[[str], Place]) -> None:
        before, after = _content(old), _content(new)
        for media, (entry, ptr) in before.items():
            if media not in after:
                self.emit(f"{rule}-removed", f"{what}: media type {media} removed", ptr, new[1])
                continue
            new_entry, new_ptr = after[media]
            if isinstance(entry, dict) and isinstance(new_entry, dict) and "schema" in entry and "schema" in new_entry:
                self.schemas.compare((entry["schema"], f"{ptr}/schema"), (new_entry["schema"], f"{new_ptr}/schema"),
                                     place_of(media))
        for media, (_, ptr) in after.items():
            if media not in before:
                self.emit(f"{rule}-added", f"{what}: media type {media} added", old[1], ptr)

    # -- responses -------------------------------------------------------------------------------

    def _responses(self, old_op: Ref, new_op: Ref) -> None:
        before, after = _responses(self.old, old_op), _responses(self.new, new_op)
        for code, old in before.items():
            success = "success" if code.startswith("2") else "non-success"
            if code not in after:
                self.emit(f"response-{success}-status-removed", f"response {code} removed", old[1],
                          f"{new_op[1]}/responses")
                continue
            new = after[code]
            self._media_types(old, new, "response-media-type", f"response {code}", _response_body(code))
            self._response_headers(code, old, new)
        for code, new in after.items():
            if code not in before:
                success = "success" if code.startswith("2") else "non-success"
                self.emit(f"response-{success}-status-added", f"response {code} added", f"{old_op[1]}/responses",
                          new[1])

    def _response_headers(self, code: str, old: Ref, new: Ref) -> None:
        before, after = _headers(self.old, old), _headers(self.new, new)
        for name, (header, ptr) in before.items():
            label = f"response {code} header '{name}'"
            if name not in after:
                kind = "required" if header.get("required") is True else "optional"
                self.emit(f"{kind}-response-header-removed", f"{label}: removed", ptr, new[1])
                continue
            new_header, new_ptr = after[name]
            was, now = header.get("required") is True, new_header.get("required") is True
            if was != now:
                became = "required" if now else "optional"
                self.emit(f"response-header-became-{became}", f"{label}: became {became}", ptr, new_ptr)
            old_schema, new_schema = _parameter_schema(header, ptr), _parameter_schema(new_header, new_ptr)
            if old_schema and new_schema:
                self.schemas.compare(old_schema, new_schema, Place("response", "header", label))
        for name, (_, ptr) in after.items():
            if name not in before:
                self.emit("response-header-added", f"response {code} header '{name}': added", old[1], ptr)

    # -- security --------------------------------------------------------------------------------

    def _security(self, old_op: Ref, new_op: Ref) -> None:
        (old_reqs, old_ptr), (new_reqs, new_ptr) = _security(self.old, old_op), _security(self.new, new_op)
        old_open, new_open = _open(old_reqs), _open(new_reqs)
        if old_open or new_open:
            if old_open and not new_open:
                self.emit("api-security-became-required", f"credentials now required: {_alternatives(new_reqs)}",
                          old_ptr, new_ptr)
            elif new_open and not old_open:
                self.emit("api-security-became-optional", "credentials no longer required", old_ptr, new_ptr)
            return
        before = {frozenset(req): (req, shown) for req, shown in old_reqs}
        after = {frozenset(req): (req, shown) for req, shown in new_reqs}
        for key, (req, shown) in before.items():
            if key not in after:
                self.emit("api-security-removed", f"security requirement {shown} no longer accepted",
                          old_ptr, new_ptr)
                continue
            new_req, new_shown = after[key]
            for scheme, scopes in req.items():
                added, removed = new_req[scheme] - scopes, scopes - new_req[scheme]
                if added:
                    self.emit("api-security-scope-added", f"security requirement {new_shown}: scope(s) "
                              f"{', '.join(sorted(added))} now required", old_ptr, new_ptr)
                if removed:
                    self.emit("api-security-scope-removed", f"security requirement {new_shown}: scope(s) "
                              f"{', '.join(sorted(removed))} no longer required", old_ptr, new_ptr)
        for key, (_, shown) in after.items():
            if key not in before:
                self.emit("api-security-added", f"security requirement {shown} now accepted", old_ptr, new_ptr)


# -- reading an operation's parts ----------------------------------------------------------------

def _response_body(code: str) -> Callable[[str], Place]:
    return lambda media: Place("response", "body", f"the {code} response body ({media})")


def _part(spec: Spec, at: Ref, key: str) -> Ref | None:
    node, ptr = at
    if not isinstance(node, dict) or key not in node:
        return None
    found = follow(spec, node[key], f"{ptr}/{escape(key)}")
    return found if isinstance(found[0], dict) else None


def _parameters(spec: Spec, op: Operation) -> dict[tuple[str, str], tuple[dict, str]]:
    """op's parameters and their pointers, keyed by where they go and their name: header names in
    lower case (HTTP ignores their case), path parameters by their place in the template."""
    variables = _TEMPLATE_VARIABLE.findall(op.path)
    found: dict[tuple[str, str], tuple[dict, str]] = {}
    for at in (op.pointer.rsplit("/", 1)[0], op.pointer):  # the path item's, then the operation's own
        node, ptr = locate(spec, at)
        params = node.get("parameters") if isinstance(node, dict) else None
        for i, item in enumerate(params if isinstance(params, list) else []):
            param, param_ptr = follow(spec, item, f"{ptr}/parameters/{i}")
            if not isinstance(param, dict) or param.get("in") not in _DEFAULT_STYLES:
                continue
            name, where = str(param.get("name")), param["in"]
            if where == "path" and name in variables:
                name = f"#{variables.index(name)}"
            elif where == "header":
                name = name.lower()
            found[(where, name)] = (param, param_ptr)
    return found


def _label(param: dict) -> str:
    return f"{param.get('in')} parameter '{param.get('name')}'"


def _required(param: dict) -> bool:
    return param.get("in") == "path" or param.get("required") is True


def _style(param: dict) -> tuple[str, bool]:
    """The effective style and explode (the spec's defaults filled in)."""
    style = param.get("style") or _DEFAULT_STYLES.get(str(param.get("in")), "form")
    explode = param.get("explode")
    return str(style), explode if isinstance(explode, bool) else style == "form"


def _parameter_schema(param: dict, ptr: str) -> Ref | None:
    """A parameter's (or header's) schema: `schema`, or the one of its `content`."""
    if isinstance(param.get("schema"), dict):
        return param["schema"], f"{ptr}/schema"
    content = param.get("content")
    if isinstance(content, dict):
        for media, entry in content.items():
            if isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
                return entry["schema"], f"{ptr}/content/{escape(media)}/schema"
    return None


def _content(at: Ref) -> dict[str, tuple[Any, str]]:
    """A body's media types, by name in lower case without parameters (`;charset=...`)."""
    node, ptr = at
    content = node.get("content") if isinstance(node, dict) else None
    found: dict[str, tuple[Any, str]] = {}
    for media, entry in (content or {}).items() if isinstance(content, dict) else ():
        found.setdefault(media.split(";")[0].strip().lower(), (entry, f"{ptr}/content/{escape(media)}"))
    return found


def _responses(spec: Spec, op: Ref) -> dict[str, Ref]:
    node, ptr = op
    responses = node.get("responses") if isinstance(node, dict) else None
    found: dict[str, Ref] = {}
    for code, response in (responses or {}).items() if isinstance(responses, dict) else ():
        key = str(code) if str(code) == "default" else str(code).upper()  # 4xx is 4XX
        found[key] = follow(spec, response, f"{ptr}/responses/{escape(str(code))}")
    return found


def _headers(spec: Spec, response: Ref) -> dict[str, tuple[dict, str]]:
    node, ptr = response
    headers = node.get("headers") if isinstance(node, dict) else None
    found: dict[str, tuple[dict, str]] = {}
    for name, header in (headers or {}).items() if isinstance(headers, dict) else ():
        header, at = follow(spec, header, f"{ptr}/headers/{escape(str(name))}")
        if isinstance(header, dict) and str(name).lower() != "content-type":  # content-type: the media types
            found[str(name).lower()] = (header, at)
    return found


Requirement = dict[str, frozenset[str]]  # what a scheme is (see _scheme_identity) → its scopes


def _security(spec: Spec, op: Ref) -> tuple[list[tuple[Requirement, str]], str]:
    """The requirements in force for op (each with how it is shown), and the pointer they are at."""
    node, ptr = op
    if isinstance(node, dict) and "security" in node:
        declared, at = node["security"], f"{ptr}/security"
    elif "security" in spec.doc:
        declared, at = spec.doc["security"], "/security"
    else:
        declared, at = [], ptr
    requirements = []
    for req in declared if isinstance(declared, list) else []:
        if isinstance(req, dict):
            identity = {_scheme_identity(spec, name): frozenset(map(str, scopes or []))
                        for name, scopes in req.items()}
            requirements.append((identity, " + ".join(req) or "{}"))
    return requirements, at


def _open(requirements: list[tuple[Requirement, str]]) -> bool:
    """No credentials needed: no requirement, or an empty one (`- {}`: anonymous allowed)."""
    return not requirements or any(not req for req, _ in requirements)


def _alternatives(requirements: list[tuple[Requirement, str]]) -> str:
    return " or ".join(shown for _, shown in requirements)


def _scheme_identity(spec: Spec, name: str) -> str:
    """What a security scheme asks of a client, independent of its name in components."""
    schemes = spec.doc.get("components", {}).get("securitySchemes") if isinstance(spec.doc.get("components"),
                                                                                 dict) else None
    if not isinstance(schemes, dict) or name not in schemes:
        return f"unknown:{name}"
    scheme, _ = follow(spec, schemes[name], pointer("components", "securitySchemes", name))
    if not isinstance(scheme, dict):
        return f"unknown:{name}"
    kind = scheme.get("type")
    if kind == "apiKey":
        where = scheme.get("in")
        key = str(scheme.get("name"))
        return f"apiKey:{where}:{key.lower() if where == 'header' else key}"
    if kind == "http":
        return f"http:{str(scheme.get('scheme')).lower()}"
    if kind == "openIdConnect":
        return f"openIdConnect:{scheme.get('openIdConnectUrl')}"
    return str(kind)  # oauth2 (its scopes are in the requirement), mutualTLS
