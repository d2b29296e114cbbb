"""The versioned, schema-validated therapy-options knowledge base.

A knowledge base is a folder: a ``VERSION`` file and ``*.yaml`` files. Each YAML file has a
``kind``: ``options`` (therapy entries, validated by :class:`OptionEntry`) or ``lesions`` (the
lesion vocabulary, :mod:`remission.clinic.lesions`). The bundled one is
``remission/clinic/knowledge/``; a user folder (``remission options CASE --knowledge DIR``) replaces
it, and when it has no ``lesions`` file the bundled vocabulary is used. Changing the knowledge base
needs no code change.

Every entry must carry at least one citation and evidence graded in a known framework
(``clinical_rules.md`` §6: OncoKB therapeutic levels, CIViC A–E, ESCAT tiers, or the trial design
that produced it). A file that breaks the schema fails to load with a
:class:`~remission.errors.KnowledgeBaseError` naming the file, the entry and the field::

    knowledge file 'targeted.yaml', entry 'ruxolitinib', field evidence[0].level: unknown
    evidence level '7' for framework 'oncokb'; expected one of 1, 2, 3A, 3B, 4, R1, R2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from remission.clinic.lesions import LesionVocabularyFile, Vocabulary, default_vocabulary
from remission.errors import KnowledgeBaseError

__all__ = [
    "EVIDENCE_LEVELS",
    "Citation",
    "Condition",
    "Evidence",
    "KnowledgeBase",
    "OptionEntry",
    "OptionsFile",
    "Requirement",
    "bundled_knowledge_dir",
    "evidence_strength",
    "load_knowledge_base",
]

#: Allowed levels per framework (clinical_rules.md §6).
EVIDENCE_LEVELS: dict[str, tuple[str, ...]] = {
    "oncokb": ("1", "2", "3A", "3B", "4", "R1", "R2"),
    "civic": ("A", "B", "C", "D", "E"),
    "escat": ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B", "IV-A", "IV-B", "V", "X"),
    "trial": ("protocol_standard", "randomised_phase3", "randomised_phase2", "single_arm_phase2", "phase1_2",
              "phase1", "real_world", "retrospective", "case_series", "preclinical"),
}

# A reading order across frameworks (5 strongest). It orders the options list; it is not a
# clinical threshold and never excludes anything.
_STRENGTH: dict[tuple[str, str], int] = {
    **{("oncokb", k): v for k, v in {"1": 5, "2": 5, "3A": 4, "3B": 3, "4": 2, "R1": 0, "R2": 0}.items()},
    **{("civic", k): v for k, v in {"A": 5, "B": 4, "C": 2, "D": 1, "E": 1}.items()},
    **{("escat", k): v for k, v in {"I-A": 5, "I-B": 5, "I-C": 4, "II-A": 4, "II-B": 3, "III-A": 3,
                                    "III-B": 2, "IV-A": 1, "IV-B": 1, "V": 1, "X": 0}.items()},
    **{("trial", k): v for k, v in {"protocol_standard": 5, "randomised_phase3": 5, "randomised_phase2": 4,
                                    "single_arm_phase2": 4, "phase1_2": 3, "phase1": 2,
                                    "real_world": 3, "retrospective": 2, "case_series": 2,
                                    "preclinical": 1}.items()},
}


def evidence_strength(framework: str, level: str) -> int:
    """Ordinal 0–5 used to order options (documented reading order, not a clinical rule)."""
    return _STRENGTH[(framework, level)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Model):
    source: str = Field(min_length=3, description="author, journal, year (or label) of the source")
    key_numbers: str | None = Field(None, description="the numbers the entry rests on, as published")
    tag: Literal["C", "R", "U"] = Field(description="C confirmed in the spec; R recalled; U uncertain")
    spec: str | None = Field(None, description="spec section / source key, e.g. 'clinical_rules.md §5.2'")


class Evidence(_Model):
    framework: Literal["oncokb", "civic", "escat", "trial"]
    level: str
    summary: str = Field(min_length=3)
    lesion: str | None = Field(None, description="lesion reference the level is for (OncoKB-style)")

    @model_validator(mode="after")
    def _known_level(self) -> Evidence:
        allowed = EVIDENCE_LEVELS[self.framework]
        if self.level not in allowed:
            raise ValueError(f"unknown evidence level {self.level!r} for framework "
                             f"{self.framework!r}; expected one of {', '.join(allowed)}")
        return self


class Condition(_Model):
    """Facts about the patient that must all hold (AND). Empty = always true."""

    lineage: Literal["B", "T"] | None = None
    lesion_any: tuple[str, ...] = Field((), description="lesion refs: NAME, class:CLASS, NAME@DETAIL")
    antigen_positive: Literal["CD19", "CD22"] | None = None
    antigen_negative: Literal["CD19", "CD22"] | None = None
    age_min_years: float | None = None
    age_below_years: float | None = None
    relapse_number_min: int | None = None
    relapse_number_max: int | None = None
    isolated_extramedullary: bool | None = None
    marrow_blasts_at_least_rule: str | None = Field(None, description="name of an options rule")
    marrow_blasts_below_percent: float | None = None
    prior_therapy_any: tuple[str, ...] = ()
    prior_therapy_no_response_any: tuple[str, ...] = ()
    prior_cd19_directed: bool | None = None
    prior_cart: bool | None = None
    prior_hsct: bool | None = None
    relapse_after_hsct: bool | None = None
    mrd_positive: bool | None = None
    mrd_at_least: float | None = Field(None, gt=0, le=1, description="latest MRD >= this fraction")
    refractory: bool | None = None
    transplant_decision_any: tuple[str, ...] = ()
    transplant_other_backbone_any: tuple[str, ...] = Field(
        (), description="decision under the other backbone's MRD rule (e.g. ALLR3 1e-4)")
    risk_group_any: tuple[str, ...] = Field((), description="scheme:group, e.g. bfm:S2, allr3:IR")
    cart_persistence: bool | None = None
    b_cell_aplasia: bool | None = None
    hsct_after_latest_relapse: bool | None = None
    any_of: tuple[Condition, ...] = Field((), description="at least one of these must hold")


class Requirement(_Model):
    when: Condition
    reason: str = Field(min_length=3)


class Relevance(_Model):
    when: Condition
    why: str = Field(min_length=3)


class OptionEntry(_Model):
    """One therapy option of the knowledge base."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=2)
    category: Literal["chemotherapy", "targeted", "immunotherapy", "cellular_therapy", "transplant"]
    target: str | None = None
    mechanism: str = Field(min_length=3)
    access: Literal["standard", "label", "trial", "off_label"] = "standard"
    agents: tuple[str, ...] = Field((), description="names matched against prior therapies and "
                                                    "CAR-T products (default: the id)")
    relevant_when: tuple[Relevance, ...] = Field((), description="any of; empty = always relevant")
    requires: tuple[Requirement, ...] = Field((), description="all must hold, else excluded (reason)")
    contraindications: tuple[Requirement, ...] = Field((), description="any holds -> excluded")
    cautions: tuple[Requirement, ...] = ()
    label: tuple[Requirement, ...] = Field((), description="label conditions; unmet -> outside label")
    context: str = Field(min_length=3)
    advantages: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    toxicities: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)

    def strength(self, applicable: list[Evidence] | None = None) -> int:
        """Strongest evidence among ``applicable`` items (all items when not given)."""
        items = applicable if applicable else list(self.evidence)
        return max(evidence_strength(e.framework, e.level) for e in items)


class OptionsFile(_Model):
    kind: Literal["options"]
    entries: tuple[OptionEntry, ...] = Field(min_length=1)


Condition.model_rebuild()


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


def _load_yaml_model(path: Path, model: type[M]) -> M:
    """Parse one YAML file into ``model``; errors name file, entry and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    return Path(__file__).parent / "knowledge"


def _check_references(kb_file: str, entry: OptionEntry, vocab: Vocabulary,
                      rule_names: set[str]) -> None:
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
        if c.marrow_blasts_at_least_rule is not None and c.marrow_blasts_at_least_rule not in rule_names:
            raise KnowledgeBaseError(
                f"knowledge file {kb_file!r}, entry {entry.id!r}, field "
                f"{where}.marrow_blasts_at_least_rule: unknown rule "
                f"{c.marrow_blasts_at_least_rule!r}; known: {', '.join(sorted(rule_names))}")
    for i, ev in enumerate(entry.evidence):
        if ev.lesion is not None and not vocab.is_known_reference(ev.lesion):
            raise KnowledgeBaseError(
                f"knowledge file {kb_file!r}, entry {entry.id!r}, field evidence[{i}].lesion: "
                f"unknown lesion reference {ev.lesion!r}")


def load_knowledge_base(directory: str | Path | None = None) -> KnowledgeBase:
    """Load and validate a knowledge base folder (default: the bundled one).

    Raises
    ------
    KnowledgeBaseError
        naming the file, entry and field of the first problem (missing citation, unknown
        evidence level, unknown lesion reference, duplicate id, ...).
    """
    from remission.clinic.options import OPTIONS_RULES

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
    for p in files:
        try:
            head = yaml.safe_load(p.read_text(encoding="utf-8"))
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
    if lesion_files:
        data = _load_yaml_model(lesion_files[0], LesionVocabularyFile)
        vocab = Vocabulary.from_data(data, source=lesion_files[0].name)
    else:
        vocab = default_vocabulary()
    entries: list[OptionEntry] = []
    origin: dict[str, str] = {}
    rule_names = set(OPTIONS_RULES)
    for p in option_files:
        of = _load_yaml_model(p, OptionsFile)
        for e in of.entries:
            if e.id in origin:
                raise KnowledgeBaseError(f"knowledge file {p.name!r}, entry {e.id!r}, field id: "
                                         f"duplicate id (also in {origin[e.id]!r})")
            _check_references(p.name, e, vocab, rule_names)
            origin[e.id] = p.name
            entries.append(e)
    if not entries:
        raise KnowledgeBaseError(f"knowledge directory {str(d)!r} has no options entries")
    return KnowledgeBase(version=version, directory=d, entries=tuple(entries), vocabulary=vocab,
                         files=tuple(p.name for p in files), origin=origin)
