"""RQ-PCR MRD from allele-specific Ig/TR assays, interpreted the EuroMRD way.

Sources: van der Velden VHJ et al., *Leukemia* 2007;21:604-611 (ESG-MRD-ALL guidelines for
interpreting RQ-PCR MRD data); allele-specific Ig/TR RQ-PCR after van der Velden VHJ et al.,
*Leukemia* 2003;17:1013; result categories as in the MRD terminology of *Hematology Am Soc
Hematol Educ Program* 2021:718. The full text of the 2007 guideline was not re-read for this
module, so every number recalled ([R]) or uncertain ([U]) is a named
:class:`~remission.domain.Rule` here (:data:`PCR_RULES`); results list the rules they rest on,
and each decision carries its reasons.

Steps (per marker, i.e. per patient-specific Ig/TR target):

1. **Plate controls**: standard dilutions must exist; the no-template control (water) must not
   amplify; background (polyclonal buffy-coat DNA) amplification sets the lowest Ct that can
   still count as specific.
2. **Quantitative range (QR)**: the lowest standard dilution, going down from 10⁻¹, at which
   *all* replicates amplify, with replicate spread <= ``qr_max_replicate_spread`` Ct and mean
   Ct at least ``qr_background_gap`` below the lowest background Ct. **Sensitivity**: the lowest
   dilution with >= 1 replicate amplifying at least ``sensitivity_background_gap`` below
   background.
3. **Standard curve** ``Ct = m · log10(f) + b`` fitted (least squares, every replicate) on the
   dilutions within the QR; accepted when ``slope_min <= m <= slope_max`` and
   ``R² >= min_r2``. Efficiency ``E = 10^(-1/m) - 1``.
4. **Follow-up**: ``MRD_raw = 10^((mean Ct_FU - b)/m)`` over the specifically amplified
   replicates; normalised to the control gene (albumin in EuroMRD):
   ``MRD = MRD_raw · 10^(-(Ct_cg,FU - Ct_cg,ref)/m_cg)`` (= ``MRD_raw · 2^ΔCt`` at 100 %
   efficiency: less DNA in the follow-up, higher control-gene Ct, so the raw value is scaled
   *up*; a summary of the guideline that prints the exponent without the minus sign contradicts
   its own ``≈ × 2^ΔCt`` and the physics; we follow the latter). The sensitivity and QR of the
   sample are scaled by the same factor (van der Velden 2007, [R]).
5. **Category**: ``positive`` (all replicates specific, spread within the rule, MRD_raw
   >= QR), ``positive_not_quantifiable`` (specific amplification in >= 1 replicate, otherwise),
   ``negative`` (no specific amplification; reported with the sensitivity reached), or
   ``not_evaluable`` (marker rejected, control gene failed, no wells).
6. **Several markers**: :func:`combine_markers` reports the highest quantifiable value by
   default (van der Velden 2007, [R]); the policy is the ``marker_policy`` rule.

See Also
--------
remission.io.qpcr.read_plate : reads the plate export CSV.
analyze_plate : the whole plate at once; :class:`RqPcrMrd` is its fit-style wrapper.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from remission.domain.mrd import MrdResult
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError

__all__ = [
    "MARKER_POLICIES",
    "PCR_RULES",
    "MarkerQc",
    "PcrCaseLevel",
    "PcrCategory",
    "PcrPlateResult",
    "PcrSampleResult",
    "RqPcrMrd",
    "StandardCurve",
    "analyze_plate",
    "assess_marker",
    "combine_markers",
    "control_gene_factor",
    "efficiency_from_slope",
    "fit_standard_curve",
    "interpret_follow_up",
]

_VDV2007 = "van der Velden VHJ et al., Leukemia 2007;21:604-611 (EuroMRD RQ-PCR guidelines)"
_RECALLED = "recalled, no primary source checked"
_CONTER = ("Conter V et al., Blood 2010;115:3206 (AIEOP-BFM ALL 2000: MRD by >= 2 markers with "
           "sensitivity >= 10^-4)")

#: Every recalled [R] or uncertain [U] number of the EuroMRD interpretation, plus the confirmed
#: [C] ones used, as overridable rules.
PCR_RULES: dict[str, Rule] = rule_set(
    Rule("slope_min", -3.9, "U",
         f"{_VDV2007}: standard-curve acceptance window -3.1 to -3.9 ({_RECALLED})",
         "steepest accepted standard-curve slope (Ct per log10 dilution); -3.9 ≈ 80 % efficiency"),
    Rule("slope_max", -3.1, "U",
         f"{_VDV2007}: standard-curve acceptance window -3.1 to -3.9 ({_RECALLED})",
         "shallowest accepted slope; -3.1 ≈ 110 % efficiency"),
    Rule("min_r2", 0.98, "U", f"{_VDV2007}: 'correlation coefficient >= 0.98' ({_RECALLED})",
         "minimum R² of the standard curve (whether r or R² is meant is not confirmed; "
         "applied to R², the stricter reading)"),
    Rule("min_standard_levels", 3, "U", "remission implementation choice (no published source)",
         "fewest reproducible dilution levels needed to fit and accept a standard curve"),
    Rule("standard_levels", (1e-1, 1e-2, 1e-3, 1e-4, 1e-5), "R",
         f"{_VDV2007}: dilutions 10^-1 to 10^-5 ({_RECALLED})",
         "dilution points expected in the standard series (a missing one is reported, not fatal)"),
    Rule("qr_max_replicate_spread", 1.5, "R", f"{_VDV2007}: QR replicate spread ({_RECALLED})",
         "largest Ct difference between replicates of a dilution (or follow-up) within the QR"),
    Rule("qr_background_gap", 3.0, "U",
         f"{_VDV2007}: QR gap to background, candidates 1.0 vs 3.0 Ct ({_RECALLED})",
         "mean Ct of a QR dilution must be at least this many cycles below the lowest background Ct"),
    Rule("sensitivity_background_gap", 1.0, "U",
         f"{_VDV2007}: sensitivity gap to background ({_RECALLED})",
         "a dilution counts for sensitivity when >= 1 replicate amplifies this many cycles below "
         "the lowest background Ct"),
    Rule("positivity_background_gap", 1.0, "U",
         f"{_VDV2007}: positivity gap to background ({_RECALLED})",
         "a follow-up replicate counts as specific only this many cycles below the lowest "
         "background Ct (same gap as for sensitivity)"),
    Rule("expected_replicates", 3, "R", f"{_VDV2007}: triplicates ({_RECALLED})",
         "replicates expected per follow-up sample and dilution (fewer gives a warning)"),
    Rule("ntc_must_be_negative", True, "R", f"{_VDV2007}: negative controls ({_RECALLED})",
         "any amplification in the no-template control rejects the marker"),
    Rule("control_gene_slope", -3.32, "R",
         f"{_VDV2007}: albumin normalisation, '≈ × 2^ΔCt' ({_RECALLED})",
         "slope of the control-gene (albumin) standard curve used for ΔCt normalisation"),
    Rule("diagnostic_blast_fraction", None, "U",
         f"{_VDV2007}: rescaling by diagnostic blasts is lab-dependent ({_RECALLED})",
         "if set, the undiluted diagnostic DNA is taken to hold this leukaemic fraction and MRD "
         "values are multiplied by it; default: not applied"),
    Rule("marker_policy", "highest_quantifiable", "R",
         f"{_VDV2007}: report the highest of >= 2 markers ({_RECALLED})",
         "how a case-level MRD is chosen from several markers: highest_quantifiable, "
         "lowest_quantifiable or geometric_mean_quantifiable"),
    Rule("stratification_min_markers", 2, "C", _CONTER,
         "independent markers with QR <= stratification_marker_qr needed for stratification"),
    Rule("stratification_marker_qr", 1e-4, "C", _CONTER,
         "quantitative range a marker needs to count for stratification"),
)

MARKER_POLICIES = ("highest_quantifiable", "lowest_quantifiable", "geometric_mean_quantifiable")

PcrCategory = Literal["negative", "positive_not_quantifiable", "positive", "not_evaluable"]


class WellLike(Protocol):
    """What the engine needs of a well (see :class:`remission.io.qpcr.QpcrWell`)."""

    @property
    def well(self) -> str: ...
    @property
    def sample(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def level(self) -> float | None: ...
    @property
    def ct(self) -> float | None: ...


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StandardCurve(_Model):
    """``Ct = slope · log10(level) + intercept`` fitted on the standard dilutions."""

    slope: float
    intercept: float
    r2: float
    efficiency: float
    n_wells: int
    levels: tuple[float, ...]

    def mrd_raw(self, ct: float) -> float:
        """Level of diagnostic DNA whose expected Ct is ``ct``: ``10^((ct - b)/m)``."""
        return float(10.0 ** ((ct - self.intercept) / self.slope))

    def ct_at(self, level: float) -> float:
        return float(self.slope * math.log10(level) + self.intercept)


class MarkerQc(_Model):
    """Quality control of one marker's standard curve and controls on one plate."""

    target: str
    reference_sample: str | None
    accepted: bool
    curve: StandardCurve | None
    quantitative_range: float | None
    sensitivity: float | None
    background_min_ct: float | None
    ntc_amplified: tuple[str, ...]
    levels: tuple[dict[str, Any], ...]
    reasons: tuple[str, ...]


class PcrSampleResult(_Model):
    """One follow-up sample, one marker."""

    sample: str
    target: str
    category: PcrCategory
    cts: tuple[float | None, ...]
    n_specific: int
    mean_ct: float | None
    mrd_raw: float | None
    normalisation_factor: float | None
    control_gene_delta_ct: float | None
    value: float | None
    lod: float | None
    loq: float | None
    reasons: tuple[str, ...]

    def mrd(self, **extra: Any) -> MrdResult | None:
        """As a domain :class:`MrdResult` (``None`` when not evaluable)."""
        if self.category == "not_evaluable":
            return None
        return MrdResult(method="pcr", status=self.category,
                         value=None if self.category == "negative" else self.value,
                         lod=self.lod, loq=self.loq, marker=self.target,
                         details={"reasons": list(self.reasons)}, **extra)


class PcrCaseLevel(_Model):
    """The MRD of one follow-up sample over all its markers (policy ``marker_policy``)."""

    sample: str
    category: PcrCategory
    marker: str | None
    policy: str
    value: float | None
    lod: float | None
    loq: float | None
    markers_evaluable: int
    markers_for_stratification: int
    stratification_markers_ok: bool
    reasons: tuple[str, ...]

    def mrd(self, **extra: Any) -> MrdResult | None:
        if self.category == "not_evaluable":
            return None
        return MrdResult(method="pcr", status=self.category,
                         value=None if self.category == "negative" else self.value,
                         lod=self.lod, loq=self.loq, marker=self.marker,
                         details={"policy": self.policy, "reasons": list(self.reasons)}, **extra)


class PcrPlateResult(_Model):
    markers: tuple[MarkerQc, ...]
    samples: tuple[PcrSampleResult, ...]
    case_level: tuple[PcrCaseLevel, ...]
    control_gene: str | None
    reasons: tuple[str, ...]
    rules: tuple[dict[str, Any], ...]
    rests_on: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- pure pieces ---------------------------------------------------------------------------------


def efficiency_from_slope(slope: float) -> float:
    """PCR efficiency ``E = 10^(-1/slope) - 1`` (1.0 = 100 %, slope -3.32)."""
    return float(10.0 ** (-1.0 / slope) - 1.0)


def fit_standard_curve(levels: Sequence[float], cts: Sequence[float]) -> StandardCurve:
    """Least-squares ``Ct = m · log10(level) + b`` over every (level, Ct) pair.

    Raises ValidationError with fewer than two distinct levels.
    """
    x = np.log10(np.asarray(levels, dtype=float))
    y = np.asarray(cts, dtype=float)
    if x.shape != y.shape or len(np.unique(x)) < 2:
        raise ValidationError("levels must hold at least two distinct dilutions matched to Cts, "
                              f"but was {list(levels)!r}")
    m, b = np.polyfit(x, y, 1)
    resid = y - (m * x + b)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    return StandardCurve(slope=float(m), intercept=float(b), r2=r2,
                         efficiency=efficiency_from_slope(float(m)), n_wells=len(y),
                         levels=tuple(sorted({float(v) for v in levels}, reverse=True)))


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _check_controls(target: str, ntc: Sequence[WellLike], background: Sequence[WellLike],
                    rules: Mapping[str, Rule]) -> tuple[tuple[str, ...], float | None, list[str], bool]:
    """Step 1: the no-template control and the background wells of one marker.

    Returns ``(wells where the NTC amplified, lowest background Ct, reasons, accepted)``; an
    amplifying NTC rejects the marker when the ``ntc_must_be_negative`` rule holds.
    """
    reasons: list[str] = []
    accepted = True
    ntc_amp = tuple(sorted(w.well for w in ntc if w.ct is not None))
    if not ntc:
        reasons.append(f"{target}: no no-template control (ntc) wells; contamination cannot be excluded")
    if ntc_amp and rules["ntc_must_be_negative"].value:
        ntc_txt = ", ".join(f"{w.well} Ct {_fmt(w.ct)}" for w in ntc if w.ct is not None)
        reasons.append(f"{target}: the no-template control amplified ({ntc_txt}): contamination; "
                       "marker rejected (rule ntc_must_be_negative)")
        accepted = False
    bg_amp = [w.ct for w in background if w.ct is not None]
    bg_min = min(bg_amp) if bg_amp else None
    if not background:
        reasons.append(f"{target}: no background (polyclonal DNA) wells; specificity of low "
                       "signals cannot be checked")
    elif bg_min is not None:
        reasons.append(f"{target}: background amplified, lowest Ct {_fmt(bg_min)}")
    return ntc_amp, bg_min, reasons, accepted


def _standard_series(target: str, standards: Sequence[WellLike],
                     rules: Mapping[str, Rule]) -> tuple[dict[float, list[float | None]], list[str]]:
    """The standard wells' Cts grouped by dilution level, and a reason per expected level missing."""
    by_level: dict[float, list[float | None]] = defaultdict(list)
    for w in standards:
        assert w.level is not None
        by_level[float(w.level)].append(w.ct)
    missing = [float(lv) for lv in rules["standard_levels"].value
               if not any(math.isclose(float(lv), have, rel_tol=1e-6) for have in by_level)]
    reasons: list[str] = []
    if missing:
        reasons.append(f"{target}: standard series lacks dilution(s) "
                       + ", ".join(f"{lv:.0e}" for lv in missing) + " (rule standard_levels)")
    return by_level, reasons


def _level_problem(cts: Sequence[float | None], bg_min: float | None,
                   rules: Mapping[str, Rule]) -> tuple[float | None, float | None, str]:
    """Mean Ct, replicate spread and why one dilution is not reproducible ("" when it is).

    A dilution is reproducible when every replicate amplified, the spread is at most
    ``qr_max_replicate_spread`` and the mean Ct is ``qr_background_gap`` below background.
    """
    spread_max = float(rules["qr_max_replicate_spread"].value)
    qr_gap = float(rules["qr_background_gap"].value)
    amp = [c for c in cts if c is not None]
    mean = float(np.mean(amp)) if amp else None
    spread = float(max(amp) - min(amp)) if amp else None
    why = ""
    if len(amp) < len(cts):
        why = f"{len(cts) - len(amp)} of {len(cts)} replicates did not amplify"
    elif spread is not None and spread > spread_max:
        why = f"replicate spread {_fmt(spread)} Ct > {spread_max}"
    elif bg_min is not None and mean is not None and mean > bg_min - qr_gap:
        why = f"mean Ct {_fmt(mean)} is less than {qr_gap} Ct below background {_fmt(bg_min)}"
    return mean, spread, why


def _range_and_sensitivity(
    target: str, by_level: Mapping[float, Sequence[float | None]], bg_min: float | None,
    rules: Mapping[str, Rule],
) -> tuple[float | None, float | None, list[dict[str, Any]], list[str]]:
    """Step 2: quantitative range and sensitivity, walking down the dilutions from 10⁻¹.

    The QR ends at the first dilution that is not reproducible (:func:`_level_problem`); the
    sensitivity is the lowest dilution with one replicate ``sensitivity_background_gap`` below
    background. Returns ``(qr, sensitivity, one row per dilution, reasons)``.
    """
    sens_gap = float(rules["sensitivity_background_gap"].value)
    reasons: list[str] = []
    level_rows: list[dict[str, Any]] = []
    qr: float | None = None
    in_qr = True
    sensitivity: float | None = None
    for level in sorted(by_level, reverse=True):
        cts = list(by_level[level])
        mean, spread, why = _level_problem(cts, bg_min, rules)
        ok = not why
        if in_qr and ok:
            qr = level
        elif in_qr:
            in_qr = False
            reasons.append(f"{target}: dilution {level:.0e} is outside the quantitative range: {why}")
        if any(c is not None and (bg_min is None or c <= bg_min - sens_gap) for c in cts):
            sensitivity = level if sensitivity is None else min(sensitivity, level)
        level_rows.append({"level": level, "cts": cts, "mean_ct": mean, "spread": spread,
                           "in_quantitative_range": in_qr and ok})
    return qr, sensitivity, level_rows, reasons


def _accepted_curve(
    target: str, by_level: Mapping[float, Sequence[float | None]], qr: float | None,
    rules: Mapping[str, Rule],
) -> tuple[StandardCurve | None, bool, list[str]]:
    """Step 3: fit the standard curve on the dilutions within the QR and check its acceptance.

    Returns ``(curve or None, accepted, reasons)``: too few reproducible dilutions
    (``min_standard_levels``), a slope outside ``[slope_min, slope_max]`` or an R² below
    ``min_r2`` reject the marker.
    """
    reasons: list[str] = []
    qr_levels = [lv for lv in by_level if qr is not None and lv >= qr]
    need = int(rules["min_standard_levels"].value)
    if len(qr_levels) < need:
        reasons.append(f"{target}: only {len(qr_levels)} reproducible standard dilution(s) "
                       f"(need {need}, rule min_standard_levels): no standard curve")
        return None, False, reasons
    xs = [lv for lv in qr_levels for c in by_level[lv] if c is not None]
    ys = [c for lv in qr_levels for c in by_level[lv] if c is not None]
    curve = fit_standard_curve(xs, ys)
    accepted = True
    lo, hi = float(rules["slope_min"].value), float(rules["slope_max"].value)
    if not lo <= curve.slope <= hi:
        reasons.append(f"{target}: standard-curve slope {curve.slope:.2f} is outside the accepted "
                       f"range [{lo}, {hi}] (efficiency {curve.efficiency:.0%}): marker rejected")
        accepted = False
    if curve.r2 < float(rules["min_r2"].value):
        reasons.append(f"{target}: standard-curve R² {curve.r2:.3f} < {rules['min_r2'].value}: "
                       "marker rejected")
        accepted = False
    return curve, accepted, reasons


def _curve_summary(target: str, curve: StandardCurve, qr: float | None,
                   sensitivity: float | None) -> str:
    """The reason line of an accepted marker: its curve, efficiency, QR and sensitivity."""
    return (f"{target}: standard curve Ct = {curve.slope:.3f}·log10(f) + "
            f"{curve.intercept:.2f}, R² {curve.r2:.4f}, efficiency "
            f"{curve.efficiency:.0%}; QR {qr:.0e}, sensitivity {sensitivity:.0e}")


def assess_marker(target: str, wells: Iterable[WellLike],
                  rules: Mapping[str, Rule] | None = None) -> MarkerQc:
    """Controls, QR, sensitivity and standard curve of one marker (steps 1-3 of the module).

    Each step is its own function: :func:`_check_controls`, :func:`_standard_series`,
    :func:`_range_and_sensitivity`, :func:`_accepted_curve` and :func:`_curve_summary`; their
    reasons are kept in the order of the steps.
    """
    r = rules or PCR_RULES
    mine = [w for w in wells if w.target == target]
    standards = [w for w in mine if w.kind == "standard"]
    background = [w for w in mine if w.kind == "background"]
    ntc = [w for w in mine if w.kind == "ntc"]

    ntc_amp, bg_min, reasons, controls_ok = _check_controls(target, ntc, background, r)
    ref_counts = Counter(w.sample for w in standards)
    reference = ref_counts.most_common(1)[0][0] if ref_counts else None
    if not standards:
        reasons.append(f"{target}: no standard dilution wells: no standard curve, no MRD value")
        return MarkerQc(target=target, reference_sample=None, accepted=False, curve=None,
                        quantitative_range=None, sensitivity=None, background_min_ct=bg_min,
                        ntc_amplified=ntc_amp, levels=(), reasons=tuple(reasons))

    by_level, series_reasons = _standard_series(target, standards, r)
    qr, sensitivity, level_rows, range_reasons = _range_and_sensitivity(target, by_level, bg_min, r)
    curve, curve_ok, curve_reasons = _accepted_curve(target, by_level, qr, r)
    reasons += series_reasons + range_reasons + curve_reasons
    accepted = controls_ok and curve_ok
    if accepted and curve is not None:
        reasons.append(_curve_summary(target, curve, qr, sensitivity))
    if qr is not None and sensitivity is not None and sensitivity > qr:
        sensitivity = qr
    return MarkerQc(target=target, reference_sample=reference, accepted=accepted,
                    curve=curve, quantitative_range=qr, sensitivity=sensitivity,
                    background_min_ct=bg_min, ntc_amplified=ntc_amp, levels=tuple(level_rows),
                    reasons=tuple(reasons))


def control_gene_factor(
    follow_up_cts: Sequence[float | None],
    reference_cts: Sequence[float | None],
    *,
    slope: float = -3.32,
) -> tuple[float | None, float | None, str]:
    """DNA-quantity normalisation factor ``10^(-ΔCt/m_cg)`` with ``ΔCt = Ct_FU - Ct_ref``.

    Returns ``(factor, delta_ct, reason)``; factor is ``None`` when the follow-up's control gene
    failed (no amplification: the sample is not evaluable), and ``1.0`` when there is nothing to
    normalise against.
    """
    fu = [c for c in follow_up_cts if c is not None]
    ref = [c for c in reference_cts if c is not None]
    if follow_up_cts and not fu:
        return None, None, "control gene did not amplify in the follow-up: not evaluable"
    if not follow_up_cts:
        return 1.0, None, "no control-gene wells for this sample: MRD not normalised for DNA input"
    if not ref:
        return 1.0, None, ("no amplified control-gene wells for the diagnostic reference: MRD "
                           "not normalised for DNA input")
    delta = float(np.mean(fu) - np.mean(ref))
    factor = float(10.0 ** (-delta / slope))
    return factor, delta, (f"control gene ΔCt (follow-up − reference) {delta:+.2f}: MRD and limits "
                           f"× {factor:.3g}")


def interpret_follow_up(
    sample: str,
    qc: MarkerQc,
    cts: Sequence[float | None],
    *,
    factor: float | None = 1.0,
    delta_ct: float | None = None,
    factor_reason: str | None = None,
    rules: Mapping[str, Rule] | None = None,
) -> PcrSampleResult:
    """EuroMRD category and MRD of one follow-up sample for one marker (steps 4-5)."""
    r = rules or PCR_RULES
    target = qc.target
    reasons: list[str] = []
    if factor_reason:
        reasons.append(factor_reason)

    def result(category: PcrCategory, **kw: Any) -> PcrSampleResult:
        base: dict[str, Any] = {"n_specific": 0, "mean_ct": None, "mrd_raw": None, "value": None,
                                "lod": None, "loq": None}
        base.update(kw)
        return PcrSampleResult(sample=sample, target=target, category=category, cts=tuple(cts),
                               normalisation_factor=factor, control_gene_delta_ct=delta_ct,
                               reasons=tuple(reasons), **base)

    if not qc.accepted or qc.curve is None or qc.quantitative_range is None:
        reasons.append(f"marker {target} failed plate quality control: no MRD value")
        return result("not_evaluable")
    if not cts:
        reasons.append(f"no follow-up wells for marker {target}")
        return result("not_evaluable")
    if factor is None:
        return result("not_evaluable")
    expected = int(r["expected_replicates"].value)
    if len(cts) < expected:
        reasons.append(f"{len(cts)} replicate(s), {expected} expected (rule expected_replicates)")
    blast = r["diagnostic_blast_fraction"].value
    scale = factor * (float(blast) if blast is not None else 1.0)
    if blast is not None:
        reasons.append(f"values scaled by the diagnostic blast fraction {blast}")
    sens = qc.sensitivity if qc.sensitivity is not None else qc.quantitative_range
    lod = min(1.0, sens * scale)
    loq = min(1.0, qc.quantitative_range * scale)
    gap = float(r["positivity_background_gap"].value)
    bg = qc.background_min_ct
    specific = [c for c in cts if c is not None and (bg is None or c <= bg - gap)]
    nonspecific = [c for c in cts if c is not None and not (bg is None or c <= bg - gap)]
    if nonspecific:
        reasons.append(f"{len(nonspecific)} replicate(s) amplified within {gap} Ct of background "
                       f"(Ct {_fmt(bg or 0)}): not counted as specific")
    if not specific:
        reasons.append(f"no specific amplification in {len(cts)} replicate(s): negative, "
                       f"sensitivity reached {lod:.1e}")
        return result("negative", lod=lod, loq=loq)
    mean_ct = float(np.mean(specific))
    raw = qc.curve.mrd_raw(mean_ct)
    value = min(1.0, raw * scale)
    spread = max(specific) - min(specific)
    spread_max = float(r["qr_max_replicate_spread"].value)
    why: list[str] = []
    if len(specific) < len(cts):
        why.append(f"only {len(specific)} of {len(cts)} replicates specifically amplified")
    if spread > spread_max:
        why.append(f"replicate spread {spread:.2f} Ct > {spread_max}")
    if raw < qc.quantitative_range * (1 - 1e-12):
        why.append(f"raw level {raw:.2e} is below the quantitative range {qc.quantitative_range:.0e}")
    kw = {"n_specific": len(specific), "mean_ct": mean_ct, "mrd_raw": raw, "value": value,
          "lod": lod, "loq": loq}
    if why:
        reasons.append("positive, not quantifiable: " + "; ".join(why))
        return result("positive_not_quantifiable", **kw)
    reasons.append(f"mean Ct {mean_ct:.2f} of {len(specific)} replicates within the QR: "
                   f"MRD {value:.2e}")
    return result("positive", **kw)


def combine_markers(sample: str, results: Sequence[PcrSampleResult], qcs: Mapping[str, MarkerQc],
                    rules: Mapping[str, Rule] | None = None) -> PcrCaseLevel:
    """Case-level MRD of one sample from its per-marker results (van der Velden 2007, [R])."""
    r = rules or PCR_RULES
    policy = str(r["marker_policy"].value)
    if policy not in MARKER_POLICIES:
        raise ValidationError(f"marker_policy must be one of {', '.join(MARKER_POLICIES)}, "
                              f"but was {policy!r}")
    reasons: list[str] = []
    ev = [x for x in results if x.category != "not_evaluable"]
    bad = [x.target for x in results if x.category == "not_evaluable"]
    if bad:
        reasons.append("not evaluable: " + ", ".join(bad))
    strat_qr = float(r["stratification_marker_qr"].value)
    strat = sum(1 for x in ev if (q := qcs[x.target].quantitative_range) is not None and q <= strat_qr)
    need = int(r["stratification_min_markers"].value)
    strat_ok = strat >= need
    reasons.append(f"{strat} evaluable marker(s) with QR <= {strat_qr:.0e} ({need} needed for "
                   "stratification)")
    common = {"sample": sample, "policy": policy, "markers_evaluable": len(ev),
              "markers_for_stratification": strat, "stratification_markers_ok": strat_ok}
    if not ev:
        reasons.append("no evaluable marker: no MRD value")
        return PcrCaseLevel(category="not_evaluable", marker=None, value=None, lod=None, loq=None,
                            reasons=tuple(reasons), **common)

    def pick(xs: list[PcrSampleResult]) -> tuple[PcrSampleResult, float]:
        vals = [float(x.value or 0.0) for x in xs]
        if policy == "lowest_quantifiable":
            i = int(np.argmin(vals))
            return xs[i], vals[i]
        i = int(np.argmax(vals))
        if policy == "geometric_mean_quantifiable":
            return xs[i], float(np.exp(np.mean(np.log(vals))))
        return xs[i], vals[i]

    pos = [x for x in ev if x.category == "positive"]
    pnq = [x for x in ev if x.category == "positive_not_quantifiable"]
    if pos:
        chosen, value = pick(pos)
        reasons.append(f"positive by {len(pos)} marker(s); {policy}: {chosen.target} "
                       f"{value:.2e}")
        return PcrCaseLevel(category="positive", marker=chosen.target, value=value,
                            lod=chosen.lod, loq=chosen.loq, reasons=tuple(reasons), **common)
    if pnq:
        chosen, value = pick(pnq)
        reasons.append(f"positive below the QR by {len(pnq)} marker(s) ({chosen.target}, "
                       f"< {chosen.loq:.0e})")
        return PcrCaseLevel(category="positive_not_quantifiable", marker=chosen.target,
                            value=value, lod=chosen.lod, loq=chosen.loq, reasons=tuple(reasons),
                            **common)
    worst = max(ev, key=lambda x: x.lod or 0.0)
    reasons.append(f"negative by all {len(ev)} evaluable marker(s); sensitivity reached by every "
                   f"marker: {worst.lod:.1e} ({worst.target})")
    return PcrCaseLevel(category="negative", marker="+".join(x.target for x in ev), value=None,
                        lod=worst.lod, loq=worst.loq, reasons=tuple(reasons), **common)


def analyze_plate(wells: Sequence[WellLike],
                  parameters: Mapping[str, Any] | Mapping[str, Rule] | None = None) -> PcrPlateResult:
    """Interpret a whole plate: every marker, every follow-up sample, and the case level.

    ``parameters``: overrides of :data:`PCR_RULES` by name (values) or an already resolved rule
    mapping.

    See Also
    --------
    RqPcrMrd : fit-style wrapper; remission.io.qpcr.read_plate : the reader.
    """
    rules: dict[str, Rule]
    if parameters and all(isinstance(v, Rule) for v in parameters.values()):
        rules = {k: v for k, v in parameters.items() if isinstance(v, Rule)}
    else:
        rules = resolve(PCR_RULES, parameters)
    if rules["marker_policy"].value not in MARKER_POLICIES:
        raise ValidationError(f"marker_policy must be one of {', '.join(MARKER_POLICIES)}, but was "
                              f"{rules['marker_policy'].value!r}")
    cg_slope = rules["control_gene_slope"].value
    if not isinstance(cg_slope, (int, float)) or not cg_slope < 0:
        raise ValidationError(f"control_gene_slope must be a negative number, but was {cg_slope!r}")
    plate_reasons: list[str] = []
    cg_wells = [w for w in wells if w.kind == "control_gene"]
    cg_targets = sorted({w.target for w in cg_wells})
    control_gene = cg_targets[0] if cg_targets else None
    if len(cg_targets) > 1:
        plate_reasons.append(f"several control genes ({', '.join(cg_targets)}); using {control_gene}")
    if control_gene is None:
        plate_reasons.append("no control gene on the plate: MRD not normalised for DNA input")
    markers = sorted({w.target for w in wells if w.kind in ("standard", "follow_up", "ntc",
                                                           "background")})
    qcs = {m: assess_marker(m, wells, rules) for m in markers}
    fu_samples = sorted({w.sample for w in wells if w.kind == "follow_up"})
    if not fu_samples:
        plate_reasons.append("no follow-up wells on the plate")
    samples: list[PcrSampleResult] = []
    case_level: list[PcrCaseLevel] = []
    for s in fu_samples:
        per_marker = []
        for m in markers:
            qc = qcs[m]
            fu_cts = [w.ct for w in wells if w.kind == "follow_up" and w.sample == s and w.target == m]
            if control_gene is None:
                factor: float | None = 1.0
                delta: float | None = None
                why: str | None = None
            else:
                cg_fu = [w.ct for w in cg_wells if w.target == control_gene and w.sample == s]
                cg_ref = [w.ct for w in cg_wells
                          if w.target == control_gene and w.sample == qc.reference_sample]
                factor, delta, why = control_gene_factor(cg_fu, cg_ref, slope=float(cg_slope))
            per_marker.append(interpret_follow_up(s, qc, fu_cts, factor=factor, delta_ct=delta,
                                                  factor_reason=why, rules=rules))
        samples.extend(per_marker)
        case_level.append(combine_markers(s, per_marker, qcs, rules))
    return PcrPlateResult(markers=tuple(qcs.values()), samples=tuple(samples),
                          case_level=tuple(case_level), control_gene=control_gene,
                          reasons=tuple(plate_reasons),
                          rules=tuple(x.as_dict() for x in rules.values()),
                          rests_on=tuple(rests_on(rules.values())))


class RqPcrMrd:
    """Fit-style wrapper of :func:`analyze_plate`: ``RqPcrMrd(marker_policy=...).fit(wells)``.

    Fitted attributes: ``result_`` (:class:`PcrPlateResult`), ``curves_`` (target -> curve).
    """

    def __init__(self, **parameters: Any) -> None:
        self.rules = resolve(PCR_RULES, parameters)

    def fit(self, wells: Sequence[WellLike]) -> RqPcrMrd:
        self.result_ = analyze_plate(wells, self.rules)
        self.curves_ = {m.target: m.curve for m in self.result_.markers}
        return self

    def mrd(self, sample: str) -> MrdResult | None:
        """Case-level MRD of one follow-up sample."""
        for c in self.result_.case_level:
            if c.sample == sample:
                return c.mrd(sample_id=sample)
        raise ValidationError(f"sample must be a follow-up sample of the plate, but was {sample!r}")
