"""The clinical knowledge base: schema, loader, lesion vocabulary, bundled data and version.

This package is the one place that reads knowledge files. Engines (:mod:`remission.clinic`,
:mod:`remission.clonal`, :mod:`remission.state`) receive the loaded objects.

>>> from remission.knowledge import load_knowledge_base
>>> kb = load_knowledge_base()            # the bundled, versioned knowledge base
>>> kb.vocabulary.normalise("t(9;22)").canonical
'BCR::ABL1'
"""

from remission.knowledge.loader import (
    KnowledgeBase,
    bundled_knowledge_dir,
    default_vocabulary,
    load_knowledge_base,
    load_vocabulary,
    normalise_lesion,
)
from remission.knowledge.schema import (
    EVIDENCE_LEVELS,
    BenignPolymorphism,
    Citation,
    Condition,
    Evidence,
    OptionEntry,
    RelapseFacts,
    evidence_strength,
)
from remission.knowledge.version import knowledge_base_version
from remission.knowledge.vocabulary import NormalisedLesion, UnknownLesionError, Vocabulary

__all__ = [
    "EVIDENCE_LEVELS",
    "BenignPolymorphism",
    "Citation",
    "Condition",
    "Evidence",
    "KnowledgeBase",
    "NormalisedLesion",
    "OptionEntry",
    "RelapseFacts",
    "UnknownLesionError",
    "Vocabulary",
    "bundled_knowledge_dir",
    "default_vocabulary",
    "evidence_strength",
    "knowledge_base_version",
    "load_knowledge_base",
    "load_vocabulary",
    "normalise_lesion",
]
