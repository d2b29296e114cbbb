"""Lesion vocabulary: one canonical name per genetic lesion, with its functional classes.

Names arrive in many spellings: ``BCR::ABL1``, ``BCR-ABL1``, ``BCR/ABL1``, ``t(9;22)`` and ``Ph+``
are the same lesion; ``MLL-r`` is a ``KMT2A`` rearrangement; ``WHSC1`` is ``NSD2``. The vocabulary
(``clinic/knowledge/lesions.yaml``, part of the versioned knowledge base) maps each spelling to a
canonical name and to *classes* that the options knowledge base refers to
(``abl_class``, ``jak_stat``, ``ras_pathway``, ``thiopurine_resistance`` ...).

Rules of :meth:`Vocabulary.normalise`:

1. exact synonym (case-insensitive, whitespace-insensitive): ``t(9;22)`` → ``BCR::ABL1``;
2. a fusion ``A::B`` (also written ``A-B``, ``A/B``, ``A_B``): each partner is normalised as a
   gene; a listed fusion keeps its classes; an unlisted fusion is accepted when a partner is a
   *promiscuous* gene of a fusion pattern (e.g. any ``X::ABL1``, ``X::PDGFRB`` → ABL-class; any
   ``X::JAK2`` → JAK/STAT; any ``KMT2A::X`` → KMT2A-rearranged), the unknown partner then only
   needs to look like a gene symbol;
3. a gene, optionally followed by a protein change (``JAK2 R683G``, ``NT5C2 p.R367Q``).

Anything else is an :class:`UnknownLesionError` (a :class:`~remission.errors.ValidationError`)
naming the input and how to add a synonym (:meth:`Vocabulary.add_synonym`, or a ``synonyms:``
block in a knowledge directory's ``lesions.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remission.errors import KnowledgeBaseError, ValidationError

__all__ = [
    "LesionClass",
    "LesionVocabularyFile",
    "NormalisedLesion",
    "UnknownLesionError",
    "Vocabulary",
    "default_vocabulary",
    "normalise_lesion",
]

_SEP = re.compile(r"\s*(?:::|/|-|_)\s*")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{1,15}(?:\.[0-9]+)?$")
_REARRANGED_KINDS = {"fusion", "rearrangement", "karyotype"}


class UnknownLesionError(ValidationError):
    """A lesion name that the vocabulary does not know."""


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).upper()


# -- the YAML schema ------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LesionClass(_Model):
    description: str = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)


class GeneEntry(_Model):
    symbol: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    classes_if_rearranged: tuple[str, ...] = ()
    note: str | None = None


class FusionEntry(_Model):
    name: str = Field(min_length=3, pattern=r"^[A-Za-z0-9.]+::[A-Za-z0-9.]+$")
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    note: str | None = None


class NamedLesion(_Model):
    """A lesion that is not a gene or a two-partner fusion (ploidy, iAMP21, generic rearrangement)."""

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    genes: tuple[str, ...] = ()
    note: str | None = None


class FusionPattern(_Model):
    partner: str = Field(min_length=1)
    position: str = Field("any", pattern="^(5prime|3prime|any)$")
    classes: tuple[str, ...] = ()


class LesionVocabularyFile(_Model):
    kind: str = Field(pattern="^lesions$")
    classes: dict[str, LesionClass] = Field(default_factory=dict)
    genes: tuple[GeneEntry, ...] = ()
    fusions: tuple[FusionEntry, ...] = ()
    named: tuple[NamedLesion, ...] = ()
    fusion_patterns: tuple[FusionPattern, ...] = ()
    synonyms: dict[str, str] = Field(default_factory=dict)


# -- the vocabulary ---------------------------------------------------------------------------

@dataclass(frozen=True)
class NormalisedLesion:
    """A lesion name resolved against the vocabulary."""

    input: str
    canonical: str
    kind: str  # "fusion" | "gene" | "named"
    genes: tuple[str, ...]
    classes: tuple[str, ...]
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.input, "canonical": self.canonical, "kind": self.kind,
                "genes": list(self.genes), "classes": list(self.classes), "detail": self.detail}


@dataclass
class Vocabulary:
    """Canonical lesion names, their synonyms and classes.

    Build it from a ``lesions.yaml`` (:meth:`from_file`); add user synonyms with
    :meth:`add_synonym`.
    """

    classes: dict[str, LesionClass] = field(default_factory=dict)
    genes: dict[str, GeneEntry] = field(default_factory=dict)
    fusions: dict[str, FusionEntry] = field(default_factory=dict)
    named: dict[str, NamedLesion] = field(default_factory=dict)
    patterns: list[FusionPattern] = field(default_factory=list)
    _gene_alias: dict[str, str] = field(default_factory=dict)
    _synonyms: dict[str, str] = field(default_factory=dict)  # key -> canonical lesion name

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_data(cls, data: LesionVocabularyFile, *, source: str = "lesions.yaml") -> Vocabulary:
        v = cls(classes=dict(data.classes))

        def known_classes(entry: str, names: Iterable[str]) -> None:
            for c in names:
                if c not in v.classes:
                    raise KnowledgeBaseError(
                        f"{source}: entry {entry!r}, field classes: unknown lesion class {c!r}; "
                        f"known classes: {', '.join(sorted(v.classes))}")

        for g in data.genes:
            known_classes(g.symbol, (*g.classes, *g.classes_if_rearranged))
            v.genes[g.symbol.upper()] = g
            for a in (g.symbol, *g.aliases):
                v._gene_alias[_key(a)] = g.symbol.upper()
        for f in data.fusions:
            known_classes(f.name, f.classes)
            canon = "::".join(v._gene(p, source=source, entry=f.name) for p in f.name.split("::"))
            v.fusions[canon] = f
            for a in (f.name, *f.aliases):
                v._synonyms[_key(a)] = canon
        for n in data.named:
            known_classes(n.name, n.classes)
            v.named[n.name] = n
            for a in (n.name, *n.aliases):
                v._synonyms[_key(a)] = n.name
        for p in data.fusion_patterns:
            known_classes(f"pattern {p.partner}", p.classes)
            v.patterns.append(p)
        for alias, canonical in data.synonyms.items():
            v.add_synonym(alias, canonical, source=source)
        return v

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        from remission.clinic.kb import _load_yaml_model

        data = _load_yaml_model(Path(path), LesionVocabularyFile)
        return cls.from_data(data, source=Path(path).name)

    def copy(self) -> Vocabulary:
        return Vocabulary(classes=dict(self.classes), genes=dict(self.genes),
                          fusions=dict(self.fusions), named=dict(self.named),
                          patterns=list(self.patterns), _gene_alias=dict(self._gene_alias),
                          _synonyms=dict(self._synonyms))

    def add_synonym(self, alias: str, canonical: str, *, source: str = "user") -> None:
        """Make ``alias`` a synonym of ``canonical`` (itself any name the vocabulary knows)."""
        if not alias or not alias.strip():
            raise ValidationError(f"alias must be a non-empty name, but was {alias!r}")
        try:
            target = self.normalise(canonical)
        except UnknownLesionError:
            raise KnowledgeBaseError(
                f"{source}: synonym {alias!r}: its target {canonical!r} is not in the lesion "
                "vocabulary") from None
        if target.kind == "gene" and target.detail is None:
            self._gene_alias[_key(alias)] = target.canonical
        else:
            self._synonyms[_key(alias)] = target.canonical

    def add_synonyms(self, synonyms: Mapping[str, str], *, source: str = "user") -> None:
        for a, c in synonyms.items():
            self.add_synonym(a, c, source=source)

    # -- lookup ---------------------------------------------------------------------------
    def _gene(self, name: str, *, source: str | None = None, entry: str | None = None) -> str:
        g = self._gene_alias.get(_key(name))
        if g is None:
            if source is not None:
                raise KnowledgeBaseError(f"{source}: entry {entry!r}: partner {name!r} is not a "
                                         "gene of the vocabulary (add it under genes:)")
            raise UnknownLesionError(f"unknown gene {name!r}")
        return g

    def gene_classes(self, symbol: str, *, rearranged: bool) -> tuple[str, ...]:
        g = self.genes.get(symbol)
        if g is None:
            return ()
        return tuple(dict.fromkeys((*g.classes, *(g.classes_if_rearranged if rearranged else ()))))

    def _fusion(self, a: str, b: str, original: str, detail: str | None) -> NormalisedLesion | None:
        ga = self._gene_alias.get(_key(a))
        gb = self._gene_alias.get(_key(b))
        sym_a = ga or (a.strip().upper() if _SYMBOL.match(a.strip().upper()) else None)
        sym_b = gb or (b.strip().upper() if _SYMBOL.match(b.strip().upper()) else None)
        if sym_a is None or sym_b is None:
            return None
        canon = f"{sym_a}::{sym_b}"
        if canon in self.fusions:
            f = self.fusions[canon]
            return NormalisedLesion(original, canon, "fusion", (sym_a, sym_b), tuple(f.classes), detail)
        classes: list[str] = []
        for p in self.patterns:
            partner = p.partner.upper()
            if (p.position in ("5prime", "any") and sym_a == partner) or \
                    (p.position in ("3prime", "any") and sym_b == partner):
                classes.extend(p.classes)
        if not classes and not (ga and gb):
            return None  # neither a listed fusion, nor a pattern, nor two known genes
        if ga:
            classes.extend(self.gene_classes(ga, rearranged=True))
        if gb:
            classes.extend(self.gene_classes(gb, rearranged=True))
        return NormalisedLesion(original, canon, "fusion", (sym_a, sym_b),
                                tuple(dict.fromkeys(classes)), detail)

    def normalise(self, name: str, *, kind: str | None = None, detail: str | None = None) -> NormalisedLesion:
        """Resolve a lesion name (see the module docstring for the rules).

        ``kind`` is the case file's lesion kind (``fusion``, ``snv``, ``cnv`` ...): a gene given
        with kind ``fusion``/``rearrangement`` also gets its rearrangement classes (``KMT2A`` →
        KMT2A-rearranged).
        """
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"lesion name must be a non-empty string, but was {name!r}")
        key = _key(name)
        canon = self._synonyms.get(key)
        if canon is not None:
            return self._by_canonical(name, canon, detail)
        if key in self._gene_alias:
            sym = self._gene_alias[key]
            return NormalisedLesion(name, sym, "gene", (sym,),
                                    self.gene_classes(sym, rearranged=kind in _REARRANGED_KINDS),
                                    detail)
        # gene + protein change: "JAK2 R683G", "NT5C2 p.R367Q"
        head, _, rest = name.strip().partition(" ")
        if rest and rest.strip()[:1] not in (":", "-", "/", "_") and _key(head) in self._gene_alias:
            sym = self._gene_alias[_key(head)]
            return NormalisedLesion(name, sym, "gene", (sym,),
                                    self.gene_classes(sym, rearranged=kind in _REARRANGED_KINDS),
                                    detail or rest.strip())
        parts = _SEP.split(name.strip())
        if len(parts) == 2 and all(parts):
            fus = self._fusion(parts[0], parts[1], name, detail)
            if fus is not None:
                return fus
        raise UnknownLesionError(
            f"unknown lesion name {name!r}: not in the lesion vocabulary (knowledge/lesions.yaml). "
            "Write fusions as GENE::GENE and genes by HGNC symbol, or add a synonym "
            f"(Vocabulary.add_synonym({name!r}, '<known name>') or a 'synonyms:' entry in "
            "lesions.yaml of a --knowledge directory)")

    def _by_canonical(self, original: str, canon: str, detail: str | None) -> NormalisedLesion:
        if canon in self.fusions:
            f = self.fusions[canon]
            return NormalisedLesion(original, canon, "fusion", tuple(canon.split("::")),
                                    tuple(f.classes), detail)
        n = self.named[canon]
        return NormalisedLesion(original, canon, "named", tuple(n.genes), tuple(n.classes), detail)

    def is_known_reference(self, ref: str) -> bool:
        """Whether a knowledge-base lesion reference (``class:X``, a name, ``NAME@DETAIL``) resolves."""
        if ref.startswith("class:"):
            return ref[6:] in self.classes
        name = ref.split("@", 1)[0]
        try:
            self.normalise(name)
        except UnknownLesionError:
            return False
        return True


@cache
def _default() -> Vocabulary:
    return Vocabulary.from_file(Path(__file__).parent / "knowledge" / "lesions.yaml")


def default_vocabulary() -> Vocabulary:
    """A fresh copy of the bundled vocabulary (safe to add synonyms to)."""
    return _default().copy()


def normalise_lesion(name: str, *, kind: str | None = None, detail: str | None = None,
                     vocabulary: Vocabulary | None = None) -> NormalisedLesion:
    """Normalise one lesion name with the bundled (or a given) vocabulary."""
    return (vocabulary or _default()).normalise(name, kind=kind, detail=detail)
