"""The JSON shape of :func:`remission.clinic.options.propose_options` as pydantic models
(``remission schema options`` publishes it; a test validates every example result against it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remission.knowledge.schema import Access, Citation, Evidence

__all__ = ["EvidenceInSetting", "ExcludedOption", "OptionsResult", "ProposedOption"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceInSetting(_Model):
    framework: str
    level: str
    level_text: str = Field(description="clinical wording, e.g. 'randomised phase 3'")
    summary: str
    setting: str = Field(description="the patients the evidence comes from")
    in_setting: bool | None = Field(description="True: the patient is in that setting; False: "
                                                "extrapolated; None: not checkable")
    why: str
    strength: int


class _OptionBase(_Model):
    id: str
    name: str
    category: str
    target: str | None
    mechanism: str
    access: Access
    context: str
    evidence: tuple[Evidence, ...]
    evidence_level: str
    citations: tuple[Citation, ...]
    knowledge_file: str | None


class ProposedOption(_OptionBase):
    rank: int
    why: tuple[str, ...]
    eligibility: str = Field(description="access route, or label status per jurisdiction")
    eligibility_by_jurisdiction: dict[str, str]
    cautions: tuple[str, ...]
    missing_fields: tuple[str, ...] = Field(description="tumour-board fields the option needs "
                                                        "and the case lacks")
    contraindications: tuple[str, ...]
    advantages: tuple[str, ...]
    limitations: tuple[str, ...]
    toxicities: tuple[str, ...]
    lesion_specific: bool
    evidence_in_setting: str = Field(description="the evidence level shown for this patient")
    evidence_items: tuple[EvidenceInSetting, ...]
    extrapolated: bool
    evidence_strength: int


class ExcludedOption(_OptionBase):
    reasons: tuple[str, ...]


class OptionsResult(_Model):
    options: tuple[ProposedOption, ...]
    excluded: tuple[ExcludedOption, ...]
    notes: tuple[str, ...]
    patient: dict[str, Any] = Field(description="the facts the options were evaluated against")
    knowledge_base: dict[str, Any]
    ranking: str
    rules: tuple[dict[str, Any], ...]
    notice: str
