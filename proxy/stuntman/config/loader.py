"""Stub files → validated `StubSpec`s, with every error pinned to file:line and field path.

YAML is parsed with the safe loader only, its aliases bounded (`compose_yaml`, for stub files and
the admin API's bodies alike); JSON files go through `json` (then YAML's composer for line numbers).
Errors never stop the scan: `load_dir` reports all of them at once.
"""
from __future__ import annotations

import json
import posixpath
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from .model import FAULT_TYPES, ContractEntrySpec, FaultFileSpec, FaultSpec, StubSpec

STUB_SUFFIXES = (".yaml", ".yml", ".json")
# libyaml's safe loader when present: several times faster and far less memory than pure Python
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_stub_list = TypeAdapter(list[StubSpec])
_contract_list = TypeAdapter(list[ContractEntrySpec])
_fault = TypeAdapter(FaultSpec)


@dataclass(frozen=True)
class ConfigError:
    file: str
    line: int | None
    field: str  # dotted path inside the file, e.g. "[0].request.headers.Accept"; "" for the file
    message: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass(frozen=True)
class LoadedStub:
    """A validated stub, or a standalone fault from a fault file (`spec` is then a fault model)."""

    spec: Any  # a StubSpec, or a fault model (FaultSpec's members) for a standalone fault
    file: str  # relative to the stubs root
    line: int | None
    loc: tuple = ()  # where the stub sits in its file: () for a single stub, (i,) in a list
    lines: dict = field(default_factory=dict, repr=False, compare=False)  # key path → line

    def error(self, loc: tuple, message: str) -> ConfigError:
        """An error about a field of this stub (loc relative to the stub), placed in its file."""
        full = self.loc + loc
        return ConfigError(self.file, _line_for(full, self.lines) or self.line, _format_loc(full), message)


class ConfigErrors(Exception):
    def __init__(self, errors: list[ConfigError]):
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map each key path in a composed YAML tree to its 1-based line."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            _line_map(value, child, out)
            out[child] = key.start_mark.line + 1  # the key's line, not its value's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)
    return out


def _format_loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# What YAML aliases may add to a document, beyond the nodes and text it spells out. An alias is a
# reference (the composed node is shared), but whatever walks the data (line numbers, validation,
# the admin API's echo, JSON) walks every copy: 9 levels of 10 aliases each (a 444-byte "billion
# laughs") are 10^9 nodes. Real stub files use anchors for a shared header block or response, a few
# dozen nodes referenced a few dozen times: the stubs in this repository add at most a few hundred.
# 10,000 nodes and 1,000,000 characters (a 1 MB body reused by aliases) leave them room to grow and
# stop a bomb in microseconds: the count runs over the composed graph, each shared node sized once.
MAX_ALIAS_NODES = 10_000
MAX_ALIAS_CHARS = 1_000_000
# How deep collections may nest. libyaml stops at 1,000 levels, but building the data and
# validating it recurse in Python, whose stack gives out first (a RecursionError traceback, not an
# error naming the file). The deepest stub in this repository nests 9 levels; a stub's JSON body
# written as YAML adds its own depth, and 100 leaves room for any real one.
MAX_NESTING = 100


def compose_yaml(loader: Any, name: str) -> yaml.Node | None:
    """The loader's single document as a node graph, refused (ConfigErrors naming the file and the
    line at fault) if its aliases expand past the limits above or refer to themselves, or if it
    nests deeper than MAX_NESTING."""
    node = loader.get_single_node()
    if node is not None:
        _check_graph(node, name)
    return node


def _check_graph(root: yaml.Node, name: str) -> None:
    sizes: dict[int, tuple[int, int]] = {}  # id(node) → its expanded (nodes, scalar characters)
    open_: set[int] = set()  # nodes being walked: an alias to one of them is a cycle
    added = [0, 0]  # what aliases have added so far: nodes, characters

    def bomb(line: int, what: str) -> ConfigErrors:
        return ConfigErrors([ConfigError(name, line, "", what)])

    def size(node: yaml.Node, line: int, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in sizes:  # seen before: this is an alias, one more copy of the whole subtree
            nodes, chars = sizes[key]
            added[0] += nodes
            added[1] += chars
            if added[0] > MAX_ALIAS_NODES:
                raise bomb(line, f"YAML aliases expand past {MAX_ALIAS_NODES} nodes (a YAML bomb?)")
            if added[1] > MAX_ALIAS_CHARS:
                raise bomb(line, f"YAML aliases expand past {MAX_ALIAS_CHARS} characters (a YAML bomb?)")
            return nodes, chars
        if key in open_:
            raise bomb(line, "a YAML alias refers to a node that contains it (a recursive structure)")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = (1, len(node.value))
            return sizes[key]
        if depth > MAX_NESTING:
            raise bomb(node.start_mark.line + 1, f"collections nest deeper than {MAX_NESTING} levels")
        open_.add(key)
        nodes, chars = 1, 0
        # an alias is the anchored node itself, its mark the anchor's: an alias is reported on the
        # line of the key that holds it, or of the sequence that does
        if isinstance(node, yaml.MappingNode):
            refs = [(child, k.start_mark.line + 1) for k, v in node.value for child in (k, v)]
        else:
            refs = [(child, node.start_mark.line + 1) for child in node.value]
        for child, where in refs:
            n, c = size(child, where, depth + 1)
            nodes += n
            chars += c
        open_.discard(key)
        sizes[key] = (nodes, chars)
        return sizes[key]

    size(root, root.start_mark.line + 1, 1)


def load_yaml(text: str, name: str) -> Any:
    """One YAML document (an admin API body) → data, with the stub files' bound on aliases:
    ConfigErrors for a bomb, yaml.YAMLError for bad syntax."""
    loader = _YamlLoader(text)
    try:
        node = compose_yaml(loader, name)
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def parse_documents(text: str, name: str, is_json: bool) -> tuple[Any, dict[tuple, int]]:
    """Parse one file's text into data and a key-path → line map; ConfigErrors on bad syntax."""
    if is_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigErrors([ConfigError(name, exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None
        except RecursionError:
            raise ConfigErrors([ConfigError(name, None, "", f"invalid JSON: arrays and objects nest deeper "
                                                             f"than {MAX_NESTING} levels")]) from None
    try:
        loader = _YamlLoader(text)  # one parse: the node tree gives lines, then the data
        try:
            node = compose_yaml(loader, name)
            lines = _line_map(node) if node is not None else {}
            if not is_json:
                data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        if is_json:  # valid JSON that YAML cannot read (tabs): no line numbers
            return data, {}
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigErrors([ConfigError(name, mark.line + 1 if mark else None, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        if is_json:
            return data, {}
        raise ConfigErrors([ConfigError(name, None, "", f"invalid YAML: {exc}")]) from None
    return data, lines


def is_fault_file(data: Any) -> bool:
    return isinstance(data, dict) and data.keys() == {"faults"}


def validate_stubs(data: Any, name: str, lines: dict[tuple, int] | None = None) -> list[LoadedStub]:
    """Validate parsed data (one stub, a list of stubs, or `{faults: [...]}`); raise
    ConfigErrors naming each field at fault."""
    lines = lines or {}
    if data is None:
        return []
    if is_fault_file(data):
        try:
            faults = FaultFileSpec.model_validate(data).faults
        except ValidationError as exc:
            raise ConfigErrors(_errors(exc, name, lines, 0)) from None
        return [LoadedStub(f, name, _line_for(("faults", i), lines), ("faults", i), lines)
                for i, f in enumerate(faults)]
    single = isinstance(data, dict)
    items = [data] if single else data
    if not isinstance(items, list):
        raise ConfigErrors([ConfigError(name, 1, "", "expected a stub (mapping), a list of stubs, or {faults: [...]}")])
    # an entry with a `contract` key names a contract; any other is a stub (each validated as
    # what it is, so an error names that model's fields, not both models' in a union)
    contracts = [i for i, item in enumerate(items) if isinstance(item, dict) and "contract" in item]
    specs: list[Any] = list(items)
    errors: list[ConfigError] = []
    for indices, adapter in (([i for i in range(len(items)) if i not in set(contracts)], _stub_list),
                             (contracts, _contract_list)):
        if not indices:
            continue
        try:
            valid = adapter.validate_python([items[i] for i in indices])
        except ValidationError as exc:
            for error in _errors(exc, name, lines, 1 if single else 0, indices):
                errors.append(error)
            continue
        for i, spec in zip(indices, valid, strict=True):
            specs[i] = spec
    if errors:
        raise ConfigErrors(errors)
    return [
        LoadedStub(spec, name, _line_for(loc, lines), loc, lines)
        for loc, spec in (((() if single else (i,)), spec) for i, spec in enumerate(specs))
    ]


def validate_fault(data: Any, name: str) -> LoadedStub:
    """One standalone fault (an admin API body, a --fault flag); ConfigErrors naming its fields."""
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError(name, None, "", "expected one fault (an object with a `type`)")])
    try:
        return LoadedStub(_fault.validate_python(data), name, None)
    except ValidationError as exc:
        raise ConfigErrors(_errors(exc, name, {}, 0)) from None


def _errors(exc: ValidationError, name: str, lines: dict, skip: int,
            indices: list[int] | None = None) -> list[ConfigError]:
    """pydantic's errors as ConfigErrors; `skip` leading loc parts are not in the file; `indices`:
    the list validated was these items of the file's list (its loc's first part indexes it)."""
    errors = []
    for err in exc.errors():
        # a fault's loc carries its union tag (faults.0.latency.fixed_ms): not a key in the file
        loc = tuple(p for i, p in enumerate(err["loc"])
                    if not (p in FAULT_TYPES and (i == 0 or isinstance(err["loc"][i - 1], int))))
        if indices is not None and loc and isinstance(loc[0], int):
            loc = (indices[loc[0]], *loc[1:])
        file_loc = loc[skip:]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown fault type {err['ctx']['tag']!r}; one of: {', '.join(FAULT_TYPES)}"
        elif err["type"] == "union_tag_not_found":
            msg = f"a fault needs a `type`: one of {', '.join(FAULT_TYPES)}"
        errors.append(ConfigError(name, _line_for(file_loc, lines), _format_loc(file_loc), msg))
    return errors


BODY_DIR = "__files"  # WireMock's convention: bodies live here, never read as stubs


def stub_files(root: Path) -> list[Path]:
    """Stub files under root, in a stable order; hidden files and __files/ are skipped."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == BODY_DIR for part in rel.parts[:-1]) or rel.name.startswith("."):
            continue
        if path.suffix.lower() in STUB_SUFFIXES and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


class FileInFlux(Exception):
    """A file that had stubs reads empty: most likely a writer truncated it and is not done."""


def load_file(path: Path, root: Path, emptied_means_busy: Collection[str] = ()) -> list[LoadedStub]:
    name = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(name, None, "", f"cannot read: {exc}")]) from None
    if name in emptied_means_busy and not text.strip():
        raise FileInFlux(name)
    data, lines = parse_documents(text, name, path.suffix.lower() == ".json")
    return validate_stubs(data, name, lines)


def load_dir(root: Path, emptied_means_busy: Collection[str] = ()) -> tuple[list[LoadedStub], list[ConfigError]]:
    """Every stub under root, and every error found (the caller decides what an error means).

    Raises FileInFlux if a file named in `emptied_means_busy` reads empty.
    """
    stubs: list[LoadedStub] = []
    errors: list[ConfigError] = []
    for path in stub_files(root):
        try:
            stubs.extend(load_file(path, root, emptied_means_busy))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    # a .json file that a stub serves as its bodyFile is a body, not a broken stub
    bodies = {_normalize(f) for s in stubs for f in _body_files(s.spec)}
    return [s for s in stubs if s.file not in bodies], [e for e in errors if e.file not in bodies]


def _body_files(spec: StubSpec) -> list[str]:
    if isinstance(spec, ContractEntrySpec):  # a spec the stubs directory holds is not a stub file
        return [spec.contract.document]
    if not isinstance(spec, StubSpec):
        return []
    responses = spec.responses or ([spec.response] if spec.response else [])
    return [r.body_file for r in responses if r.body_file]


def _normalize(body_file: str) -> str:
    return posixpath.normpath(body_file.replace("\\", "/")).lstrip("/")
