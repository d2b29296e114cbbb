"""The one place that reads knowledge files: a knowledge-base folder into loaded objects.

A knowledge base is a folder: a ``VERSION`` file and ``*.yaml`` files. Each YAML file has a
``kind``: ``options`` (therapy entries, validated by :class:`~remission.knowledge.schema.OptionEntry`)
or ``lesions`` (the lesion vocabulary, :class:`~remission.knowledge.vocabulary.Vocabulary`). The
bundled one is ``remission/knowledge/data/``; a user folder (``remission options CASE --knowledge
DIR``) replaces it, and when it has no ``lesions`` file the bundled vocabulary is used. Changing
the knowledge base needs no code change; engines receive the loaded objects and never read files.

A file that breaks the schema fails to load with a :class:`~remission.errors.KnowledgeBaseError`
naming the file, the entry and the field::

    knowledge file 'targeted.yaml', entry 'ruxolitinib', field evidence[0].level: unknown
    evidence level '7' for framework 'oncokb'; expected one of 1, 2, 3A, 3B, 4, R1, R2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml
from pydantic import BaseModel

from remission.errors import KnowledgeBaseError
from remission.knowledge.schema import Condition, LesionVocabularyFile, OptionEntry, OptionsFile
from remission.knowledge.vocabulary import NormalisedLesion, Vocabulary

__all__ = [
    "KnowledgeBase",
    "bundled_knowledge_dir",
    "default_vocabulary",
    "load_knowledge_base",
    "load_vocabulary",
    "normalise_lesion",
]

# -- loading ---------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)

_FIELD_HINTS = {
    "citations": "at least one citation is required (every option cites its source)",
    "evidence": "at least one graded evidence item is required",
}


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _describe(err: Mapping[str, Any]) -> str:
    typ = err["type"]
    loc = tuple(err["loc"])
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if typ in ("missing", "too_short") and last in _FIELD_HINTS and loc and loc[-1] == last:
        return _FIELD_HINTS[last] + (" (missing)" if typ == "missing" else " (empty list)")
    if typ == "missing":
        return "required field is missing"
    if typ == "extra_forbidden":
        return "unknown field (not part of the knowledge-base schema)"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    got = err.get("input")
    if typ == "literal_error":
        return f"{msg}, got {got!r}"
    return msg if typ == "value_error" else f"{msg}, got {got!r}"


#: libyaml's safe loader when PyYAML was built with it (the same documents, ~10x faster than
#: the pure-Python one: the bundled knowledge base parses in ~0.02 s instead of ~0.2 s)
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)


def _load_yaml_model(path: Path, model: type[M], parsed: Any = None) -> M:
    """Parse one YAML file (unless ``parsed`` already holds its data) into ``model``; errors name
    file, entry and field."""
    try:
        data = parsed if parsed is not None else _parse_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise KnowledgeBaseError(f"knowledge file {path.name!r}{where}: not valid YAML: "
                                 f"{getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise KnowledgeBaseError(f"knowledge file {str(path)!r}: cannot be read: {exc}") from None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(p for p in err["loc"]
                    if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        entry = ""
        if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int) and isinstance(data, dict):
            entries = data.get("entries") or []
            e = entries[loc[1]] if loc[1] < len(entries) else None
            ident = e.get("id") if isinstance(e, dict) else None
            entry = f", entry {ident!r}" if ident else f", entry #{loc[1] + 1}"
            loc = loc[2:]
        fld = f", field {_fmt_loc(loc)}" if loc else ""
        raise KnowledgeBaseError(f"knowledge file {path.name!r}{entry}{fld}: {_describe(err)}") from None


@dataclass
class KnowledgeBase:
    """The loaded knowledge base: version, option entries, lesion vocabulary."""

    version: str
    directory: Path
    entries: tuple[OptionEntry, ...]
    vocabulary: Vocabulary
    files: tuple[str, ...] = ()
    origin: dict[str, str] = field(default_factory=dict)  # entry id -> file name

    def entry(self, entry_id: str) -> OptionEntry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise KeyError(entry_id)


def bundled_knowledge_dir() -> Path:
    """The knowledge base shipped with the package (``remission/knowledge/data``)."""
    return Path(__file__).parent / "data"


def _check_references(kb_file: str, entry: OptionEntry, vocab: Vocabulary,
                      rule_names: set[str] | None) -> None:
    def conds() -> list[tuple[str, Condition]]:
        out: list[tuple[str, Condition]] = []
        for name in ("relevant_when", "requires", "contraindications", "cautions", "label"):
            for i, item in enumerate(getattr(entry, name)):
                out.append((f"{name}[{i}].when", item.when))
        return out

    for where, c in conds():
        for ref in c.lesion_any:
            if not vocab.is_known_reference(ref):
                raise KnowledgeBaseError(
                    f"knowledge file {kb_file!r}, entry {entry.id!r}, field {where}.lesion_any: "
                    f"unknown lesion reference {ref!r} (not in the lesion vocabulary)")
        if (rule_names is not None and c.marrow_blasts_at_least_rule is not None
                and c.marrow_blasts_at_least_rule not in rule_names):
            raise KnowledgeBaseError(
                f"knowledge file {kb_file!r}, entry {entry.id!r}, field "
                f"{where}.marrow_blasts_at_least_rule: unknown rule "
                f"{c.marrow_blasts_at_least_rule!r}; known: {', '.join(sorted(rule_names))}")
    for i, ev in enumerate(entry.evidence):
        if ev.lesion is not None and not vocab.is_known_reference(ev.lesion):
            raise KnowledgeBaseError(
                f"knowledge file {kb_file!r}, entry {entry.id!r}, field evidence[{i}].lesion: "
                f"unknown lesion reference {ev.lesion!r}")


def load_knowledge_base(directory: str | Path | None = None, *,
                        rule_names: Iterable[str] | None = None) -> KnowledgeBase:
    """Load and validate a knowledge base folder (default: the bundled one).

    ``rule_names``: the names of the options engine's rules that entries may refer to
    (``marrow_blasts_at_least_rule``); when given, an unknown name fails the load.

    Raises
    ------
    KnowledgeBaseError
        naming the file, entry and field of the first problem (missing citation, unknown
        evidence level, unknown lesion reference, duplicate id, ...).
    """
    d = Path(directory) if directory is not None else bundled_knowledge_dir()
    if not d.is_dir():
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} does not exist")
    vf = d / "VERSION"
    if not vf.is_file():
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} has no VERSION file "
                                 "(one line, e.g. 2026.11.0)")
    version = vf.read_text(encoding="utf-8").strip()
    if not version:
        raise KnowledgeBaseError(f"knowledge file 'VERSION' in {str(d)!r} is empty")
    files = sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} has no *.yaml files")
    option_files: list[Path] = []
    lesion_files: list[Path] = []
    parsed: dict[Path, Any] = {}
    for p in files:
        try:
            head = parsed[p] = _parse_yaml(p)
        except yaml.YAMLError:
            head = None  # reported with its line by _load_yaml_model below
        kind = head.get("kind") if isinstance(head, dict) else None
        if kind == "lesions":
            lesion_files.append(p)
        elif kind == "options" or head is None:
            option_files.append(p)
        else:
            raise KnowledgeBaseError(f"knowledge file {p.name!r}, field kind: expected 'options' "
                                     f"or 'lesions', got {kind!r}")
    if len(lesion_files) > 1:
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} has more than one lesions file: "
                                 + ", ".join(p.name for p in lesion_files))
    vocab = (Vocabulary.from_data(_load_yaml_model(lesion_files[0], LesionVocabularyFile, parsed.get(lesion_files[0])),
                                  source=lesion_files[0].name) if lesion_files else default_vocabulary())
    entries: list[OptionEntry] = []
    origin: dict[str, str] = {}
    names = set(rule_names) if rule_names is not None else None
    for p in option_files:
        of = _load_yaml_model(p, OptionsFile, parsed.get(p))
        for e in of.entries:
            if e.id in origin:
                raise KnowledgeBaseError(f"knowledge file {p.name!r}, entry {e.id!r}, field id: "
                                         f"duplicate id (also in {origin[e.id]!r})")
            _check_references(p.name, e, vocab, names)
            origin[e.id] = p.name
            entries.append(e)
    if not entries:
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} has no options entries")
    return KnowledgeBase(version=version, directory=d, entries=tuple(entries), vocabulary=vocab,
                         files=tuple(p.name for p in files), origin=origin)


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Read one ``lesions.yaml`` into a :class:`Vocabulary`."""
    data = _load_yaml_model(Path(path), LesionVocabularyFile)
    return Vocabulary.from_data(data, source=Path(path).name)


@cache
def _default() -> Vocabulary:
    return load_vocabulary(bundled_knowledge_dir() / "lesions.yaml")


def default_vocabulary() -> Vocabulary:
    """A fresh copy of the bundled vocabulary (safe to add synonyms to)."""
    return _default().copy()


def normalise_lesion(name: str, *, kind: str | None = None, detail: str | None = None,
                     vocabulary: Vocabulary | None = None) -> NormalisedLesion:
    """Normalise one lesion name with the bundled (or a given) vocabulary."""
    return (vocabulary or _default()).normalise(name, kind=kind, detail=detail)
