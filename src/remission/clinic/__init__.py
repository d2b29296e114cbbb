"""Clinical decision support engines: relapse risk stratification and the evidence-linked
therapy-options engine. They receive the loaded knowledge base (:mod:`remission.knowledge`) and
never read files.

It proposes options and shows its reasons; it never decides (not a medical device).

>>> from remission.clinic import stratify, patient_profile, propose_options
"""

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
    "NOTICE",
    "OPTIONS_RULES",
    "RISK_RULES",
    "PatientProfile",
    "RiskAssessment",
    "SchemeGroup",
    "TransplantRule",
    "add_months",
    "allr3_group",
    "bfm_group",
    "bfm_time_point",
    "cog_group",
    "cog_time_point",
    "intreall_group",
    "patient_profile",
    "propose_options",
    "risk_site",
    "stratify",
]
