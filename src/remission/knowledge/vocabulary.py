"""Lesion vocabulary: one canonical name per genetic lesion, with its functional classes.

Names arrive in many spellings: ``BCR::ABL1``, ``BCR-ABL1``, ``BCR/ABL1``, ``t(9;22)`` and ``Ph+``
are the same lesion; ``MLL-r`` is a ``KMT2A`` rearrangement; ``WHSC1`` is ``NSD2``. The vocabulary
(``knowledge/data/lesions.yaml``, part of the versioned knowledge base) maps each spelling to a
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
from typing import Any

from remission.errors import KnowledgeBaseError, ValidationError
from remission.knowledge.schema import (
    BenignPolymorphism,
    FusionEntry,
    FusionPattern,
    GeneEntry,
    LesionClass,
    LesionVocabularyFile,
    NamedLesion,
    RelapseFacts,
)

__all__ = [
    "NormalisedLesion",
    "UnknownLesionError",
    "Vocabulary",
]

_SEP = re.compile(r"\s*(?:::|/|-|_)\s*")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{1,15}(?:\.[0-9]+)?$")
_REARRANGED_KINDS = {"fusion", "rearrangement", "karyotype"}


class UnknownLesionError(ValidationError):
    """A lesion name that the vocabulary does not know."""


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip()).upper()


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

    Build it from a ``lesions.yaml`` (:func:`remission.knowledge.load_vocabulary`); add user synonyms with
    :meth:`add_synonym`.
    """

    classes: dict[str, LesionClass] = field(default_factory=dict)
    genes: dict[str, GeneEntry] = field(default_factory=dict)
    fusions: dict[str, FusionEntry] = field(default_factory=dict)
    named: dict[str, NamedLesion] = field(default_factory=dict)
    patterns: list[FusionPattern] = field(default_factory=list)
    benign: tuple[BenignPolymorphism, ...] = ()
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
        v.benign = tuple(data.benign_polymorphisms)
        return v

    def copy(self) -> Vocabulary:
        return Vocabulary(classes=dict(self.classes), genes=dict(self.genes),
                          fusions=dict(self.fusions), named=dict(self.named),
                          patterns=list(self.patterns), benign=self.benign, _gene_alias=dict(self._gene_alias),
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


    # -- facts about genes -------------------------------------------------------------------
    def relapse_lesions(self) -> dict[str, RelapseFacts]:
        """Relapse-associated genes with mechanism and resistance, by symbol and by alias.

        The one table of these facts (Li B et al. Blood 2020;135:41 and the sources per gene);
        :mod:`remission.clonal` receives it from here.
        """
        out: dict[str, RelapseFacts] = {}
        for sym, g in self.genes.items():
            if g.relapse is not None:
                out[sym] = g.relapse
                for a in g.aliases:
                    out[a.upper()] = g.relapse
        return out

    def gene_effect(self, symbol: str) -> str | None:
        """``activating`` | ``loss`` | None: how lesions of this gene act."""
        g = self.genes.get(symbol.upper())
        return g.effect if g is not None else None

    def benign_polymorphism(self, gene: str, detail: str | None) -> BenignPolymorphism | None:
        """The listed common polymorphism this variant is, if any (``TP53 p.P72R``)."""
        if not detail:
            return None
        sym = self._gene_alias.get(_key(gene), gene.strip().upper())
        d = detail.strip().upper().removeprefix("P.")
        for b in self.benign:
            if b.gene.upper() != sym:
                continue
            names = {x.strip().upper().removeprefix("P.") for x in (b.detail, *b.aliases)}
            if d in names:
                return b
        return None
