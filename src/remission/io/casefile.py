"""Read a case file (YAML or JSON) into a :class:`~remission.domain.Case`.

Errors name the file and the field path, in one line, e.g.
``case.yaml, line 14: relapses[0].site: expected one of isolated_bm, combined, isolated_cns,
isolated_testis, other_em, got 'marrow'``.

The text loader is bounded and strict, because a case file may come from an upload:

- at most :data:`MAX_CASE_BYTES` bytes, nesting at most :data:`MAX_DEPTH` deep, and at most
  :data:`MAX_NODES` YAML nodes *counting every alias expansion* (a "billion laughs" alias bomb is
  refused while it is read, in time linear in the text);
- a key repeated in one mapping (YAML or JSON) is an error, not "the last one wins";
- an impossible date (``2011-02-31``) and a non-finite number (``.inf``, ``.nan``, ``1e999``)
  are errors naming their line (and the field, for numbers);
- every sample file resolves inside the case folder (see :func:`resolve_sample_path`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from remission.domain.case import Case
from remission.errors import CaseFileError, UnsafePathError, excerpt

__all__ = [
    "DATA_ROOTS_ENV",
    "MAX_CASE_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "case_inputs",
    "data_roots_from_env",
    "load_case",
    "parse_case",
    "resolve_sample_path",
]

#: largest case file read (bytes); a case is a page of YAML, its assay data live in other files
MAX_CASE_BYTES = 16 << 20
#: deepest nesting of mappings/sequences in a case file (the schema needs fewer than 10)
MAX_DEPTH = 64
#: most YAML nodes in a case file, every alias counted as the nodes it stands for
MAX_NODES = 200_000
#: environment variable: extra folders (``os.pathsep``-separated) sample files may live in
DATA_ROOTS_ENV = "REMISSION_DATA_ROOTS"


class _CaseLoader(yaml.SafeLoader):
    """PyYAML's safe loader with bounds on depth and expanded size, strict keys, dates, numbers.

    The node count is kept per node (an alias adds the size of the node it names), so the check
    is linear in the text however the aliases nest.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _fail(self, problem: str, mark: Any) -> yaml.YAMLError:
        return yaml.composer.ComposerError(None, None, problem, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.check_event(yaml.AliasEvent)
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._fail(f"nested more than {MAX_DEPTH} levels deep", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            size = self._sizes.get(id(node), 1)
        else:
            size = 1
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key, value in node.value:
                    size += self._sizes.get(id(key), 1) + self._sizes.get(id(value), 1)
                    if isinstance(key, yaml.ScalarNode):
                        if key.value in seen:
                            raise self._fail(f"duplicate key {excerpt(key.value)} (first on line "
                                             f"{seen[key.value]}); each key may appear once",
                                             key.start_mark)
                        seen[key.value] = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode):
                size += sum(self._sizes.get(id(item), 1) for item in node.value)
            self._sizes[id(node)] = size
        if size > MAX_NODES:
            raise self._fail(f"more than {MAX_NODES} values (counting every alias expansion); a "
                             "case file is not that large", mark)
        return node

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"impossible date {excerpt(node.value)} ({exc})",
                node.start_mark) from None



_CaseLoader.add_constructor("tag:yaml.org,2002:timestamp", _CaseLoader.construct_yaml_timestamp)


def _compose(text: str) -> Any:
    """The YAML node tree of ``text`` (bounded; see :class:`_CaseLoader`)."""
    loader = _CaseLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _load_yaml(text: str) -> tuple[Any, Any]:
    """``(data, root node)`` of a YAML text, read once."""
    loader = _CaseLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {excerpt(key)}; each key may appear once")
        out[key] = value
    return out


def _non_finite(data: Any) -> tuple[tuple[Any, ...], float] | None:
    """The path and value of the first non-finite number (``.inf``, ``NaN``, ``1e999``), if any.

    Checked on the parsed data, so the error names the field wherever it is (schema fields and
    free-form ``parameters`` alike); iterative, so deep data cannot exhaust the stack.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        obj, path = stack.pop()
        if isinstance(obj, float) and not math.isfinite(obj):
            return path, obj
        if isinstance(obj, dict):
            stack.extend((v, (*path, k)) for k, v in reversed(list(obj.items())))
        elif isinstance(obj, list):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(obj))))
    return None


def _json_depth(data: Any) -> int:
    """Nesting depth of parsed JSON, iteratively."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        obj, d = stack.pop()
        if isinstance(obj, dict | list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (obj.values() if isinstance(obj, dict) else obj))
    return deepest


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_index(text: str | Any) -> dict[tuple[Any, ...], int]:
    """Map field paths (tuples of keys/indices) to 1-based YAML line numbers.

    ``text`` is the YAML or its composed root node. Each node is visited once: a path through an
    alias is not indexed again (its line is the anchor's), so the walk is linear in the text.
    """
    index: dict[tuple[Any, ...], int] = {}
    if isinstance(text, str):
        try:
            root = _compose(text)
        except (yaml.YAMLError, RecursionError):
            return index
    else:
        root = text
    visited: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = (*path, key.value)
                index[p] = key.start_mark.line + 1
                stack.append((value, p))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return index


def _got(value: Any) -> str:
    """The offending value for a message: a bounded excerpt of text, a bounded repr otherwise."""
    if isinstance(value, str):
        return excerpt(value)
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:80]}… ({len(text)} characters)"


def _describe(err: Mapping[str, Any]) -> str:
    typ = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        return f"expected one of {', '.join(choices)}, got {_got(got)}"
    if typ == "extra_forbidden":
        return "unknown field (not part of the case schema; see `remission schema case`)"
    if typ == "missing":
        return "required field is missing"
    if typ.startswith("date"):
        return f"expected an ISO date (YYYY-MM-DD), got {_got(got)}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if typ in ("value_error", "assertion_error"):
        return msg
    return f"{msg[0].lower()}{msg[1:]}, got {_got(got)}" if got is not None else msg


def parse_case(data: Any, *, source: str | Path = "case", text: str | Any = None) -> Case:
    """Validate already-parsed data; ``text`` (the YAML, or its root node) lets errors name a line."""
    if not isinstance(data, dict):
        raise CaseFileError("expected a mapping at the top level", path=source)
    try:
        return Case.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        msg = _describe(err)
        # model-level chronology checks carry their own path: "@a/0/b@ message"
        if msg.startswith("@"):
            raw_path, _, msg = msg[1:].partition("@ ")
            loc = tuple(int(p) if p.isdigit() else p for p in raw_path.split("/"))
        # pydantic inserts discriminator-like tags for unions (e.g. 'literal[...]'): drop them
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        line = None
        if text is not None:
            index = _line_index(text)
            # a missing field has no line of its own: name the line of its nearest parent
            for n in range(len(loc), 0, -1):
                line = index.get(loc[:n])
                if line is not None:
                    break
        raise CaseFileError(msg, path=source, field=_loc_to_path(loc) or None, line=line) from None


def data_roots_from_env() -> tuple[Path, ...]:
    """The folders named by ``$REMISSION_DATA_ROOTS`` (``os.pathsep``-separated; may be unset)."""
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    return tuple(Path(x).expanduser() for x in raw.split(os.pathsep) if x.strip())


def resolve_sample_path(
    case_dir: str | Path,
    relative: str | Path,
    allowed_roots: Iterable[str | Path] | None = None,
    *,
    source: str | Path | None = None,
    field: str | None = None,
) -> Path:
    """The path of a file a case names, refused unless it stays inside the case folder.

    ``relative`` is resolved against ``case_dir`` with every symlink followed; the result must lie
    inside ``case_dir`` or inside one of ``allowed_roots`` (default: :func:`data_roots_from_env`,
    i.e. ``$REMISSION_DATA_ROOTS``). So ``../../etc/passwd``, an absolute path and a symlink that
    leads out of the folder are refused, unless an allowed root holds the target. The file need
    not exist (callers check that separately). Returns ``case_dir / relative`` (the path as the
    case names it, for provenance).

    Raises
    ------
    UnsafePathError
        naming the case file (``source``), the field and the offending path (bounded).
    """
    base = Path(case_dir)
    rel = str(relative)
    if "\x00" in rel or not rel.strip():
        raise UnsafePathError(f"expected a file path, got {excerpt(rel)}", path=source,
                              field=field)
    roots = data_roots_from_env() if allowed_roots is None else tuple(map(Path, allowed_roots))
    target = base / rel
    try:
        real = target.resolve()
        allowed = [base.resolve(), *(r.resolve() for r in roots)]
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise UnsafePathError(f"cannot resolve {excerpt(rel)} ({exc.__class__.__name__})",
                              path=source, field=field) from None
    if any(real.is_relative_to(root) for root in allowed):
        return target
    how = ("an absolute path" if Path(rel).is_absolute() else
           "a path that leaves the case folder" if ".." in Path(rel).parts else
           "a symlink that leads out of the case folder")
    raise UnsafePathError(
        f"{excerpt(rel)} is {how}; sample files must be inside the case folder (or inside a "
        f"folder listed in ${DATA_ROOTS_ENV})", path=source, field=field)


def load_case(path: str | Path, *, check_files: bool = True,
              data_roots: Iterable[str | Path] | None = None) -> Case:
    """Read, validate and (by default) check that every sample file exists.

    Every file a sample names (``files`` and file parameters such as ``gates``) must resolve
    inside the case folder or inside ``data_roots`` (default ``$REMISSION_DATA_ROOTS``); this is
    checked even when ``check_files`` is off.

    Raises
    ------
    CaseFileError
        One line naming the file and the field path (:class:`UnsafePathError` for a path that
        leaves the case folder).
    """
    p = Path(path)
    data, node = _parse_case_text(p, _read_case_text(p))
    index = _line_index(node) if node is not None else {}
    bad = _non_finite(data)
    if bad is not None:
        where, value = bad
        raise CaseFileError(f"expected a finite number, got {value!r}", path=p,
                            field=_loc_to_path(where) or None, line=index.get(where))
    case = parse_case(data, source=p, text=node)
    _check_sample_files(case, p, index, data_roots, check_files)
    return case


def _read_case_text(p: Path) -> str:
    """The case file's text: at most :data:`MAX_CASE_BYTES`, UTF-8 (a BOM is dropped)."""
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CASE_BYTES + 1)
    except FileNotFoundError:
        raise CaseFileError("file not found", path=p) from None
    except OSError as exc:
        raise CaseFileError(f"cannot read: {exc.strerror or exc}", path=p) from None
    if len(raw) > MAX_CASE_BYTES:
        raise CaseFileError(f"larger than {MAX_CASE_BYTES} bytes; a case file describes one "
                            "patient (assay data belong in the files it names)", path=p)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise CaseFileError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as "
                            "UTF-8", path=p, line=line) from None


def _parse_case_text(p: Path, text: str) -> tuple[Any, Any]:
    """(data, YAML node or None) of a JSON (``.json``) or YAML case file; syntax errors located."""
    is_json = p.suffix.lower() == ".json"
    try:
        if is_json:
            data = json.loads(text, object_pairs_hook=_json_pairs)
            if _json_depth(data) > MAX_DEPTH:
                raise CaseFileError(f"malformed JSON: nested more than {MAX_DEPTH} levels deep",
                                    path=p)
            return data, None
        return _load_yaml(text)
    except json.JSONDecodeError as exc:
        raise CaseFileError(f"malformed JSON: {exc.msg}", path=p, line=exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(
            f"malformed YAML: {problem}", path=p, line=mark.line + 1 if mark else None
        ) from None
    except RecursionError:
        raise CaseFileError(f"malformed {'JSON' if is_json else 'YAML'}: nested too deeply",
                            path=p) from None
    except ValueError as exc:  # the JSON hook: a duplicate key
        raise CaseFileError(f"malformed JSON: {exc}", path=p) from None


def _check_sample_files(case: Case, p: Path, index: Mapping[tuple[Any, ...], int],
                        data_roots: Iterable[str | Path] | None, check_files: bool) -> None:
    """Every file a sample names (``files`` and file parameters) stays inside the case folder (or an
    allowed root) and, if ``check_files``, exists."""
    def check(loc: tuple[str | int, ...], name: str, what: str) -> None:
        try:
            f = resolve_sample_path(p.parent, name, data_roots, source=p, field=_loc_to_path(loc))
        except UnsafePathError as exc:
            raise UnsafePathError(exc.reason, path=p, field=exc.field,
                                  line=index.get(loc)) from None
        if check_files and not f.is_file():
            raise CaseFileError(
                f"{what} {excerpt(name)} not found (looked for {excerpt(str(f), 200)})",
                path=p, field=_loc_to_path(loc), line=index.get(loc))

    for i, sample in enumerate(case.samples):
        for j, name in enumerate(sample.files):
            check(("samples", i, "files", j), name, "assay file")
        for key, value in sample.parameters.items():
            # parameters that name files (e.g. gates: flow/gates.xml) must exist too
            if key not in _FILE_PARAMETERS:
                continue
            for k, name in _file_values(value):
                check(("samples", i, "parameters", key) + ((k,) if k is not None else ()), name, "file")


#: sample parameters whose value is a path (or a list of paths) relative to the case file
_FILE_PARAMETERS = frozenset({"gates", "reference", "copy_number", "spike_in"})


def _file_values(value: Any) -> list[tuple[int | None, str]]:
    """The paths a file parameter names: ``(None, path)`` or ``(index, path)`` for a list."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [(k, v) for k, v in enumerate(value) if isinstance(v, str)]
    return []


def case_inputs(path: str | Path, case: Case,
                data_roots: Iterable[str | Path] | None = None) -> list[Path]:
    """The case file and every file it references, in a stable order (for provenance).

    Each path goes through :func:`resolve_sample_path` (a path leaving the case folder raises).
    """
    p = Path(path)
    out = [p]
    for sample in case.samples:
        out.extend(resolve_sample_path(p.parent, f, data_roots, source=p) for f in sample.files)
        for key, value in sorted(sample.parameters.items()):
            if key in _FILE_PARAMETERS:
                out.extend(resolve_sample_path(p.parent, name, data_roots, source=p)
                           for _, name in _file_values(value))
    return out
