"""Read a case file (YAML or JSON) into a :class:`~remission.domain.Case`.

Errors name the file and the field path, in one line, e.g.
``case.yaml, line 14: relapses[0].site: expected one of isolated_bm, combined, isolated_cns,
isolated_testis, other_em, got 'marrow'``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from remission.domain.case import Case
from remission.errors import CaseFileError

__all__ = ["case_inputs", "load_case", "parse_case"]


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Map field paths (tuples of keys/indices) to 1-based YAML line numbers."""
    index: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = (*path, key.value)
                index[p] = key.start_mark.line + 1
                walk(value, p)
                index[p] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index


def _describe(err: Mapping[str, Any]) -> str:
    typ = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        return f"expected one of {', '.join(choices)}, got {got!r}"
    if typ == "extra_forbidden":
        return "unknown field (not part of the case schema; see `remission schema case`)"
    if typ == "missing":
        return "required field is missing"
    if typ.startswith("date"):
        return f"expected an ISO date (YYYY-MM-DD), got {got!r}"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if typ in ("value_error", "assertion_error"):
        return msg
    return f"{msg[0].lower()}{msg[1:]}, got {got!r}" if got is not None else msg


def parse_case(data: Any, *, source: str | Path = "case", text: str | None = None) -> Case:
    """Validate already-parsed data; ``text`` (the YAML) lets errors name a line."""
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


def load_case(path: str | Path, *, check_files: bool = True) -> Case:
    """Read, validate and (by default) check that every sample file exists.

    Raises
    ------
    CaseFileError
        One line naming the file and the field path.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError("file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"cannot read: {exc}", path=p) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CaseFileError(f"malformed JSON: {exc.msg}", path=p, line=exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(
            f"malformed YAML: {problem}", path=p, line=mark.line + 1 if mark else None
        ) from None
    case = parse_case(data, source=p, text=text if p.suffix.lower() != ".json" else None)
    if check_files:
        index = _line_index(text) if p.suffix.lower() != ".json" else {}
        for i, sample in enumerate(case.samples):
            for j, name in enumerate(sample.files):
                f = p.parent / name
                if not f.is_file():
                    loc: tuple[str | int, ...] = ("samples", i, "files", j)
                    raise CaseFileError(
                        f"assay file {name!r} not found (looked for {f})",
                        path=p,
                        field=_loc_to_path(loc),
                        line=index.get(loc),
                    )
            for key, value in sample.parameters.items():
                # parameters that name files (e.g. gates: flow/gates.xml) must exist too
                if isinstance(value, str) and key in _FILE_PARAMETERS:
                    f = p.parent / value
                    if not f.is_file():
                        loc = ("samples", i, "parameters", key)
                        raise CaseFileError(
                            f"file {value!r} not found (looked for {f})",
                            path=p,
                            field=_loc_to_path(loc),
                            line=index.get(loc),
                        )
    return case


#: sample parameters whose value is a path relative to the case file
_FILE_PARAMETERS = frozenset({"gates", "reference", "copy_number", "spike_in"})


def case_inputs(path: str | Path, case: Case) -> list[Path]:
    """The case file and every file it references, in a stable order (for provenance)."""
    p = Path(path)
    out = [p]
    for sample in case.samples:
        out.extend(p.parent / f for f in sample.files)
        for key, value in sorted(sample.parameters.items()):
            if isinstance(value, str) and key in _FILE_PARAMETERS:
                out.append(p.parent / value)
    return out
