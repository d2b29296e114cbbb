"""Clinical decision support: relapse risk stratification, lesion vocabulary, knowledge base and
the evidence-linked therapy-options engine.

It proposes options and shows its reasons; it never decides (not a medical device).

>>> from remission.clinic import stratify, load_knowledge_base, patient_profile, propose_options
"""

from remission.clinic.kb import (
    EVIDENCE_LEVELS,
    Citation,
    Condition,
    Evidence,
    KnowledgeBase,
    OptionEntry,
    bundled_knowledge_dir,
    evidence_strength,
    load_knowledge_base,
)
from remission.clinic.lesions import (
    NormalisedLesion,
    UnknownLesionError,
    Vocabulary,
    default_vocabulary,
    normalise_lesion,
)
from remission.clinic.options import (
    NOTICE,
    OPTIONS_RULES,
    PatientProfile,
    patient_profile,
    propose_options,
)
from remission.clinic.risk import (
    RISK_RULES,
    RiskAssessment,
    SchemeGroup,
    TransplantRule,
    add_months,
    allr3_group,
    bfm_group,
    bfm_time_point,
    cog_group,
    cog_time_point,
    intreall_group,
    risk_site,
    stratify,
)

__all__ = [
    "EVIDENCE_LEVELS",
    "NOTICE",
    "OPTIONS_RULES",
    "RISK_RULES",
    "Citation",
    "Condition",
    "Evidence",
    "KnowledgeBase",
    "NormalisedLesion",
    "OptionEntry",
    "PatientProfile",
    "RiskAssessment",
    "SchemeGroup",
    "TransplantRule",
    "UnknownLesionError",
    "Vocabulary",
    "add_months",
    "allr3_group",
    "bfm_group",
    "bfm_time_point",
    "bundled_knowledge_dir",
    "cog_group",
    "cog_time_point",
    "default_vocabulary",
    "evidence_strength",
    "intreall_group",
    "load_knowledge_base",
    "normalise_lesion",
    "patient_profile",
    "propose_options",
    "risk_site",
    "stratify",
]
