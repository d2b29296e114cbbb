"""Flow-cytometric B-ALL MRD: from events to an :class:`~remission.domain.MrdResult`.

Two ways to find the leukaemic events of a tube:

- **gating** (:func:`mrd_from_gates`): a leukaemic gate and a denominator gate evaluated by the
  Gating-ML evaluator (:mod:`remission.mrd.gating`);
- **automated "different from normal"** (:class:`DifferentFromNormal`): a Gaussian-mixture
  model of *normal* B-cell-precursor maturation is learned from normal/regenerating reference
  tubes (or, when none is given, from the seeded synthetic normal-marrow model, with a warning);
  within a B-lineage gate each event gets an outlier score (negative log-density under the
  normal model); events beyond a high quantile of the reference scores seed a candidate
  population, which is then grown/refined by a two-class EM (fixed normal mixture vs one free
  Gaussian for the leukaemia). The approach is the open analogue of EuroFlow AG&I / the GMM
  method of Reiter et al. (Cytometry A 2019;95:966), not a re-implementation of either.

The B-lineage gate is CD19-based or CD19-independent (CD19 or CD22 or CD24 where the panel
has them, within blast/lymphoid scatter): after CD19-directed therapy (CAR-T, blinatumomab)
CD19 may be lost, so the CD19-independent gate is used whenever the panel allows it, and the
result says which strategy was used and whether the population found is CD19-negative.

MRD = leukaemic events / evaluable nucleated events (denominator named in the output). LoD and
LoQ come from event counts (20 and 50 events by default, flow_mrd.md §3.3, tagged R):
``lod = 20 / N``, ``loq = 50 / N``; status ``negative`` (< LoD events), ``positive_not_
quantifiable`` (LoD <= n < LoQ) or ``positive``. A :class:`~remission.errors.LowSensitivityWarning`
is issued when ``lod`` is above the sensitivity asked (default 1e-4).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from remission.domain import MrdResult, Rule, resolve, rests_on, rule_set
from remission.errors import LowSensitivityWarning, ValidationError

__all__ = [
    "FLOW_RULES",
    "DifferentFromNormal",
    "FlowMrd",
    "GaussianMixture",
    "PreparedTube",
    "flow_mrd_status",
    "mrd_from_gates",
    "mrd_from_labels",
    "prepare_tube",
]

_SPEC = "flow_mrd.md §3.3"

FLOW_RULES = rule_set(
    Rule("lod_events", 20, "R", _SPEC, "leukaemic events needed to call flow MRD detectable (LoD)"),
    Rule("loq_events", 50, "R", _SPEC, "leukaemic events needed to quantify flow MRD (LLOQ)"),
    Rule("target_sensitivity", 1e-4, "R", "flow_mrd.md §3.3 (HemaSphere 2022: minimum sensitivity 0.01 %)",
         "MRD sensitivity asked for; fewer denominator events than lod_events/target_sensitivity "
         "raise LowSensitivityWarning"),
    Rule("logicle_T", 262144.0, "U", "remission default (18-bit instruments)", "logicle top of scale"),
    Rule("logicle_W", 0.5, "U", "remission default", "logicle linearisation width (decades)"),
    Rule("logicle_M", 4.5, "U", "remission default", "logicle decades"),
    Rule("positive_threshold", 0.3, "U", "remission default (logicle scale); tune per laboratory",
         "logicle value above which a marker counts as expressed (lineage gates)"),
    Rule("dye_threshold", 0.35, "U", "remission default (logicle scale); tune per laboratory",
         "nucleic-acid dye (SYTO/DRAQ5) value above which an event is nucleated"),
    Rule("fsc_min", 20000.0, "U", "remission default (linear FSC units); tune per instrument",
         "FSC below which events are debris"),
    Rule("ssc_blast_max", 40000.0, "U", "remission default (linear SSC units); tune per instrument",
         "SSC above which events are not lymphoid/blast (granulocytes, monocytes)"),
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
    """One flow MRD measurement with everything the report and the JSON need."""

    status: str
    mrd: float | None
    mrd_estimate: float
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
    cd19_negative_population: bool | None = None
    phenotype: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    rules: dict[str, Rule] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            "mrd", "status", "lod", "loq", "events_total", "events_denominator", "events_leukemic",
            "method", "denominator", "leukemic", "strategy", "f1", "precision", "recall", "reference",
            "cd19_negative_population", "mrd_estimate")}
        d["markers_used"] = list(self.markers_used)
        d["phenotype"] = dict(self.phenotype)
        d["warnings"] = list(self.warnings)
        d["rests_on"] = rests_on(self.rules.values())
        return d

    def to_mrd_result(self, **kw: Any) -> MrdResult:
        """As the common :class:`MrdResult` (method ``flow``)."""
        details = {"events_total": self.events_total, "events_denominator": self.events_denominator,
                   "events_leukemic": self.events_leukemic, "analysis": self.method,
                   "denominator": self.denominator, "strategy": self.strategy}
        return MrdResult(method="flow", status=self.status,
                         value=self.mrd, lod=self.lod, loq=self.loq,
                         marker=self.leukemic, details=details, **kw)


def flow_mrd_status(n_leukemic: int, n_denominator: int,
                    rules: Mapping[str, Rule] | None = None) -> tuple[str, float | None, float | None]:
    """(status, lod, loq) from event counts: ``lod = lod_events / N``, ``loq = loq_events / N``."""
    r = rules or FLOW_RULES
    if n_leukemic < 0 or n_denominator < 0 or n_leukemic > n_denominator:
        raise ValidationError(f"event counts must satisfy 0 <= leukemic <= denominator, but were "
                              f"{n_leukemic!r} and {n_denominator!r}")
    if n_denominator == 0:
        return "negative", None, None
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
    """MRD from per-event boolean labels (leukaemic events are counted within the denominator)."""
    r = dict(rules or FLOW_RULES)
    den = np.asarray(denominator, dtype=bool)
    leuk = np.asarray(leukemic, dtype=bool) & den
    n_den, n_leuk = int(den.sum()), int(leuk.sum())
    status, lod, loq = flow_mrd_status(n_leuk, n_den, r)
    est = n_leuk / n_den if n_den else 0.0
    warn_list = list(extra.pop("warnings", ()))
    target = r["target_sensitivity"].value
    if lod is None or lod > target:
        msg = (f"{n_den} evaluable events give LoD {lod if lod is not None else float('nan'):.2e}, above the "
               f"sensitivity asked ({target:g}); acquire >= {int(np.ceil(r['lod_events'].value / target))} "
               "nucleated cells")
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
                   warnings=tuple(warn_list), rules=r, **extra)


def mrd_from_gates(memberships: Mapping[str, np.ndarray], leukemic_gate: str, denominator_gate: str, *,
                   truth: np.ndarray | None = None, rules: Mapping[str, Any] | None = None) -> FlowMrd:
    """MRD from evaluated gates (``GatingDocument.evaluate``): leukaemic gate ∩ denominator gate."""
    for g in (leukemic_gate, denominator_gate):
        if g not in memberships:
            raise ValidationError(f"gate must be one of {sorted(memberships)}, but was {g!r}")
    full = resolve(FLOW_RULES, dict(rules or {}))
    r = {k: full[k] for k in ("lod_events", "loq_events", "target_sensitivity")}
    return mrd_from_labels(memberships[leukemic_gate], memberships[denominator_gate], method="gating",
                           denominator_name=denominator_gate, leukemic_name=leukemic_gate, truth=truth, rules=r)


# --------------------------------------------------------------------- tube preparation


@dataclass
class PreparedTube:
    """Compensated, logicle-transformed events with markers resolved to canonical names."""

    events: np.ndarray  # fluorescence on logicle scale, scatter linear
    columns: dict[str, int]  # canonical marker / 'FSC' / 'SSC' -> column
    truth: np.ndarray | None
    compensated: bool
    path: str | None = None

    def col(self, name: str) -> np.ndarray:
        return self.events[:, self.columns[name]]

    @property
    def n_events(self) -> int:
        return int(self.events.shape[0])


def prepare_tube(sample: Any, *, compensate: bool | None = None,
                 rules: Mapping[str, Rule] | None = None) -> PreparedTube:
    """Compensate (the file's spillover) and logicle-transform the fluorescence channels of an
    :class:`~remission.io.fcs.FcsData`, in one pass over the fluorescence block.

    ``compensate=None`` compensates when the file has a spillover matrix; ``True`` requires one
    (``FcsFormatError`` otherwise); ``False`` never compensates.
    """
    from remission.mrd.cytometry import compensate_columns, compensate_sample, logicle

    r = rules or FLOW_RULES
    ev = sample.events
    ev = ev.astype(np.float32) if ev.dtype != np.float32 else ev.copy()
    truth = None
    columns: dict[str, int] = {}
    fluor: list[int] = []
    for i, (c, m) in enumerate(zip(sample.channels, sample.markers, strict=True)):
        cu, mu = c.upper(), (m or "").upper()
        if cu == "TRUTH" or mu.startswith("TRUTH"):
            truth = sample.events[:, i] > 0.5
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
    done = False
    if compensate or (compensate is None and sample.spill is not None):
        if sample.spill is None:
            compensate_sample(sample)  # raises FcsFormatError naming the file
        idx = [sample.index(c) for c in sample.spill.channels]
        ev[:, idx] = compensate_columns(ev, idx, sample.spill.matrix)
        done = True
    t, w, m = r["logicle_T"].value, r["logicle_W"].value, r["logicle_M"].value
    for i in fluor:
        ev[:, i] = logicle(ev[:, i], T=t, W=w, M=m, A=0.0)
    return PreparedTube(events=ev, columns=columns, truth=truth, compensated=done, path=sample.path)


# ---------------------------------------------------------------------- gaussian mixture


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
        from scipy.linalg import solve_triangular

        n, d = X.shape
        out = np.empty((n, self.weights_.size))
        for k in range(self.weights_.size):
            L = self.chol_[k]
            z = solve_triangular(L, (X - self.means_[k]).T, lower=True, check_finite=False)
            out[:, k] = -0.5 * (z * z).sum(0) - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)
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
        self.means_ = (resp.T @ X) / nk[:, None]
        d = X.shape[1]
        chol = []
        for j in range(nk.size):
            diff = X - self.means_[j]
            cov = (resp[:, j, None] * diff).T @ diff / nk[j] + self.reg * np.eye(d)
            chol.append(np.linalg.cholesky(cov))
        self.chol_ = np.array(chol)

    def logpdf(self, X: np.ndarray) -> np.ndarray:
        lg = self._log_gauss(np.asarray(X, dtype=np.float64))
        mx = lg.max(1, keepdims=True)
        return mx[:, 0] + np.log(np.exp(lg - mx).sum(1))


# ------------------------------------------------------------------ different from normal


def _gates(tube: PreparedTube, strategy: Strategy, r: Mapping[str, Rule]) -> tuple[np.ndarray, str, np.ndarray, str]:
    """(denominator mask, its name, B-lineage mask, strategy description)."""
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
    pos = r["positive_threshold"].value
    scatter = np.ones(n, dtype=bool)
    if "SSC" in tube.columns:
        scatter = tube.col("SSC") <= r["ssc_blast_max"].value
    has = [m for m in ("CD19", "CD22", "CD24") if m in tube.columns]
    if strategy == "auto":
        strategy = "cd19" if has == ["CD19"] else "cd19_independent"
    if strategy == "cd19":
        if "CD19" not in tube.columns:
            raise ValidationError("strategy must be 'cd19_independent' for a panel without CD19, but was 'cd19'")
        lin = tube.col("CD19") >= pos
        desc = "CD19-based B-lineage gate (CD19+ within lymphoid/blast scatter)"
    else:
        alt: list[str] = [m for m in ("CD19", "CD22", "CD24") if m in tube.columns]
        if not [m for m in alt if m != "CD19"]:
            alt += [m for m in ("CD10", "CD34") if m in tube.columns]
        if not alt:
            raise ValidationError("panel must have a B-lineage marker (CD19, CD22, CD24, CD10 or CD34), "
                                  f"but had {sorted(tube.columns)!r}")
        lin = np.zeros(n, dtype=bool)
        for m in alt:
            lin |= tube.col(m) >= pos
        desc = (f"CD19-independent B-lineage gate ({' or '.join(a + '+' for a in alt)} within "
                "lymphoid/blast scatter)")
        strategy = "cd19_independent"
    return den, den_name, den & scatter & lin, f"{strategy}: {desc}"


_SYNTHETIC_MODELS: dict[tuple[Any, ...], tuple[GaussianMixture, float, float]] = {}


@lru_cache(maxsize=8)
def _synthetic_reference(markers: tuple[str, ...]) -> Any:
    from remission.io.fcs import FcsData, Spillover
    from remission.synth.flow import CHANNEL_OF, simulate_tube

    known = tuple(m for m in markers if m in CHANNEL_OF)
    tube = simulate_tube(400_000, fraction=0.0, markers=known, seed=20240611)
    return FcsData(path=None, version="FCS3.1", events=tube.events, channels=tube.channels,
                   markers=tube.markers, metadata={}, spill=Spillover(tube.spill_channels, tube.spill))


class DifferentFromNormal:
    """Automated "different from normal" MRD detection (see the module docstring).

    >>> dfn = DifferentFromNormal().fit(reference_tubes)      # doctest: +SKIP
    >>> result = dfn.detect(sample)                           # doctest: +SKIP

    ``fit([])`` (no reference) uses the seeded synthetic normal marrow model for the markers of
    the first sample passed to :meth:`detect`, and says so in the result's warnings.
    """

    def __init__(self, *, strategy: Strategy = "auto", rules: Mapping[str, Any] | None = None) -> None:
        if strategy not in ("auto", "cd19", "cd19_independent"):
            raise ValidationError(f"strategy must be 'auto', 'cd19' or 'cd19_independent', but was {strategy!r}")
        self.strategy: Strategy = strategy
        self.rules = resolve(FLOW_RULES, dict(rules or {}))
        self._refs: list[PreparedTube] = []
        self.reference_: str | None = None
        self._models: dict[tuple[str, tuple[str, ...]], tuple[GaussianMixture, float, float]] = {}
        self.last_labels_: np.ndarray | None = None

    def fit(self, references: Sequence[Any] = ()) -> DifferentFromNormal:
        """Learn from normal reference tubes (:class:`~remission.io.fcs.FcsData` or prepared)."""
        self._refs = [t if isinstance(t, PreparedTube) else prepare_tube(t, rules=self.rules) for t in references]
        names = [t.path or "in-memory tube" for t in self._refs]
        self.reference_ = (f"{len(names)} normal reference tube(s)" if names else
                           "synthetic normal-marrow model (remission.synth.flow; not instrument-matched)")
        self._models.clear()
        return self

    def _model(self, strategy: str, features: tuple[str, ...]) -> tuple[GaussianMixture, float, float]:
        key = (strategy.split(":")[0], features)
        if key in self._models:
            return self._models[key]
        if not self._refs:  # the synthetic model is the same for every instance with these rules
            rkey = (*key, tuple(sorted((k, repr(v.value)) for k, v in self.rules.items())))
            if rkey not in _SYNTHETIC_MODELS:
                _SYNTHETIC_MODELS[rkey] = self._fit_model(key, features)
            self._models[key] = _SYNTHETIC_MODELS[rkey]
            return self._models[key]
        self._models[key] = self._fit_model(key, features)
        return self._models[key]

    def _fit_model(self, key: tuple[str, tuple[str, ...]], features: tuple[str, ...]) -> tuple[GaussianMixture, float, float]:
        refs = self._refs or [prepare_tube(_synthetic_reference((*features, "SYTO41")), rules=self.rules)]
        X_parts = []
        for t in refs:
            missing = [f for f in features if f not in t.columns]
            if missing:
                raise ValidationError(f"reference tube {t.path or ''} must have the sample's markers, "
                                      f"but lacks {missing!r}")
            _, _, b, _ = _gates(t, key[0], self.rules)  # type: ignore[arg-type]
            X_parts.append(np.column_stack([t.col(f)[b] for f in features]))
        X = np.vstack(X_parts).astype(np.float64)
        if X.shape[0] < 500:
            raise ValidationError(f"normal B-lineage reference events must be >= 500, but were {X.shape[0]}")
        rng = np.random.default_rng(0)
        fit_idx = rng.choice(X.shape[0], size=min(X.shape[0], 15_000), replace=False)
        gmm = GaussianMixture(int(self.rules["gmm_components"].value), seed=0).fit(X[fit_idx])
        score = -gmm.logpdf(X)
        hi = float(np.quantile(score, self.rules["outlier_quantile"].value))
        lo = float(np.quantile(score, self.rules["refine_quantile"].value))
        return gmm, hi, lo

    def detect(self, sample: Any, *, truth: np.ndarray | None = None) -> FlowMrd:
        """Find leukaemic candidates in one tube and compute MRD."""
        r = self.rules
        tube = sample if isinstance(sample, PreparedTube) else prepare_tube(sample, rules=r)
        den, den_name, blin, strat = _gates(tube, self.strategy, r)
        features = tuple(m for m in FEATURE_MARKERS if m in tube.columns)
        if len(features) < 3:
            raise ValidationError(f"panel must have >= 3 B-lineage/maturation markers, but had {list(features)!r}")
        if self.reference_ is None:
            self.fit([])
        gmm, hi, lo = self._model(strat, features)
        idx = np.flatnonzero(blin)
        X = np.column_stack([tube.col(f)[idx] for f in features]).astype(np.float64)
        leuk = np.zeros(tube.n_events, dtype=bool)
        notes = []
        if not self._refs:
            notes.append("no normal reference tubes given: the synthetic normal-marrow model was used; "
                         "the result is illustrative until laboratory reference tubes are supplied")
        pheno: dict[str, float] = {}
        cd19neg = None
        if X.shape[0]:
            logpn = gmm.logpdf(X)
            score = -logpn
            cand = score > hi
            if cand.sum() >= r["min_cluster_events"].value:
                post = self._refine(X, logpn, cand, eligible=score > lo)
                sel = post > 0.5
                leuk[idx[sel]] = True
                if sel.any():
                    pheno = {f: round(float(np.median(X[sel, i])), 3) for i, f in enumerate(features)}
                    if "CD19" in pheno:
                        cd19neg = pheno["CD19"] < r["positive_threshold"].value
        if cd19neg:
            notes.append("the candidate population is CD19-negative: found by the CD19-independent "
                         "strategy (CD19-directed therapy can cause CD19 loss)")
        truth = tube.truth if truth is None else truth
        self.last_labels_ = leuk
        return mrd_from_labels(leuk, den, method="auto", denominator_name=den_name,
                               leukemic_name="different-from-normal B-lineage population", truth=truth,
                               rules=r, strategy=strat, markers_used=features, reference=self.reference_,
                               cd19_negative_population=cd19neg, phenotype=pheno, warnings=tuple(notes))

    @staticmethod
    def _refine(X: np.ndarray, logpn: np.ndarray, cand: np.ndarray, *, eligible: np.ndarray,
                n_iter: int = 15) -> np.ndarray:
        """Two-class EM: fixed normal mixture vs one Gaussian for the leukaemia.

        Started robustly from the densest half of the candidates (median/MAD), and events
        farther than the 99.9 % chi-square radius of the leukaemic Gaussian are never assigned to
        it, so scattered normal outliers cannot inflate it.
        """
        from scipy.stats import chi2

        d = X.shape[1]
        radius = chi2.ppf(0.999, d)
        ci = np.flatnonzero(cand)
        xc = X[ci]
        med = np.median(xc, axis=0)
        mad = 1.4826 * np.median(np.abs(xc - med), axis=0) + 1e-3
        dd = (((xc - med) / mad) ** 2).sum(1)
        w = np.zeros(X.shape[0])
        w[ci[dd <= np.median(dd)]] = 1.0
        post = w
        for _ in range(n_iter):
            sw = w.sum()
            if sw < d + 1:
                return np.zeros(X.shape[0])
            mu = (w @ X) / sw
            diff = X - mu
            cov = (w[:, None] * diff).T @ diff / sw + 1e-4 * np.eye(d)
            L = np.linalg.cholesky(cov)
            z = np.linalg.solve(L, diff.T)
            m2 = (z * z).sum(0)
            logpl = -0.5 * m2 - np.log(np.diag(L)).sum() - 0.5 * d * np.log(2 * np.pi)
            pi = min(max(sw / X.shape[0], 1e-7), 0.5)
            a = np.log(pi) + logpl
            b = np.log1p(-pi) + logpn
            post = np.where(eligible & (m2 <= radius), 1.0 / (1.0 + np.exp(np.clip(b - a, -50, 50))), 0.0)
            if np.allclose(post, w, atol=1e-4):
                break
            w = post
        return post
