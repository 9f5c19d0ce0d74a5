"""Where the parts of an operation are in the bundle, and the schemas compiled for them.

An operation (document.Operation) holds its parameters, request body and responses resolved one
level; the validators need their pointers in the bundle too, with every `$ref` on the way followed,
so that a violation names the rule where it is written (`locate`, `parameter_pointers`). The
`request_roots` and `response_roots` of an operation are the pointers of every schema it
validates with (parameters, bodies, response headers), what jsonschema.py compiles: once for all
the spec's operations (`compiled_for`), each validator a view of that by entry.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .document import escape, unescape, walk_pointer
from .jsonschema import REQUEST, Compiled, compiled

if TYPE_CHECKING:
    from .document import Operation, Spec


def _deref(spec: Spec, node: Any, at: str) -> tuple[Any, str]:
    for _ in range(64):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#")):
            break
        at = _canonical_pointer(node["$ref"][1:])
        node = walk_pointer(spec.doc, at)
    return node, at


def _canonical_pointer(ptr: str) -> str:
    from urllib.parse import unquote

    return "".join("/" + escape(unescape(unquote(t))) for t in ptr.split("/")[1:]) if ptr else ""


def locate(spec: Spec, ptr: str, final: bool = True) -> str:
    """The pointer of the node at ptr, with every $ref on the way followed (and the node's own if
    final: a parameter, body or response object; a schema keeps its $ref, siblings may count)."""
    node, at = spec.doc, ""
    for raw in ptr[1:].split("/") if ptr else ():
        node, at = _deref(spec, node, at)
        token = unescape(raw)
        node = node[int(token)] if isinstance(node, list) else node[token]
        at += "/" + escape(token)
    return _deref(spec, node, at)[1] if final else at


def parameter_pointers(spec: Spec, op: Operation) -> dict[int, str]:
    """id(parameter object) → its pointer, for the parameters of op (path-level and its own)."""
    out: dict[int, str] = {}
    item = op.pointer.rsplit("/", 1)[0]
    for listed in (f"{item}/parameters", f"{op.pointer}/parameters"):
        try:
            at = locate(spec, listed, final=False)
            items = walk_pointer(spec.doc, at)
        except (KeyError, IndexError, ValueError):
            continue
        for i, _ in enumerate(items if isinstance(items, list) else ()):
            ptr = locate(spec, f"{at}/{i}")
            out[id(walk_pointer(spec.doc, ptr))] = ptr
    return out


def _schemas_of(media: Any, at: str) -> list[tuple[str, str]]:
    """(media type, schema pointer) of a content object at `at`."""
    if not isinstance(media, dict):
        return []
    return [(name, f"{at}/{escape(name)}/schema") for name, entry in media.items()
            if isinstance(entry, dict) and "schema" in entry]


def request_roots(spec: Spec, op: Operation) -> list[str]:
    ptrs = parameter_pointers(spec, op)
    roots = []
    for param in op.parameters:
        at = ptrs.get(id(param))
        if at is None:
            continue
        if "schema" in param:
            roots.append(locate(spec, f"{at}/schema", final=False))
        roots += [locate(spec, p, final=False) for _, p in _schemas_of(param.get("content"), f"{at}/content")]
    if op.request_body is not None:
        at = locate(spec, f"{op.pointer}/requestBody")
        roots += [locate(spec, p, final=False) for _, p in _schemas_of(op.request_body.get("content"),
                                                                        f"{at}/content")]
    return roots


def headers_of(response: dict) -> dict:
    """A response's headers object ({} if it is not an object: nothing to check)."""
    headers = response.get("headers")
    return headers if isinstance(headers, dict) else {}


def response_roots(spec: Spec, op: Operation) -> list[str]:
    roots = []
    for code, response in op.responses.items():
        at = locate(spec, f"{op.pointer}/responses/{escape(code)}")
        for name, header in headers_of(response).items():
            header_at = locate(spec, f"{at}/headers/{escape(name)}")
            header = spec.resolve(header)
            if isinstance(header, dict) and "schema" in header:
                roots.append(locate(spec, f"{header_at}/schema", final=False))
            elif isinstance(header, dict):  # a header described by `content` instead, as a parameter may be
                roots += [locate(spec, p, final=False) for _, p in _schemas_of(header.get("content"),
                                                                                f"{header_at}/content")]
        roots += [locate(spec, p, final=False) for _, p in _schemas_of(response.get("content"), f"{at}/content")]
    return roots


def all_roots(spec: Spec, of: Callable[[Spec, Operation], list[str]]) -> Callable[[], list[str]]:
    def roots() -> list[str]:
        out: list[str] = []
        for op in spec.operations:
            try:
                out += of(spec, op)
            except (KeyError, IndexError, ValueError):
                continue  # a part that cannot be found in the bundle: that operation compiles its own
        return out
    return roots


def compiled_for(spec: Spec, op: Operation, direction: str) -> Compiled:
    of = request_roots if direction == REQUEST else response_roots
    schemas = compiled(spec, direction, all_roots(spec, of))
    own = of(spec, op)
    if any(p not in schemas.ids for p in own):  # not among the spec's operations when first compiled
        return Compiled(spec, direction, own)
    return schemas
