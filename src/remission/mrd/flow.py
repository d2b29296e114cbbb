"""Flow-cytometric B-ALL MRD: from events to an :class:`~remission.domain.MrdResult`.

Two ways to find the leukaemic events of a tube:

- **gating** (:func:`mrd_from_gates`): a leukaemic gate and a denominator gate evaluated by the
  Gating-ML evaluator (:mod:`remission.mrd.gating`);
- **automated "different from normal"** (:class:`DifferentFromNormal`): a Gaussian-mixture
  model of *normal* B-cell-precursor maturation, learned from a laboratory's normal or
  regenerating marrow tubes (:func:`build_reference`, a versioned :class:`ReferenceModel` that
  records panel, instrument, transform and the tubes' checksums), is an explicit input: there is
  no built-in model. Within a B-lineage gate each event gets an outlier score (negative
  log-density under the normal model); events beyond a high quantile of the reference scores
  seed a candidate population, which is then refined by a two-class EM (fixed normal mixture vs
  one free Gaussian for the leukaemia). The approach is the open analogue of EuroFlow AG&I /
  the GMM method of Reiter et al. (Cytometry A 2019;95:966), not a re-implementation of either.
  A reference marked ``demo`` (synthetic, not from a laboratory) makes every result built on it
  say "illustrative (demo reference)" in its status details.

Gates come from the tube's own populations (:func:`derive_gates`): the side-scatter limit of
the lymphoid/blast region is the density valley between the lymphoid/blast mode and the
granulocyte mode (log SSC), and each B-lineage marker's positivity cut is the valley between its
negative and positive populations inside that region; a fixed, named fallback is used only when
the density has no such valley, and the rule that chose each gate is part of the result.

The B-lineage gate is CD19-based or CD19-independent (CD19 or CD22 or CD24 where the panel has
them): after CD19-directed therapy (CD19 CAR-T, blinatumomab) CD19 may be lost, so
:func:`choose_strategy` (rule ``cd19_independent_after_cd19_therapy``) switches to the
CD19-independent gate when the caller passes the dates of such therapy before the sample.

MRD = leukaemic events / evaluable nucleated events (denominator named in the output). LoD and
LoQ come from event counts (20 and 50 events by default; ICCS rare-event guidance, tagged R):
``lod = 20 / N``, ``loq = 50 / N``; status ``negative`` (< LoD events), ``positive_not_
quantifiable`` (LoD <= n < LoQ) or ``positive``; a tube with no evaluable event is
``not_evaluable`` with the reason, never negative. A
:class:`~remission.errors.LowSensitivityWarning` is issued when ``lod`` is above the sensitivity
asked (default 1e-4).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from remission.domain import MrdResult, Rule, resolve, rests_on, rule_set
from remission.errors import FlowReferenceError, LowSensitivityWarning, ValidationError

__all__ = [
    "FLOW_RULES",
    "REFERENCE_SCHEMA",
    "DifferentFromNormal",
    "FlowMrd",
    "GaussianMixture",
    "PreparedTube",
    "ReferenceModel",
    "TubeGates",
    "build_reference",
    "choose_strategy",
    "derive_gates",
    "flow_mrd_status",
    "mrd_from_gates",
    "mrd_from_labels",
    "prepare_tube",
]

_ICCS = "ICCS rare-event guidance (cytometry.org Q&A 258): LOD 20 clustered events, LLOQ 50 events"

FLOW_RULES = rule_set(
    Rule("lod_events", 20, "R", _ICCS, "leukaemic events needed to call flow MRD detectable (LoD)"),
    Rule("loq_events", 50, "R", _ICCS, "leukaemic events needed to quantify flow MRD (LLOQ)"),
    Rule("target_sensitivity", 1e-4, "R", "MRD terminology consensus (HemaSphere 2022, PMC8824253: minimum "
         "sensitivity 0.01 %)",
         "MRD sensitivity asked for; fewer denominator events than lod_events/target_sensitivity "
         "raise LowSensitivityWarning"),
    Rule("cd19_independent_after_cd19_therapy", True, "R",
         "Cherian et al., Cytometry B 2018;94:112 (flow MRD after anti-CD19 therapy); EuroFlow "
         "CD19-independent BCP-ALL MRD panels, HemaSphere 2025, doi 10.1002/hem3.70125",
         "after CD19-directed therapy (CD19 CAR-T, blinatumomab) before the sample, the B-lineage "
         "gate must not rest on CD19 alone (strategy 'auto' becomes 'cd19_independent')"),
    Rule("logicle_T", 262144.0, "U", "remission default (18-bit instruments)", "logicle top of scale"),
    Rule("logicle_W", 0.5, "U", "remission default", "logicle linearisation width (decades)"),
    Rule("logicle_M", 4.5, "U", "remission default", "logicle decades"),
    Rule("positive_threshold", 0.3, "U", "remission default (logicle scale); tune per laboratory",
         "fallback logicle cut for a lineage marker whose density in the scatter gate has no "
         "negative/positive valley"),
    Rule("dye_threshold", 0.35, "U", "remission default (logicle scale); tune per laboratory",
         "nucleic-acid dye (SYTO/DRAQ5) value above which an event is nucleated"),
    Rule("fsc_min", 20000.0, "U", "remission default (linear FSC units); tune per instrument",
         "FSC below which events are debris"),
    Rule("density_peak_min", 0.05, "U", "remission method choice",
         "a density peak counts as a population when it is at least this fraction of the highest "
         "peak (scatter and lineage gates)"),
    Rule("ssc_tail_fraction", 0.02, "U", "remission method choice",
         "without a granulocyte mode, the side-scatter limit is where the density above the "
         "lymphoid/blast mode falls below this fraction of that mode's height"),
    Rule("outlier_quantile", 0.9999, "U", "remission method choice",
         "quantile of normal-reference outlier scores that seeds the candidate population"),
    Rule("refine_quantile", 0.99, "U", "remission method choice",
         "events below this quantile of normal scores are never called leukaemic"),
    Rule("min_cluster_events", 10, "U", "remission method choice",
         "candidate events needed before a leukaemic population is modelled"),
    Rule("gmm_components", 8, "U", "remission method choice", "components of the normal B-cell mixture"),
)

#: B-lineage / maturation markers used as features when the panel has them
FEATURE_MARKERS = ("CD19", "CD10", "CD34", "CD20", "CD45", "CD38", "CD22", "CD24", "CD58", "CD81",
                   "CD66c", "CD73", "CD304", "CD123", "HLADR")
DYE_MARKERS = ("SYTO41", "SYTO16", "SYTO", "SY41", "DRAQ5", "DAPI", "HOECHST")
#: version of the reference-model file format
REFERENCE_SCHEMA = "remission.flow_reference/1"
#: events used to estimate a density for a gate (every k-th event; deterministic)
_DENSITY_EVENTS = 200_000

Strategy = Literal["auto", "cd19", "cd19_independent"]


def _canon(label: str) -> str:
    s = label.upper().replace(" ", "").replace("-", "").replace("_", "")
    for m in (*FEATURE_MARKERS, *DYE_MARKERS):
        mu = m.upper()
        if s == mu or (s.startswith(mu) and not s[len(mu):len(mu) + 1].isdigit()):
            return m if m not in ("SYTO16", "SY41", "SYTO") else "SYTO41"
    return s


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class FlowMrd:
    """One flow MRD measurement with everything the report and the JSON need.

    ``f1``/``precision``/``recall`` are set only in validation mode (synthetic truth labels);
    ``illustrative`` is true when the result rests on a demo reference; ``reason`` says why a
    ``not_evaluable`` tube could not be evaluated; ``gates`` lists the rule behind each gate.
    """

    status: str
    mrd: float | None
    mrd_estimate: float | None
    lod: float | None
    loq: float | None
    events_total: int
    events_denominator: int
    events_leukemic: int
    method: Literal["gating", "auto"]
    denominator: str
    leukemic: str
    strategy: str | None = None
    f1: float | None = None
    precision: float | None = None
    recall: float | None = None
    markers_used: tuple[str, ...] = ()
    reference: str | None = None
    illustrative: bool = False
    reason: str | None = None
    gates: tuple[str, ...] = ()
    cd19_negative_population: bool | None = None
    phenotype: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    rules: dict[str, Rule] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            "mrd", "status", "lod", "loq", "events_total", "events_denominator", "events_leukemic",
            "method", "denominator", "leukemic", "strategy", "f1", "precision", "recall", "reference",
            "illustrative", "reason", "cd19_negative_population", "mrd_estimate")}
        d["gates"] = list(self.gates)
        d["markers_used"] = list(self.markers_used)
        d["phenotype"] = dict(self.phenotype)
        d["warnings"] = list(self.warnings)
        d["rests_on"] = rests_on(self.rules.values())
        return d

    def to_mrd_result(self, **kw: Any) -> MrdResult:
        """As the common :class:`MrdResult` (method ``flow``).

        ``details["illustrative"]`` and ``details["reference"]`` carry the demo-reference label
        on the value itself; ``details["reason"]`` the cause of ``not_evaluable``.
        """
        details: dict[str, Any] = {
            "events_total": self.events_total, "events_denominator": self.events_denominator,
            "events_leukemic": self.events_leukemic, "analysis": self.method,
            "denominator": self.denominator, "strategy": self.strategy}
        if self.reference is not None:
            details["reference"] = self.reference
        if self.illustrative:
            details["illustrative"] = True
        if self.reason is not None:
            details["reason"] = self.reason
        return MrdResult(method="flow", status=self.status,
                         value=self.mrd, lod=self.lod, loq=self.loq,
                         marker=self.leukemic, details=details, **kw)


def flow_mrd_status(n_leukemic: int, n_denominator: int,
                    rules: Mapping[str, Rule] | None = None) -> tuple[str, float | None, float | None]:
    """(status, lod, loq) from event counts: ``lod = lod_events / N``, ``loq = loq_events / N``.

    ``N = 0`` (no evaluable event) is ``not_evaluable`` with no limits: never negative.
    """
    r = rules or FLOW_RULES
    if n_leukemic < 0 or n_denominator < 0 or n_leukemic > n_denominator:
        raise ValidationError(f"event counts must satisfy 0 <= leukemic <= denominator, but were "
                              f"{n_leukemic!r} and {n_denominator!r}")
    if n_denominator == 0:
        return "not_evaluable", None, None
    lod = min(1.0, r["lod_events"].value / n_denominator)
    loq = min(1.0, r["loq_events"].value / n_denominator)
    if n_leukemic < r["lod_events"].value:
        return "negative", lod, loq
    if n_leukemic < r["loq_events"].value:
        return "positive_not_quantifiable", lod, loq
    return "positive", lod, loq


def mrd_from_labels(leukemic: np.ndarray, denominator: np.ndarray, *, method: Literal["gating", "auto"],
                    denominator_name: str, leukemic_name: str, truth: np.ndarray | None = None,
                    rules: Mapping[str, Rule] | None = None, **extra: Any) -> FlowMrd:
    """MRD from per-event boolean labels (leukaemic events are counted within the denominator).

    ``truth`` (validation mode only) adds F1, precision and recall against the labels.
    """
    r = dict(rules or FLOW_RULES)
    den = np.asarray(denominator, dtype=bool)
    leuk = np.asarray(leukemic, dtype=bool) & den
    n_den, n_leuk = int(den.sum()), int(leuk.sum())
    status, lod, loq = flow_mrd_status(n_leuk, n_den, r)
    warn_list = list(extra.pop("warnings", ()))
    reason = extra.pop("reason", None)
    if status == "not_evaluable":
        reason = reason or (f"no evaluable events: none of the {den.size} events is in the denominator "
                            f"({denominator_name})")
        return FlowMrd(status=status, mrd=None, mrd_estimate=None, lod=None, loq=None, events_total=int(den.size),
                       events_denominator=0, events_leukemic=0, method=method, denominator=denominator_name,
                       leukemic=leukemic_name, reason=reason, warnings=tuple(warn_list), rules=r, **extra)
    est = n_leuk / n_den
    target = r["target_sensitivity"].value
    if lod is not None and lod > target:
        msg = (f"{n_den} evaluable events give LoD {lod:.2e}, above the sensitivity asked ({target:g}); "
               f"acquire >= {int(np.ceil(r['lod_events'].value / target))} nucleated cells")
        warnings.warn(msg, LowSensitivityWarning, stacklevel=2)
        warn_list.append(msg)
    f1 = prec = rec = None
    if truth is not None:
        t = np.asarray(truth, dtype=bool) & den
        tp = int((t & leuk).sum())
        fp, fn = n_leuk - tp, int(t.sum()) - tp
        if tp + fp + fn:
            f1 = 2 * tp / (2 * tp + fp + fn)
        prec = tp / (tp + fp) if tp + fp else None
        rec = tp / (tp + fn) if tp + fn else None
    return FlowMrd(status=status, mrd=None if status == "negative" else est, mrd_estimate=est, lod=lod, loq=loq,
                   events_total=int(den.size), events_denominator=n_den, events_leukemic=n_leuk, method=method,
                   denominator=denominator_name, leukemic=leukemic_name, f1=f1, precision=prec, recall=rec,
                   reason=reason, warnings=tuple(warn_list), rules=r, **extra)


def mrd_from_gates(memberships: Mapping[str, np.ndarray], leukemic_gate: str, denominator_gate: str, *,
                   truth: np.ndarray | None = None, rules: Mapping[str, Any] | None = None) -> FlowMrd:
    """MRD from evaluated gates (:func:`remission.mrd.gating.evaluate_gates`): leukaemic ∩ denominator."""
    for g in (leukemic_gate, denominator_gate):
        if g not in memberships:
            raise ValidationError(f"gate must be one of {sorted(memberships)}, but was {g!r}")
    full = resolve(FLOW_RULES, dict(rules or {}))
    r = {k: full[k] for k in ("lod_events", "loq_events", "target_sensitivity")}
    reason = (f"no evaluable events: the denominator gate {denominator_gate!r} holds none of the "
              f"{memberships[denominator_gate].size} events")
    return mrd_from_labels(memberships[leukemic_gate], memberships[denominator_gate], method="gating",
                           denominator_name=denominator_gate, leukemic_name=leukemic_gate, truth=truth, rules=r,
                           reason=reason if not np.asarray(memberships[denominator_gate]).any() else None)


def choose_strategy(requested: Strategy, cd19_directed_before: Sequence[str] = (),
                    rules: Mapping[str, Rule] | None = None) -> tuple[Strategy, str | None]:
    """The B-lineage strategy for a sample, and why it was switched (or ``None``).

    ``cd19_directed_before``: the CD19-directed therapies (CD19 CAR-T infusion, blinatumomab,
    ...) the patient had on or before the sample date, described with their dates - facts the
    caller takes from the case (:meth:`remission.domain.Case.cd19_directed_before`). Rule
    ``cd19_independent_after_cd19_therapy``: when ``requested`` is ``auto`` and there is such
    therapy, the strategy is ``cd19_independent``.
    """
    r = rules or FLOW_RULES
    if requested not in ("auto", "cd19", "cd19_independent"):
        raise ValidationError(f"strategy must be 'auto', 'cd19' or 'cd19_independent', but was {requested!r}")
    if requested != "auto" or not cd19_directed_before or not r["cd19_independent_after_cd19_therapy"].value:
        return requested, None
    return "cd19_independent", (f"CD19-independent B-lineage strategy because of {'; '.join(cd19_directed_before)} "
                                "(rule cd19_independent_after_cd19_therapy)")


# --------------------------------------------------------------------- tube preparation


class PreparedTube:
    """A tube with markers resolved to canonical names, compensated and logicle-transformed on
    demand, column by column and only for the events asked for.

    ``col(name)`` gives a whole column (scatter linear, fluorescence compensated with the file's
    spillover and on the logicle scale), cached; ``col_at(name, rows)`` the same values for some
    events only, which is how the B-lineage features of a 5-million-event tube are computed for
    the few per cent of events inside the B-lineage gate. ``truth`` is read from a ``TRUTH``
    channel only in validation mode; a truth channel is never a feature. ``instrument`` is the
    file's ``$CYT``; ``top`` the channel range (``$PnR``) of FSC/SSC.
    """

    def __init__(self, raw: np.ndarray, columns: dict[str, int], *, fluor: Sequence[int] = (),
                 spill_columns: Sequence[int] = (), unmix: np.ndarray | None = None,
                 logicle: tuple[float, float, float] = (262144.0, 0.5, 4.5), truth: np.ndarray | None = None,
                 path: str | None = None, instrument: str | None = None,
                 top: Mapping[str, float] | None = None) -> None:
        self.raw = raw
        self.columns = dict(columns)
        self.fluor = frozenset(fluor)
        self.spill_columns = list(spill_columns)
        self.unmix = unmix  # inv(spill): compensated[:, j] = raw[:, spill_columns] @ unmix[:, j]
        self.logicle_params = logicle
        self.truth = truth
        self.path = path
        self.instrument = instrument
        self.top = dict(top or {})
        self._cache: dict[str, np.ndarray] = {}

    @property
    def compensated(self) -> bool:
        return self.unmix is not None

    @property
    def n_events(self) -> int:
        return int(self.raw.shape[0])

    @property
    def panel(self) -> tuple[str, ...]:
        """Canonical B-lineage/maturation markers and nucleic-acid dye of the tube, sorted."""
        return tuple(sorted(m for m in self.columns if m in FEATURE_MARKERS or m in DYE_MARKERS))

    def _values(self, name: str, rows: np.ndarray | slice) -> np.ndarray:
        from remission.mrd.cytometry import logicle

        i = self.columns[name]
        if self.unmix is not None and i in self.spill_columns:
            # compensated column j = raw @ wj, wj holding inv(spill)[:, j] in the spillover channels' rows
            wj = np.zeros((self.raw.shape[1], 1), dtype=self.raw.dtype)
            wj[self.spill_columns, 0] = self.unmix[:, self.spill_columns.index(i)]
            v = _rows_matmul(self.raw[rows], wj)[:, 0]
        else:
            v = np.array(self.raw[rows, i], dtype=np.float32)
        if i in self.fluor:
            t, w, m = self.logicle_params
            v = logicle(v, T=t, W=w, M=m, A=0.0)
        return v

    def col(self, name: str) -> np.ndarray:
        """Whole column (cached)."""
        if name not in self._cache:
            self._cache[name] = self._values(name, slice(None))
        return self._cache[name]

    def col_at(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Values of a column at ``rows`` (integer indices) without computing the whole column."""
        if name in self._cache:
            return self._cache[name][rows]
        return self._values(name, np.asarray(rows))

    def cols_at(self, names: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """``(len(rows), len(names))`` values at ``rows``: the rows are gathered once and all the
        compensated columns come from one blocked matrix product."""
        rows = np.asarray(rows)
        out = np.empty((rows.size, len(names)), dtype=np.float32)
        comp = [k for k, nm in enumerate(names) if nm not in self._cache and self.unmix is not None
                and self.columns[nm] in self.spill_columns]
        if comp and self.unmix is not None:
            w = np.zeros((self.raw.shape[1], len(comp)), dtype=self.raw.dtype)
            for c, k in enumerate(comp):
                w[self.spill_columns, c] = self.unmix[:, self.spill_columns.index(self.columns[names[k]])]
            block = _rows_matmul(self.raw[rows], w)
            t, wl, m = self.logicle_params
            from remission.mrd.cytometry import logicle

            for c, k in enumerate(comp):
                v = block[:, c]
                out[:, k] = logicle(v, T=t, W=wl, M=m, A=0.0) if self.columns[names[k]] in self.fluor else v
        for k, nm in enumerate(names):
            if k not in comp:
                out[:, k] = self.col_at(nm, rows)
        return out

    def set_col(self, name: str, values: np.ndarray) -> None:
        """Replace a column's values (what-if analyses and tests)."""
        self._cache[name] = np.asarray(values, dtype=np.float32)


def prepare_tube(sample: Any, *, compensate: bool | None = None, validation: bool = False,
                 rules: Mapping[str, Rule] | None = None) -> PreparedTube:
    """Resolve the channels of an :class:`~remission.io.fcs.FcsData` to canonical markers and
    set up compensation (the file's spillover) and the logicle scale for its fluorescence
    channels; values are computed on demand (:class:`PreparedTube`).

    ``compensate=None`` compensates when the file has a spillover matrix; ``True`` requires one
    (``FcsFormatError`` otherwise); ``False`` never compensates. ``validation=True`` reads the
    synthetic ``TRUTH`` channel (validation of the method only; never in a clinical report).
    """
    from remission.mrd.cytometry import compensate_sample

    r = rules or FLOW_RULES
    ev = sample.events
    truth = None
    columns: dict[str, int] = {}
    fluor: list[int] = []
    for i, (c, m) in enumerate(zip(sample.channels, sample.markers, strict=True)):
        cu, mu = c.upper(), (m or "").upper()
        if cu == "TRUTH" or mu.startswith("TRUTH"):
            if validation:
                truth = ev[:, i] > 0.5
            continue
        if cu.startswith("FSC") and cu.endswith(("-A", "A")) and "FSC" not in columns:
            columns["FSC"] = i
            continue
        if cu.startswith("SSC") and cu.endswith(("-A", "A")) and "SSC" not in columns:
            columns["SSC"] = i
            continue
        if cu.startswith(("FSC", "SSC", "TIME")):
            continue
        if m:
            columns.setdefault(_canon(m), i)
        if sample.spill is None or c in sample.spill.channels:
            fluor.append(i)
    for sc in ("FSC", "SSC"):  # files with only -H scatter
        if sc not in columns:
            for i, c in enumerate(sample.channels):
                if c.upper().startswith(sc):
                    columns[sc] = i
                    break
    if validation and truth is None:
        raise ValidationError("validation mode needs a TRUTH channel (synthetic tubes), but the file has none")
    spill_cols: list[int] = []
    unmix = None
    if compensate or (compensate is None and sample.spill is not None):
        if sample.spill is None:
            compensate_sample(sample)  # raises FcsFormatError naming the file
        spill_cols = [sample.index(c) for c in sample.spill.channels]
        unmix = np.linalg.inv(np.asarray(sample.spill.matrix, dtype=np.float64))
    meta = getattr(sample, "metadata", {}) or {}
    top: dict[str, float] = {}
    for sc in ("FSC", "SSC"):
        if sc in columns:
            rng = str(meta.get(f"p{columns[sc] + 1}r", "")).strip()
            if rng.replace(".", "", 1).isdigit():
                top[sc] = float(rng)
    cyt = meta.get("cyt")
    raw = ev if ev.dtype == np.float32 else ev.astype(np.float32)
    return PreparedTube(raw, columns, fluor=fluor, spill_columns=spill_cols, unmix=unmix,
                        logicle=(r["logicle_T"].value, r["logicle_W"].value, r["logicle_M"].value),
                        truth=truth, path=sample.path,
                        instrument=cyt.strip() if isinstance(cyt, str) and cyt.strip() else None, top=top)


# ------------------------------------------------------------------- data-derived gates


@dataclass(frozen=True)
class TubeGates:
    """Denominator and B-lineage masks of one tube, with the rule that chose each gate."""

    denominator: np.ndarray
    denominator_name: str
    b_lineage: np.ndarray
    strategy: str
    rules_shown: tuple[str, ...]


def _stride(values: np.ndarray) -> np.ndarray:
    """Every k-th value so that at most ``_DENSITY_EVENTS`` remain (deterministic)."""
    k = max(1, values.size // _DENSITY_EVENTS)
    return values[::k]


def _scatter_gate(tube: PreparedTube, den: np.ndarray, r: Mapping[str, Rule]) -> tuple[np.ndarray, str]:
    """SSC limit of the lymphoid/blast region from the density of log10 SSC of nucleated events.

    The lymphoid/blast mode is the lowest-SSC density peak; the granulocyte mode the highest
    peak above it (events at the top of the SSC scale, saturated granulocytes, count as a peak
    there). The limit is the density valley between the two; without a granulocyte mode, where
    the density above the lymphoid/blast mode falls below ``ssc_tail_fraction`` of its height.
    """
    from remission.mrd.cytometry import density_modes, valley

    ssc = tube.col("SSC")
    v = _stride(ssc[den]).astype(np.float64)
    if v.size < 50:
        return np.zeros(tube.n_events, dtype=bool), "SSC: too few nucleated events to find a lymphoid/blast mode"
    top = tube.top.get("SSC") or float(v.max())
    saturated = v >= 0.999 * top
    x = np.log10(np.clip(v[~saturated], 1.0, None))
    hi = float(np.log10(top))
    centres, dens, peaks = density_modes(x, value_range=(float(np.quantile(x, 0.001)), hi),
                                         min_height=r["density_peak_min"].value)
    if not peaks:
        return np.zeros(tube.n_events, dtype=bool), "SSC: no lymphoid/blast mode in the side-scatter density"
    low = peaks[0]
    above = peaks[1:]
    sat_share = float(saturated.mean())
    if above or sat_share >= r["density_peak_min"].value:
        gran = max(above, key=lambda i: dens[i]) if above else len(dens) - 1
        cut_i = valley(dens, low, gran)
        cut = float(10 ** centres[cut_i])
        gran_txt = (f"granulocyte mode at SSC {10 ** centres[gran]:,.0f}" if above else
                    f"saturated granulocytes at the top of scale ({sat_share:.0%} of nucleated events)")
        why = (f"SSC <= {cut:,.0f}: density valley between the lymphoid/blast mode at SSC "
               f"{10 ** centres[low]:,.0f} and the {gran_txt}")
    else:
        frac = r["ssc_tail_fraction"].value
        tail = np.flatnonzero(dens[low:] < frac * dens[low])
        cut_i = low + int(tail[0]) if tail.size else len(dens) - 1
        cut = float(10 ** centres[cut_i])
        why = (f"SSC <= {cut:,.0f}: no granulocyte mode; where the density above the lymphoid/blast mode "
               f"(SSC {10 ** centres[low]:,.0f}) falls below {frac:g} of its height (rule ssc_tail_fraction)")
    return ssc <= cut, why


def _positive_cut(values: np.ndarray, marker: str, r: Mapping[str, Rule]) -> tuple[float, str]:
    """Positivity cut of a lineage marker: the valley between its negative and positive
    populations within the scatter region, else the fixed fallback ``positive_threshold``."""
    from remission.mrd.cytometry import density_modes, valley

    v = _stride(values).astype(np.float64)
    centres, dens, peaks = density_modes(v, min_height=r["density_peak_min"].value)
    if len(peaks) >= 2:
        i = valley(dens, peaks[0], peaks[-1])
        cut = float(centres[i])
        return cut, (f"{marker} >= {cut:.2f}: density valley between the {marker}- (mode {centres[peaks[0]]:.2f}) "
                     f"and {marker}+ (mode {centres[peaks[-1]]:.2f}) populations in the scatter gate")
    cut = float(r["positive_threshold"].value)
    return cut, (f"{marker} >= {cut:.2f}: no {marker}-/{marker}+ valley in the scatter gate; fixed fallback "
                 "(rule positive_threshold)")


def derive_gates(tube: PreparedTube, strategy: Strategy, rules: Mapping[str, Rule] | None = None) -> TubeGates:
    """Denominator (FSC/dye) and B-lineage gates of a tube, derived from its own populations.

    Denominator: FSC >= ``fsc_min`` and nucleic-acid dye >= ``dye_threshold`` where the panel
    has a dye. B lineage: within the lymphoid/blast scatter region (see :func:`_scatter_gate`),
    CD19+ (strategy ``cd19``) or CD19+ or CD22+ or CD24+ (``cd19_independent``; CD10/CD34 when
    the panel has no other B-lineage marker), each cut at its own density valley.
    """
    r = rules or FLOW_RULES
    n = tube.n_events
    den = np.ones(n, dtype=bool)
    parts = []
    if "FSC" in tube.columns:
        den &= tube.col("FSC") >= r["fsc_min"].value
        parts.append(f"FSC >= {r['fsc_min'].value:g}")
    dye = next((d for d in DYE_MARKERS if d in tube.columns), None)
    if dye is not None:
        den &= tube.col(dye) >= r["dye_threshold"].value
        parts.append(f"{dye}+ (nucleated)")
    den_name = " and ".join(parts) if parts else "all events"
    shown: list[str] = []
    region = den.copy()
    if "SSC" in tube.columns and den.any():
        sc, why = _scatter_gate(tube, den, r)
        region &= sc
        shown.append(why)
    has = [m for m in ("CD19", "CD22", "CD24") if m in tube.columns]
    if strategy == "auto":
        strategy = "cd19" if has == ["CD19"] else "cd19_independent"
    if strategy == "cd19":
        if "CD19" not in tube.columns:
            raise ValidationError("strategy must be 'cd19_independent' for a panel without CD19, but was 'cd19'")
        alt = ["CD19"]
        desc = "CD19-based B-lineage gate (CD19+ within lymphoid/blast scatter)"
    else:
        alt = list(has)
        if not [m for m in alt if m != "CD19"]:
            alt += [m for m in ("CD10", "CD34") if m in tube.columns]
        if not alt:
            raise ValidationError("panel must have a B-lineage marker (CD19, CD22, CD24, CD10 or CD34), "
                                  f"but had {sorted(tube.columns)!r}")
        desc = (f"CD19-independent B-lineage gate ({' or '.join(a + '+' for a in alt)} within "
                "lymphoid/blast scatter)")
        strategy = "cd19_independent"
    lin = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(region)
    if rows.size:
        vals = tube.cols_at(alt, rows)
        for k, m in enumerate(alt):
            cut, why = _positive_cut(vals[:, k], m, r)
            lin[rows] |= vals[:, k] >= cut
            shown.append(why)
    return TubeGates(den, den_name, lin, f"{strategy}: {desc}", tuple(shown))


# ---------------------------------------------------------------------- gaussian mixture


_BLOCK = 4096  # rows per block: small products stay single-threaded in OpenBLAS


def _rows_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for tall ``a`` (n x d) and small ``b``, in row blocks: multi-threaded BLAS on
    tall-thin products is slower, and erratic on a busy machine, than one core's blocks."""
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for s0 in range(0, a.shape[0], _BLOCK):
        np.matmul(a[s0:s0 + _BLOCK], b, out=out[s0:s0 + _BLOCK])
    return out


def _gram(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``a.T @ b`` (``b`` defaults to ``a``) summed over row blocks (see :func:`_rows_matmul`)."""
    b = a if b is None else b
    out = np.zeros((a.shape[1], b.shape[1]), dtype=np.result_type(a, b))
    for s0 in range(0, a.shape[0], _BLOCK):
        out += a[s0:s0 + _BLOCK].T @ b[s0:s0 + _BLOCK]
    return out


class GaussianMixture:
    """Full-covariance Gaussian mixture fitted by EM (k-means++ start), numpy only.

    ``fit(X)`` returns ``self``; ``logpdf(X)`` gives per-row log-density.
    """

    def __init__(self, n_components: int = 8, *, max_iter: int = 40, tol: float = 1e-4,
                 reg: float = 1e-4, seed: int = 0) -> None:
        if n_components < 1:
            raise ValidationError(f"n_components must be >= 1, but was {n_components!r}")
        self.n_components = n_components
        self.max_iter, self.tol, self.reg, self.seed = max_iter, tol, reg, seed

    @classmethod
    def from_params(cls, weights: np.ndarray, means: np.ndarray, chol: np.ndarray) -> GaussianMixture:
        """A fitted mixture from stored parameters (weights, means, Cholesky factors of covariances)."""
        g = cls(len(weights))
        g.weights_ = np.asarray(weights, dtype=np.float64)
        g.means_ = np.asarray(means, dtype=np.float64)
        g.chol_ = np.asarray(chol, dtype=np.float64)
        return g

    def _kmeanspp(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = min(self.n_components, X.shape[0])
        centers = [X[rng.integers(X.shape[0])]]
        d2 = ((X - centers[0]) ** 2).sum(1)
        for _ in range(1, k):
            p = d2 / d2.sum() if d2.sum() > 0 else None
            centers.append(X[rng.choice(X.shape[0], p=p)])
            d2 = np.minimum(d2, ((X - centers[-1]) ** 2).sum(1))
        return np.array(centers)

    def _log_gauss(self, X: np.ndarray) -> np.ndarray:
        """Per-component log(weight x density): ``z = inv(L) (x - mu)`` with a d x d inverse,
        multiplied in row blocks (see :func:`_rows_matmul`)."""
        n, d = X.shape
        out = np.empty((n, self.weights_.size))
        for k in range(self.weights_.size):
            L = self.chol_[k]
            inv_l = np.linalg.inv(L)
            z = _rows_matmul(X - self.means_[k], inv_l.T)
            out[:, k] = -0.5 * np.einsum("ij,ij->i", z, z) - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)
        return out + np.log(self.weights_)

    def fit(self, X: np.ndarray) -> GaussianMixture:
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        if n < 2 * d:
            raise ValidationError(f"events to fit must be >= {2 * d}, but was {n}")
        rng = np.random.default_rng(self.seed)
        c = self._kmeanspp(X, rng)
        for _ in range(10):  # a few Lloyd steps
            lab = ((X[:, None, :] - c[None]) ** 2).sum(2).argmin(1)
            c = np.array([X[lab == k].mean(0) if (lab == k).any() else c[k] for k in range(len(c))])
        k = len(c)
        resp = np.zeros((n, k))
        resp[np.arange(n), lab] = 1.0
        prev = -np.inf
        for _ in range(self.max_iter):
            self._m_step(X, resp)
            lg = self._log_gauss(X)
            mx = lg.max(1, keepdims=True)
            ll = mx[:, 0] + np.log(np.exp(lg - mx).sum(1))
            resp = np.exp(lg - ll[:, None])
            cur = float(ll.mean())
            if abs(cur - prev) < self.tol:
                break
            prev = cur
        self.converged_loglik_ = prev
        return self

    def _m_step(self, X: np.ndarray, resp: np.ndarray) -> None:
        nk = resp.sum(0) + 1e-10
        keep = nk > X.shape[1] + 1
        resp, nk = resp[:, keep], nk[keep]
        self.weights_ = nk / nk.sum()
        self.means_ = _gram(resp, X) / nk[:, None]
        d = X.shape[1]
        chol = []
        for j in range(nk.size):
            diff = X - self.means_[j]
            dw = diff * np.sqrt(resp[:, j])[:, None]
            cov = _gram(dw) / nk[j] + self.reg * np.eye(d)
            chol.append(np.linalg.cholesky(cov))
        self.chol_ = np.array(chol)

    def logpdf(self, X: np.ndarray) -> np.ndarray:
        lg = self._log_gauss(np.asarray(X, dtype=np.float64))
        mx = lg.max(1, keepdims=True)
        return mx[:, 0] + np.log(np.exp(lg - mx).sum(1))


# ------------------------------------------------------------------------ reference model


def _floats(x: Any, shape: tuple[int, ...], where: str, source: str | None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FlowReferenceError(f"must be numbers, but was {str(x)[:60]!r}", path=source, field=where) from exc
    if a.shape != shape:
        raise FlowReferenceError(f"must have shape {shape}, but had {a.shape}", path=source, field=where)
    if not np.isfinite(a).all():
        raise FlowReferenceError("must hold finite numbers", path=source, field=where)
    return a


@dataclass(frozen=True)
class StrategyModel:
    """The normal B-lineage mixture of one gating strategy and its outlier-score cut-offs."""

    features: tuple[str, ...]
    gmm: GaussianMixture
    seed_score: float  # outlier_quantile of normal scores
    refine_score: float  # refine_quantile of normal scores
    events: int  # normal B-lineage events the model rests on


@dataclass(frozen=True)
class ReferenceModel:
    """A versioned normal-marrow reference for automated flow MRD (see :func:`build_reference`).

    ``panel``: canonical B-lineage/maturation markers and dye; ``instrument``: the tubes' $CYT;
    ``transform``: the scale the model lives on; ``tubes``: file name, SHA-256 and events of
    each normal tube; ``demo``: synthetic (illustrative only), not from a laboratory.
    """

    panel: tuple[str, ...]
    instrument: str | None
    transform: dict[str, Any]
    tubes: tuple[dict[str, Any], ...]
    n_events: int
    models: dict[str, StrategyModel]
    remission_version: str
    demo: bool = False
    gating: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the file it was read from

    @property
    def label(self) -> str:
        """How results name this reference (demo references say they are illustrative)."""
        where = f"{self.source.rsplit('/', 1)[-1]}: " if self.source else ""
        if self.demo:
            return (f"illustrative (demo reference): {where}synthetic normal marrow, not from a laboratory; "
                    "not for clinical use")
        return (f"{where}{len(self.tubes)} normal reference tube(s), {self.n_events:,} events, instrument "
                f"{self.instrument or 'unknown'}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REFERENCE_SCHEMA, "remission_version": self.remission_version, "demo": self.demo,
            "panel": list(self.panel), "instrument": self.instrument, "transform": dict(self.transform),
            "gating": dict(self.gating), "n_events": self.n_events, "tubes": [dict(t) for t in self.tubes],
            "models": {k: {"features": list(m.features), "events": m.events,
                           "seed_score": m.seed_score, "refine_score": m.refine_score,
                           "weights": m.gmm.weights_.tolist(), "means": m.gmm.means_.tolist(),
                           "chol": m.gmm.chol_.tolist()} for k, m in self.models.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str | None = None) -> ReferenceModel:
        """Check and load a reference model; errors name the file and the field."""
        def need(key: str, kind: type | tuple[type, ...], where: str | None = None) -> Any:
            if key not in d:
                raise FlowReferenceError("is missing", path=source, field=where or key)
            v = d[key]
            if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
                raise FlowReferenceError(f"has the wrong type {type(v).__name__}", path=source, field=where or key)
            return v

        schema = d.get("schema")
        if schema != REFERENCE_SCHEMA:
            raise FlowReferenceError(f"must be {REFERENCE_SCHEMA!r}, but was {schema!r}", path=source, field="schema")
        panel = tuple(str(m) for m in need("panel", list))
        instrument = d.get("instrument")
        if instrument is not None and not isinstance(instrument, str):
            raise FlowReferenceError("must be a string or null", path=source, field="instrument")
        transform = need("transform", dict)
        if transform.get("kind") != "logicle":
            raise FlowReferenceError(f"kind must be 'logicle', but was {transform.get('kind')!r}",
                                     path=source, field="transform")
        from remission.io.gatingml import transform_parameter_problem

        tp = {k: transform.get(k) for k in ("T", "W", "M", "A")}
        problem = transform_parameter_problem("logicle", tp)
        if problem:
            raise FlowReferenceError(problem, path=source, field="transform")
        models: dict[str, StrategyModel] = {}
        for name, m in need("models", dict).items():
            where = f"models.{name}"
            if name not in ("cd19", "cd19_independent") or not isinstance(m, dict):
                raise FlowReferenceError("must be 'cd19' or 'cd19_independent' holding an object",
                                         path=source, field=where)
            feats = m.get("features")
            if not isinstance(feats, list) or not feats or not all(isinstance(f, str) for f in feats):
                raise FlowReferenceError("must be a list of marker names", path=source, field=f"{where}.features")
            k = len(m.get("weights") or [])
            dim = len(feats)
            if k < 1:
                raise FlowReferenceError("must hold at least one weight", path=source, field=f"{where}.weights")
            w = _floats(m.get("weights"), (k,), f"{where}.weights", source)
            if (w <= 0).any() or abs(float(w.sum()) - 1.0) > 1e-6:
                raise FlowReferenceError("must be positive and sum to 1", path=source, field=f"{where}.weights")
            means = _floats(m.get("means"), (k, dim), f"{where}.means", source)
            chol = _floats(m.get("chol"), (k, dim, dim), f"{where}.chol", source)
            if (np.einsum("kii->ki", chol) <= 0).any() or np.abs(np.triu(chol, 1)).max(initial=0) > 0:
                raise FlowReferenceError("must be lower-triangular Cholesky factors with a positive diagonal",
                                         path=source, field=f"{where}.chol")
            seed = _floats(m.get("seed_score"), (), f"{where}.seed_score", source)
            refine = _floats(m.get("refine_score"), (), f"{where}.refine_score", source)
            events = m.get("events")
            if not isinstance(events, int) or isinstance(events, bool) or events < 1:
                raise FlowReferenceError("must be a positive integer", path=source, field=f"{where}.events")
            models[name] = StrategyModel(tuple(feats), GaussianMixture.from_params(w, means, chol),
                                         float(seed), float(refine), events)
        if not models:
            raise FlowReferenceError("must hold at least one strategy model", path=source, field="models")
        tubes = need("tubes", list)
        for i, t in enumerate(tubes):
            if not isinstance(t, dict) or not isinstance(t.get("sha256"), (str, type(None))):
                raise FlowReferenceError("must be an object with file, sha256 and events", path=source,
                                         field=f"tubes[{i}]")
        n_events = need("n_events", int)
        demo = need("demo", bool)
        version = str(need("remission_version", str))
        return cls(panel=panel, instrument=instrument, transform=dict(transform), tubes=tuple(tubes),
                   n_events=int(n_events), models=models, remission_version=version, demo=bool(demo),
                   gating=dict(d.get("gating") or {}), source=source)

    def check_tube(self, tube: PreparedTube, *, name: str | None = None) -> list[str]:
        """Refuse a tube whose panel or instrument differs; notes for what may differ (demo)."""
        tname = name or (tube.path.rsplit("/", 1)[-1] if tube.path else "the tube")
        ref = self.source.rsplit("/", 1)[-1] if self.source else "the reference model"
        if tube.panel != self.panel:
            raise ValidationError(
                f"flow reference {ref!r} was built for panel {', '.join(self.panel)}, but FCS file {tname!r} "
                f"has {', '.join(tube.panel) or 'no known markers'}; build a reference from normal tubes "
                "of this panel (remission mrd flow reference build)")
        notes = []
        if (tube.instrument or None) != (self.instrument or None):
            if not self.demo:
                raise ValidationError(
                    f"flow reference {ref!r} was built on instrument {self.instrument!r}, but FCS file {tname!r} "
                    f"comes from {tube.instrument!r} ($CYT); build a reference on this instrument")
            notes.append(f"demo reference (instrument {self.instrument!r}) used for a tube from "
                         f"{tube.instrument!r}: the result is illustrative only")
        return notes


def _score_cutoffs(score: np.ndarray, r: Mapping[str, Rule]) -> tuple[float, float]:
    """(seed, refine) outlier-score cut-offs of the normal reference.

    ``refine`` is the empirical ``refine_quantile`` (0.99). The far ``outlier_quantile``
    (0.9999) is not read off the sample (with ~2e4 normal B events it would be the maximum, set
    by one stray event) but estimated from an exponential tail fitted to the scores above
    ``refine`` (peaks over threshold, Pickands, Ann Stat 1975;3:119): ``q = refine + b ln((1 -
    p_refine) / (1 - p_seed))`` with ``b`` the mean excess over ``refine``.
    """
    p_ref, p_seed = r["refine_quantile"].value, r["outlier_quantile"].value
    refine = float(np.quantile(score, p_ref))
    excess = score[score > refine] - refine
    b = float(excess.mean()) if excess.size else 0.0
    return refine + b * float(np.log((1 - p_ref) / (1 - p_seed))), refine


def build_reference(tubes: Sequence[Any], *, sources: Sequence[Mapping[str, Any]] | None = None,
                    demo: bool = False, rules: Mapping[str, Any] | None = None) -> ReferenceModel:
    """A :class:`ReferenceModel` from normal/regenerating marrow tubes (FcsData or prepared).

    All tubes must share panel and instrument ($CYT). For each strategy the panel allows
    (``cd19`` when it has CD19, and ``cd19_independent``) the B-lineage events of every tube
    (gates derived per tube, :func:`derive_gates`) are pooled, a Gaussian mixture is fitted on up
    to 15,000 of them (seeded) and the ``outlier_quantile``/``refine_quantile`` of their scores
    are kept. ``sources``: ``{"file", "sha256"}`` per tube (the caller hashes the files).
    """
    from remission import __version__

    r = resolve(FLOW_RULES, dict(rules or {}))
    if not tubes:
        raise ValidationError("reference tubes must be at least one, but were none")
    prepared = [t if isinstance(t, PreparedTube) else prepare_tube(t, rules=r) for t in tubes]
    srcs = list(sources or [{"file": t.path.rsplit("/", 1)[-1] if t.path else f"tube {i}", "sha256": None}
                            for i, t in enumerate(prepared)])
    if len(srcs) != len(prepared):
        raise ValidationError(f"sources must be one per tube ({len(prepared)}), but were {len(srcs)}")
    first = prepared[0]
    for t, s in zip(prepared[1:], srcs[1:], strict=True):
        if t.panel != first.panel:
            raise ValidationError(f"reference tube {s['file']!r} has panel {', '.join(t.panel)}, but "
                                  f"{srcs[0]['file']!r} has {', '.join(first.panel)}")
        if t.instrument != first.instrument:
            raise ValidationError(f"reference tube {s['file']!r} comes from instrument {t.instrument!r}, but "
                                  f"{srcs[0]['file']!r} from {first.instrument!r}")
    features = tuple(m for m in FEATURE_MARKERS if m in first.columns)
    if len(features) < 3:
        raise ValidationError(f"panel must have >= 3 B-lineage/maturation markers, but had {list(features)!r}")
    strategies: list[Strategy] = ["cd19", "cd19_independent"] if "CD19" in first.columns else ["cd19_independent"]
    models: dict[str, StrategyModel] = {}
    for strat in strategies:
        parts = []
        for t in prepared:
            b = derive_gates(t, strat, r).b_lineage
            rows = np.flatnonzero(b)
            parts.append(t.cols_at(features, rows))
        X = np.vstack(parts).astype(np.float64)
        if X.shape[0] < 500:
            raise ValidationError(f"normal B-lineage reference events ({strat}) must be >= 500, but were "
                                  f"{X.shape[0]}; add normal tubes")
        rng = np.random.default_rng(0)
        fit_idx = rng.choice(X.shape[0], size=min(X.shape[0], 15_000), replace=False)
        gmm = GaussianMixture(int(r["gmm_components"].value), seed=0).fit(X[fit_idx])
        seed, refine = _score_cutoffs(-gmm.logpdf(X), r)
        models[strat] = StrategyModel(features, gmm, seed, refine, int(X.shape[0]))
    transform = {"kind": "logicle", "T": r["logicle_T"].value, "W": r["logicle_W"].value,
                 "M": r["logicle_M"].value, "A": 0.0}
    gating = {k: r[k].value for k in ("fsc_min", "dye_threshold", "density_peak_min", "ssc_tail_fraction",
                                      "positive_threshold", "outlier_quantile", "refine_quantile",
                                      "gmm_components")}
    tube_rows = tuple({"file": str(s["file"]), "sha256": s.get("sha256"), "events": t.n_events}
                      for t, s in zip(prepared, srcs, strict=True))
    return ReferenceModel(panel=first.panel, instrument=first.instrument, transform=transform, tubes=tube_rows,
                          n_events=sum(t.n_events for t in prepared), models=models,
                          remission_version=__version__, demo=demo, gating=gating)


# ------------------------------------------------------------------ different from normal


class DifferentFromNormal:
    """Automated "different from normal" MRD detection (see the module docstring).

    >>> dfn = DifferentFromNormal(reference=ReferenceModel.from_dict(data))   # doctest: +SKIP
    >>> result = dfn.detect(sample)                                            # doctest: +SKIP

    The reference model is an explicit input: ``reference=`` a :class:`ReferenceModel`, or
    :meth:`fit` on normal tubes (which calls :func:`build_reference`). :meth:`detect` without one
    is an error. A tube whose panel or instrument differs from the reference is refused.
    """

    def __init__(self, *, reference: ReferenceModel | None = None, strategy: Strategy = "auto",
                 rules: Mapping[str, Any] | None = None) -> None:
        if strategy not in ("auto", "cd19", "cd19_independent"):
            raise ValidationError(f"strategy must be 'auto', 'cd19' or 'cd19_independent', but was {strategy!r}")
        self.strategy: Strategy = strategy
        self.rules = resolve(FLOW_RULES, dict(rules or {}))
        self.reference_: ReferenceModel | None = reference
        self.last_labels_: np.ndarray | None = None

    def fit(self, references: Sequence[Any], *, sources: Sequence[Mapping[str, Any]] | None = None) -> DifferentFromNormal:
        """Build the reference model from normal tubes (:class:`~remission.io.fcs.FcsData` or prepared)."""
        self.reference_ = build_reference(references, sources=sources, rules=self.rules)
        return self

    def detect(self, sample: Any, *, truth: np.ndarray | None = None, validation: bool = False) -> FlowMrd:
        """Find leukaemic candidates in one tube and compute MRD.

        ``validation=True`` (or an explicit ``truth``) adds F1/precision/recall against the
        tube's synthetic truth labels; clinical use never sets it.
        """
        ref = self.reference_
        if ref is None:
            raise ValidationError(
                "automated flow MRD needs a normal reference model, but none was given: build one from "
                "normal/regenerating marrow tubes (remission mrd flow reference build NORMAL.fcs... -o ref.json) "
                "and pass it with --reference, or use --demo-reference for an illustrative result")
        r = self.rules
        tube = sample if isinstance(sample, PreparedTube) else prepare_tube(sample, rules=r, validation=validation)
        notes = ref.check_tube(tube)
        gates = derive_gates(tube, self.strategy, r)
        strat = gates.strategy.split(":")[0]
        model = ref.models.get(strat)
        if model is None:
            raise ValidationError(f"strategy must be one the reference model was built for "
                                  f"({', '.join(ref.models)}), but was {strat!r}")
        features = model.features
        idx = np.flatnonzero(gates.b_lineage)
        leuk = np.zeros(tube.n_events, dtype=bool)
        pheno: dict[str, float] = {}
        cd19neg = None
        if idx.size:
            X = tube.cols_at(features, idx).astype(np.float64)
            logpn = model.gmm.logpdf(X)
            score = -logpn
            cand = score > model.seed_score
            if cand.sum() >= r["min_cluster_events"].value:
                post = self._refine(X, logpn, cand, eligible=score > model.refine_score)
                sel = post > 0.5
                leuk[idx[sel]] = True
                if sel.any():
                    pheno = {f: round(float(np.median(X[sel, i])), 3) for i, f in enumerate(features)}
                    if "CD19" in pheno:
                        cd19neg = pheno["CD19"] < r["positive_threshold"].value
        if cd19neg:
            notes.append("the candidate population is CD19-negative: found by the CD19-independent "
                         "strategy (CD19-directed therapy can cause CD19 loss)")
        if truth is None and (validation or tube.truth is not None):
            truth = tube.truth
        self.last_labels_ = leuk
        reason = None
        if not gates.denominator.any():
            reason = (f"no evaluable events: none of the {tube.n_events} events passes {gates.denominator_name} "
                      "(all debris, negative or non-finite scatter, or no nucleated events)")
        return mrd_from_labels(leuk, gates.denominator, method="auto", denominator_name=gates.denominator_name,
                               leukemic_name="different-from-normal B-lineage population", truth=truth,
                               rules=r, strategy=gates.strategy, markers_used=features, reference=ref.label,
                               illustrative=ref.demo, gates=gates.rules_shown, cd19_negative_population=cd19neg,
                               phenotype=pheno, warnings=tuple(notes), reason=reason)


    @staticmethod
    def _refine(X: np.ndarray, logpn: np.ndarray, cand: np.ndarray, *, eligible: np.ndarray,
                n_iter: int = 15) -> np.ndarray:
        """Two-class EM: fixed normal mixture vs one Gaussian for the leukaemia.

        Started robustly from the densest half of the candidates (median/MAD), and events
        farther than the 99.9 % chi-square radius of the leukaemic Gaussian are never assigned to
        it, so scattered normal outliers cannot inflate it. Only ``eligible`` events (normal
        score beyond ``refine_quantile``) can be leukaemic, so the EM runs on those rows alone;
        the mixing proportion still counts every event of the gate.
        """
        from scipy.special import chdtri

        n_all, d = X.shape
        radius = float(chdtri(d, 0.001))  # chi-square 0.999 quantile with d degrees of freedom
        rows = np.flatnonzero(eligible | cand)
        Xe, lpe, ce, ee = X[rows], logpn[rows], cand[rows], eligible[rows]
        ci = np.flatnonzero(ce)
        xc = Xe[ci]
        med = np.median(xc, axis=0)
        mad = 1.4826 * np.median(np.abs(xc - med), axis=0) + 1e-3
        dd = (((xc - med) / mad) ** 2).sum(1)
        w = np.zeros(rows.size)
        w[ci[dd <= np.median(dd)]] = 1.0
        post = w
        for _ in range(n_iter):
            sw = w.sum()
            if sw < d + 1:
                return np.zeros(n_all)
            mu = (w @ Xe) / sw
            diff = Xe - mu
            cov = (diff * w[:, None]).T @ diff / sw + 1e-4 * np.eye(d)
            L = np.linalg.cholesky(cov)
            z = diff @ np.linalg.inv(L).T
            m2 = np.einsum("ij,ij->i", z, z)
            logpl = -0.5 * m2 - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)
            pi = min(max(sw / n_all, 1e-7), 0.5)
            a = np.log(pi) + logpl
            b = np.log1p(-pi) + lpe
            post = np.where(ee & (m2 <= radius), 1.0 / (1.0 + np.exp(np.clip(b - a, -50, 50))), 0.0)
            if np.allclose(post, w, atol=1e-4):
                break
            w = post
        out = np.zeros(n_all)
        out[rows] = post
        return out
