"""An OpenAPI document, loaded: its files read and bundled into one tree, Swagger 2.0 rewritten in
the shape of 3.x, and its operations listed.

What the rest of stuntman sees (`Spec`) is one JSON tree in which every `$ref` is internal
(`#/...`): a `$ref` into another local file is rewritten to point at that file's copy, embedded
under `#/x-stuntman-files/<n>`. Serving, validating, generating and diffing then follow one kind
of reference, and `Spec.where(pointer)` names the file and pointer a message should show (for
Swagger 2.0, in the file as written: the 2.0 node a node of the 3.x shape was made from, as
swagger2.py records it).

Every error (unreadable file, bad YAML, a `$ref` to nothing, an unknown version, a malformed
paths object, a schema that is not a valid schema) is a `SpecError` naming the file, the JSON
pointer (or line) and the cause.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from ..config.loader import ConfigErrors, compose_yaml

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 3-4x faster on a 4 MB spec

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FILES = "x-stuntman-files"  # where other files' trees are embedded in the bundle
MAX_FILES = 1_000           # local files one spec may pull in through $ref


class SpecError(Exception):
    """What is wrong with a spec: the file, where in it (a JSON pointer or a line), and why."""

    def __init__(self, file: str, where: str, message: str):
        super().__init__(f"{file}{'#' + where if where.startswith('/') else (':' + where if where else '')}: "
                         f"{message}")
        self.file, self.where, self.message = file, where, message


def escape(token: str) -> str:
    """One JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*tokens: str | int) -> str:
    return "".join("/" + escape(str(t)) for t in tokens)


def canonical(ptr: str) -> str:
    """A pointer as the bundle's keys spell it (a `$ref` may percent-encode: ~1pets~1%7Bid%7D)."""
    if "%" not in ptr:
        return ptr
    return "".join("/" + escape(unescape(unquote(t))) for t in ptr.split("/")[1:])


def walk_pointer(root: Any, ptr: str) -> Any:
    """The node at JSON pointer ptr ("" or "/a/b") in root; KeyError when there is none."""
    node = root
    if not ptr:
        return node
    if not ptr.startswith("/"):
        raise KeyError(ptr)
    for raw in ptr[1:].split("/"):
        token = unescape(unquote(raw))
        if isinstance(node, dict):
            if token not in node:
                raise KeyError(ptr)
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                raise KeyError(ptr)
            node = node[int(token)]
        else:
            raise KeyError(ptr)
    return node


def read_tree(path: Path, name: str) -> Any:
    """One file's tree: JSON through json, anything else through the safe YAML loader (with the
    stub files' bounds on aliases and nesting)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(name, "", f"cannot read: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(name, str(exc.lineno), f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise SpecError(name, "", "invalid JSON: nested too deeply") from None
    loader = _YamlLoader(text)
    try:
        node = compose_yaml(loader, name)
        return loader.construct_document(node) if node is not None else None
    except ConfigErrors as exc:
        first = exc.errors[0]
        raise SpecError(name, str(first.line or ""), first.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise SpecError(name, str(mark.line + 1) if mark else "", f"invalid YAML: {msg}") from None
    except yaml.YAMLError as exc:
        raise SpecError(name, "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


@dataclass
class Operation:
    """One operation, its parts resolved one level (each parameter, the request body and each
    response is the object itself, not a `$ref`; schemas inside them keep their `$ref`s)."""

    method: str                     # upper case
    path: str                       # the template as the spec writes it: /pets/{petId}
    pointer: str                    # of the operation object: /paths/~1pets~1{petId}/get
    operation_id: str | None
    parameters: list[dict]          # path-level and operation-level merged (the operation's win)
    request_body: dict | None       # {required, content: {media type: {schema, example(s)}}}
    responses: dict[str, dict]      # "200", "4XX", "default" → {description, headers, content}
    security: list[dict]            # requirements in force (any one of them suffices); [] none
    summary: str = ""
    deprecated: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Spec:
    file: str                       # as named by the user
    version: str                    # "2.0", "3.0.3", "3.1.0"
    dialect: str                    # "oas30" (2.0 and 3.0 schemas) or "oas31" (JSON Schema 2020-12)
    doc: dict                       # the bundle: one tree, every $ref internal, 2.0 in 3.x shape
    files: dict[str, str] = field(default_factory=dict)  # "/x-stuntman-files/<n>" → the file it holds
    operations: list[Operation] = field(default_factory=list)
    base_paths: list[str] = field(default_factory=list)  # from servers / basePath ("" for none)
    notes: list[str] = field(default_factory=list)       # what is loaded but not served, and why
    # Swagger 2.0: a pointer of the 3.x shape it is read in → the 2.0 node it was made from (swagger2.py)
    origins: dict[str, str] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)      # every file read (resolved): what to watch
    # its schemas compiled for validation, per direction (stuntman.openapi.jsonschema.compiled):
    # checked once at load, then used by every validator of the spec
    compiled: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def title(self) -> str:
        info = self.doc.get("info")
        return str(info.get("title", "")) if isinstance(info, dict) else ""

    def resolve(self, node: Any, seen: int = 0) -> Any:
        """node, or what its `$ref` (chain) points at."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            seen += 1
            if seen > 64:
                raise SpecError(self.file, ref, "a $ref chain loops")
            node = walk_pointer(self.doc, ref[1:])
        return node

    def where(self, ptr: str) -> str:
        """A bundle pointer as `file#pointer`, in the file it came from (for Swagger 2.0, where the
        node it points at was made from)."""
        if self.origins:
            ptr = self.origin(ptr)
        for prefix, name in self.files.items():
            if ptr == prefix or ptr.startswith(prefix + "/"):
                return f"{name}#{ptr[len(prefix):]}"
        return f"{self.file}#{ptr}"

    def origin(self, ptr: str) -> str:
        """A bundle pointer of a 2.0 spec's 3.x shape, mapped through the longest recorded prefix
        to the 2.0 node it came from (a pointer deeper than the prefix keeps its tail)."""
        key = canonical(ptr)
        at = key
        while at:
            found = self.origins.get(at)
            if found is not None:
                return found + key[len(at):]
            at = at[:at.rfind("/")]
        return ptr


# -- bundling ----------------------------------------------------------------------------------

class _Bundler:
    """Reads the main file and every local file its `$ref`s reach, rewriting each `$ref` into a
    pointer inside the one tree (remote URLs are refused: a spec loads offline)."""

    def __init__(self, main: Path, name: str, confine: Path | None = None):
        self.main = main.resolve()
        self.name = name
        self.confine = confine.resolve() if confine is not None else None  # no $ref reads outside it
        self.trees: dict[Path, Any] = {}
        self.prefixes: dict[Path, str] = {self.main: ""}
        self.names: dict[Path, str] = {self.main: name}
        self.pending: list[Path] = []

    def load(self, tree: Any = None) -> tuple[dict, dict[str, str]]:
        """The bundle of the main file (or of `tree`, a document sent as data, whose relative
        `$ref`s are read next to `main`)."""
        root = read_tree(self.main, self.name) if tree is None else tree
        if not isinstance(root, dict):
            raise SpecError(self.name, "", "a spec is an object (openapi/swagger, info, paths...)")
        self.trees[self.main] = root
        self._rewrite(root, self.main, "")
        embedded: dict = {}
        while self.pending:
            path = self.pending.pop()
            tree = read_tree(path, self.names[path])
            self.trees[path] = tree
            self._rewrite(tree, path, self.prefixes[path])
            embedded[self.prefixes[path].rsplit("/", 1)[1]] = tree
        if embedded:
            root[FILES] = embedded
        files = {prefix: self.names[path] for path, prefix in self.prefixes.items() if prefix}
        return root, files

    def _prefix(self, target: Path, ref: str, at: str, file: Path) -> str:
        prefix = self.prefixes.get(target)
        if prefix is None:
            if self.confine is not None and not target.is_relative_to(self.confine):
                raise SpecError(self.names[file], at, f"$ref {ref!r} reaches outside the stubs directory")
            if not target.is_file():
                raise SpecError(self.names[file], at, f"$ref {ref!r}: no such file {target.name!r}")
            if len(self.prefixes) > MAX_FILES:
                raise SpecError(self.names[file], at, f"more than {MAX_FILES} files referenced")
            prefix = self.prefixes[target] = f"/{FILES}/{len(self.prefixes)}"
            try:
                self.names[target] = target.relative_to(self.main.parent).as_posix()
            except ValueError:
                self.names[target] = str(target)
            self.pending.append(target)
        return prefix

    def _rewrite(self, node: Any, file: Path, at: str) -> None:
        for holder, key, where in _references(node, at):
            holder[key] = self._internal(holder[key], file, where)

    def _internal(self, ref: str, file: Path, where: str) -> str:
        parts = urlsplit(ref)
        if parts.scheme in ("http", "https"):
            raise SpecError(self.names[file], where, f"$ref {ref!r}: remote references are not fetched "
                                                     "(download the file next to the spec)")
        if parts.scheme not in ("", "file"):
            raise SpecError(self.names[file], where, f"$ref {ref!r}: unsupported reference")
        target = file if not parts.path else (file.parent / unquote(parts.path)).resolve()
        prefix = self.prefixes[file] if target == file else self._prefix(target, ref, where, file)
        fragment = parts.fragment
        if fragment and not fragment.startswith("/"):
            raise SpecError(self.names[file], where, f"$ref {ref!r}: only JSON pointer fragments (#/...) are "
                                                     "supported")
        return "#" + prefix + fragment


def _check_refs(spec: Spec) -> None:
    """Every $ref points at something (found now, with the file and pointer of the $ref)."""
    for holder, key, at in _references(spec.doc, ""):
        ref = holder[key]
        try:
            walk_pointer(spec.doc, ref[1:])
        except KeyError:
            shown = spec.where(ref[1:]).replace(f"{spec.file}#", "#")
            file, _, ptr = spec.where(at).partition("#")
            what = "$ref" if key == "$ref" else f"discriminator mapping {key!r}"
            raise SpecError(file, ptr, f"{what} points at nothing: {shown}") from None


# maps whose keys are names (a property may be called "example"), not keywords
_NAMED = frozenset(("properties", "patternProperties", "dependentSchemas", "$defs", "definitions", "schemas",
                    "parameters", "responses", "headers", "requestBodies", "pathItems", "callbacks", "links"))


def _references(root: Any, at: str) -> Iterator[tuple[dict, str, str]]:
    """Every reference under root, as (the dict holding it, its key, a pointer to report it at): each
    `$ref`, and each discriminator mapping value that is a reference rather than a schema name.
    Examples are data: an `example` is not walked, nor a schema's `examples` list, and of an
    `examples` map (Example Objects) only each entry's own `$ref`; unless the key is a name (a
    property called "example")."""
    stack: list[tuple[Any, str, bool]] = [(root, at, False)]
    while stack:
        node, where, named = stack.pop()
        if isinstance(node, list):
            stack.extend((v, f"{where}/{i}", False) for i, v in enumerate(node) if isinstance(v, (dict, list)))
            continue
        if not isinstance(node, dict):  # a file that is one scalar
            continue
        if isinstance(node.get("$ref"), str):
            yield node, "$ref", where
        mapping = node.get("mapping")
        if isinstance(node.get("propertyName"), str) and isinstance(mapping, dict):
            for name, target in mapping.items():
                if isinstance(target, str) and ("#" in target or "/" in target):
                    yield mapping, name, f"{where}/mapping/{escape(str(name))}"
        for key, value in node.items():
            if not isinstance(value, (dict, list)):
                continue
            sub = f"{where}/{escape(str(key))}"
            if named or key not in ("example", "examples"):
                stack.append((value, sub, not named and key in _NAMED))
            elif key == "examples" and isinstance(value, dict):
                for name, entry in value.items():
                    if isinstance(entry, dict) and isinstance(entry.get("$ref"), str):
                        yield entry, "$ref", f"{sub}/{escape(str(name))}"


# -- versions ----------------------------------------------------------------------------------

@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a big tree is built. Building a 4 MB spec makes a
    million objects, and every few thousand of them the collector walks all those made so far:
    paused, load_spec takes 0.65 s instead of 1.7 s (bench/openapi_load.py), and the one
    collection afterwards finds next to nothing (a tree holds no garbage cycles)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_spec(path: Path, name: str | None = None, tree: Any = None, confine: Path | None = None,
              strict: bool = True) -> Spec:
    """Read, bundle and check the spec at path (or the document `tree`, as if it were the file
    at path: an admin API body); SpecError if it cannot be served. With `confine`, no `$ref` may
    read a file outside that directory (a spec in the stubs directory, or sent to the admin API).
    `strict=False` skips compiling its schemas (tests of how validators cope with invalid ones)."""
    with gc_paused():
        spec = _load_spec(path, name or str(path), tree, confine)
        if strict:
            from .validate import check_schemas  # (validate builds on this module)

            check_schemas(spec)  # a schema that is no schema (`type: strin`) is a load error, like a dangling $ref
        return spec


def _load_spec(path: Path, name: str, tree: Any, confine: Path | None) -> Spec:
    bundler = _Bundler(path, name, confine)
    doc, files = bundler.load(tree)
    if isinstance(doc.get("swagger"), str):
        if doc["swagger"] != "2.0":
            raise SpecError(name, "/swagger", f"unknown version {doc['swagger']!r}: Swagger 2.0 or OpenAPI 3.x")
        version, dialect = "2.0", "oas30"
    elif isinstance(doc.get("openapi"), str):
        version = doc["openapi"]
        if version.startswith("3.0"):
            dialect = "oas30"
        elif version.startswith(("3.1", "3.2")):
            dialect = "oas31"
        else:
            raise SpecError(name, "/openapi", f"unknown version {version!r}: Swagger 2.0 or OpenAPI 3.0, 3.1, 3.2")
    else:
        raise SpecError(name, "", "not an OpenAPI document: no `openapi` (3.x) or `swagger` (2.0) field")
    spec = Spec(name, version, dialect, doc, files, paths=list(bundler.prefixes)[tree is not None:])
    _check_refs(spec)
    if version == "2.0":
        from .swagger2 import upgrade

        upgrade(spec)
    _list_operations(spec)
    spec.base_paths = _base_paths(spec)
    return spec


def _base_paths(spec: Spec) -> list[str]:
    """The path prefixes of the spec's servers (variables at their defaults), "" for none."""
    out: list[str] = []
    servers = spec.doc.get("servers")
    for server in servers if isinstance(servers, list) else []:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        for var, info in (server.get("variables") or {}).items():
            default = info.get("default", "") if isinstance(info, dict) else ""
            url = url.replace("{" + var + "}", str(default))
        path = urlsplit(url).path if "://" in url else url
        path = "/" + path.strip("/") if path.strip("/") else ""
        if "{" in path:  # a variable without a default: cannot be served under
            continue
        if path not in out:
            out.append(path)
    return out or [""]


def _list_operations(spec: Spec) -> None:
    doc = spec.doc
    paths = doc.get("paths")
    if paths is None:
        if doc.get("webhooks") or doc.get("components"):
            spec.notes.append("no paths: only webhooks/components, so nothing is served over HTTP")
            return
        if spec.dialect == "oas31":
            spec.notes.append("no paths: nothing is served")
            return
        raise SpecError(spec.file, "/paths", "an OpenAPI 3.0 / Swagger 2.0 document needs `paths`")
    if not isinstance(paths, dict):
        raise SpecError(spec.file, "/paths", "`paths` must be an object")
    if doc.get("webhooks"):
        spec.notes.append("webhooks are listed but not served (stuntman answers requests, it does not send them)")
    default_security = doc.get("security") or []
    for template, item in paths.items():
        at = pointer("paths", template)
        if str(template).startswith("x-"):  # a specification extension: the Paths object may have them
            continue
        if not str(template).startswith("/"):
            raise SpecError(spec.file, at, "a path must start with '/'")
        for _ in range(64):  # a path item in another file: the operations' pointers are where it is
            if not (isinstance(item, dict) and isinstance(item.get("$ref"), str)):
                break
            at = item["$ref"][1:]
            item = walk_pointer(spec.doc, at)  # found: the $refs are checked
        else:
            raise SpecError(spec.file, pointer("paths", template), "its $ref chain loops")
        if not isinstance(item, dict):
            raise _error(spec, at, "a path item is an object")
        shared = _parameters(spec, item.get("parameters"), at + "/parameters")
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_at = f"{at}/{method}"
            if not isinstance(op, dict):
                raise _error(spec, op_at, "an operation is an object")
            own = _parameters(spec, op.get("parameters"), op_at + "/parameters")
            merged = {(p["in"], p["name"]): p for p in shared}
            merged.update({(p["in"], p["name"]): p for p in own})
            body = spec.resolve(op["requestBody"]) if isinstance(op.get("requestBody"), dict) else None
            responses = op.get("responses") or {}
            if not isinstance(responses, dict):
                raise _error(spec, op_at + "/responses", "`responses` must be an object")
            resolved = {}
            for code, response in responses.items():
                response = spec.resolve(response)
                if not isinstance(response, dict):
                    raise _error(spec, f"{op_at}/responses/{escape(str(code))}", "a response is an object")
                resolved[str(code)] = response
            security = op.get("security", default_security)
            spec.operations.append(Operation(
                method.upper(), str(template), op_at, op.get("operationId"), list(merged.values()),
                body, resolved, security if isinstance(security, list) else [],
                summary=str(op.get("summary") or ""), deprecated=bool(op.get("deprecated"))))


def _parameters(spec: Spec, items: Any, at: str) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise _error(spec, at, "`parameters` must be a list")
    out = []
    for i, item in enumerate(items):
        param = spec.resolve(item)
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) \
                or param.get("in") not in ("path", "query", "header", "cookie", "body", "formData"):
            raise _error(spec, f"{at}/{i}", "a parameter needs a `name` and `in` "
                                            "(path, query, header or cookie)")
        out.append(param)
    return out


def _error(spec: Spec, at: str, message: str) -> SpecError:
    """A SpecError at a bundle pointer, naming the file and pointer it came from."""
    file, _, ptr = spec.where(at).partition("#")
    return SpecError(file, ptr, message)
