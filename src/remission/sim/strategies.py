"""Strategies as treatment schedules, and their comparison on the same virtual patients.

A strategy turns ``n`` patients into a :class:`~remission.sim.model.Schedule`, drawing the times
that options need from the cited distributions:

* CAR-T enrolment to infusion: log-normal with median ``cart_vein_to_vein_median_days`` (43 d,
  range 24-133 d; Levine JE et al., JITC 2021;9:e002287) and ``cart_vein_to_vein_sdlog``; a
  share ``cart_not_infused_fraction`` is never infused (17/92 in ELIANA; Maude SL et al., NEJM
  2018;378:439).
* Unrelated-donor search: log-normal with mean ``donor_search_mean_days`` (73 d for
  intermediate-probability searches; Bone Marrow Research 2012, Table 5).
* HSCT after remission: ``hsct_after_remission_days`` (1.9 months median after blinatumomab;
  Locatelli F et al., JAMA 2021;325:843). HSCT happens at the later of the donor being found
  and that delay after the start of consolidation; the model gives it only to patients in
  remission on that day.

:func:`compare` runs every strategy on the same posterior (or population) patients with common
random numbers, ``replicates`` stochastic runs per patient draw, and reports for 3, 6 and 12
months the probability of haematological relapse (or no remission), of CD19-negative relapse and
of MRD-negative remission, each as the mean over draws with the 5-95 % range of the per-draw
probabilities (parameter uncertainty). The drivers of the difference are the causes of the
events, by strategy; each strategy lists the recalled/uncertain/user rules its projection rests
on (``rests_on``: e.g. the uncited inotuzumab and HSCT rules for ``ino_then_hsct``), and the
probability of death (overall survival) at 3, 6 and 12 months, which rests on the calibrated
death-after-failure rules. These are **model projections**, not predictions for a patient, and never a
recommendation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from remission.domain.parameters import Rule
from remission.errors import ValidationError
from remission.sim.measure import measure_mrd
from remission.sim.model import Schedule, SimResult, VirtualPatients, simulate
from remission.sim.parameters import lognormal_from_mean, resolve_sim, value

__all__ = [
    "DEATH_NOTE",
    "STRATEGIES",
    "Strategy",
    "cart_infusion_days",
    "compare",
    "donor_found_days",
    "outcome_table",
    "strategy_rests_on",
    "strategy_rule_names",
]

MONTH_DAYS = {3: 91, 6: 182, 12: 365}

#: what every P(death) of a comparison rests on, shown beside it (CLI, report, web)
DEATH_NOTE = ("P(death) rests on death_after_failure_median_days and salvaged_after_failure_fraction, "
              "calibrated to survival after failure of CAR-T in ELIANA (no published source); after a "
              "relapse with CAR-T still to come it likely overstates death")


def cart_infusion_days(n: int, rng: np.random.Generator, rules: Mapping[str, Rule]) -> np.ndarray:
    """Enrolment-to-infusion days (NaN for patients never infused)."""
    med = value(rules, "cart_vein_to_vein_median_days")
    days = np.round(med * np.exp(rng.normal(0.0, value(rules, "cart_vein_to_vein_sdlog"), n)))
    never = rng.random(n) < value(rules, "cart_not_infused_fraction")
    return np.where(never, np.nan, days)


def donor_found_days(n: int, rng: np.random.Generator, rules: Mapping[str, Rule]) -> np.ndarray:
    """Days until an unrelated donor is identified (log-normal with the cited mean)."""
    sd = value(rules, "donor_search_sdlog")
    mu = lognormal_from_mean(value(rules, "donor_search_mean_days"), sd)
    return np.round(np.exp(mu + sd * rng.normal(0.0, 1.0, n)))


def _cycles(start: np.ndarray, every: float, count: int) -> np.ndarray:
    return start[:, None] + every * np.arange(count)[None, :]


@dataclass(frozen=True)
class Strategy:
    """A named strategy: its description, how it schedules ``n`` patients, the treatments it uses."""

    name: str
    description: str
    build: Callable[[int, np.random.Generator, Mapping[str, Rule]], Schedule]
    treatments: tuple[str, ...] = ()


#: rules every projection uses (disease, measurement, death after failure)
_COMMON_RULES = ("marrow_cells", "doubling_time_median_days", "doubling_time_sdlog", "relapse_blast_fraction",
                 "stochastic_below_cells", "cd19_negative_fraction0", "cd19_loss_per_division",
                 "death_after_failure_median_days", "salvaged_after_failure_fraction", "response_window_days",
                 "lod_ngs", "lod_flow", "lod_pcr", "loq_over_lod", "mrd_noise_log10_sd")
#: rules of each treatment (by name prefix; CAR-T also uses the Stein 2019 kinetics, ``stein_*``)
_TREATMENT_PREFIXES = {"chemo": ("chemo_",), "blina": ("blina_",), "ino": ("ino_", "cd22_"),
                       "cart": ("cart_", "stein_"), "hsct": ("hsct_", "donor_")}


def strategy_rule_names(strategy: str, rules: Mapping[str, Rule]) -> list[str]:
    """Names of the rules a strategy's projection uses: the common ones plus its treatments'."""
    st = _get(strategy)
    prefixes = tuple(p for t in st.treatments for p in _TREATMENT_PREFIXES[t])
    return [k for k in rules if k in _COMMON_RULES or (prefixes and k.startswith(prefixes))]


def strategy_rests_on(strategy: str, rules: Mapping[str, Rule]) -> list[str]:
    """The recalled, uncertain or user-set rules (tags R, U, user) a strategy's projection rests on."""
    return [k for k in strategy_rule_names(strategy, rules) if rules[k].tag in ("R", "U", "user")]


def _watch(n: int, rng: np.random.Generator, r: Mapping[str, Rule]) -> Schedule:
    return Schedule.empty(n)


def _bridge(kind: str, n: int, r: Mapping[str, Rule], cycles: int = 1) -> tuple[Schedule, float]:
    s = Schedule.empty(n)
    z = np.zeros(n)
    if kind == "chemo":
        every = value(r, "chemo_block_days")
        return Schedule(_cycles(z, every, cycles), s.blina_days, s.ino_days, s.cart_day, s.hsct_day), every * cycles
    if kind == "blina":
        every = value(r, "blina_cycle_days") + value(r, "blina_break_days")
        return (Schedule(s.chemo_days, _cycles(z, every, cycles), s.ino_days, s.cart_day, s.hsct_day),
                value(r, "blina_cycle_days") + every * (cycles - 1))
    if kind == "ino":
        every = value(r, "ino_cycle_days")
        return Schedule(s.chemo_days, s.blina_days, _cycles(z, every, cycles), s.cart_day, s.hsct_day), every * cycles
    return s, 0.0


def _then_cart(bridge: str) -> Callable[[int, np.random.Generator, Mapping[str, Rule]], Schedule]:
    def build(n: int, rng: np.random.Generator, r: Mapping[str, Rule]) -> Schedule:
        s, bridge_end = _bridge(bridge, n, r)
        cart = cart_infusion_days(n, rng, r)
        cart = np.where(np.isnan(cart), np.nan, np.maximum(cart, bridge_end))
        return Schedule(s.chemo_days, s.blina_days, s.ino_days, cart, s.hsct_day)
    return build


def _then_hsct(bridge: str, cycles: int) -> Callable[[int, np.random.Generator, Mapping[str, Rule]], Schedule]:
    def build(n: int, rng: np.random.Generator, r: Mapping[str, Rule]) -> Schedule:
        s, _ = _bridge(bridge, n, r, cycles)
        hsct = np.maximum(donor_found_days(n, rng, r), value(r, "hsct_after_remission_days"))
        return Schedule(s.chemo_days, s.blina_days, s.ino_days, s.cart_day, hsct)
    return build


def _cart_then_hsct(n: int, rng: np.random.Generator, r: Mapping[str, Rule]) -> Schedule:
    s = _then_cart("none")(n, rng, r)
    donor = donor_found_days(n, rng, r)
    hsct = np.where(np.isnan(s.cart_day), np.nan,
                    np.maximum(donor, s.cart_day + value(r, "hsct_after_remission_days")))
    return Schedule(s.chemo_days, s.blina_days, s.ino_days, s.cart_day, hsct)


STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (
        Strategy("watch", "no treatment (the natural course)", _watch),
        Strategy("cart", "CAR-T when manufactured, no bridge", _then_cart("none"), ("cart",)),
        Strategy("chemo_then_cart", "one chemotherapy block as bridge, then CAR-T", _then_cart("chemo"),
                 ("chemo", "cart")),
        Strategy("blina_then_cart", "one blinatumomab cycle as bridge, then CAR-T", _then_cart("blina"),
                 ("blina", "cart")),
        Strategy("ino_then_cart", "one inotuzumab cycle as bridge, then CAR-T", _then_cart("ino"), ("ino", "cart")),
        Strategy("cart_then_hsct", "CAR-T, then consolidative HSCT in remission", _cart_then_hsct, ("cart", "hsct")),
        Strategy("blina_then_hsct", "blinatumomab (2 cycles), then HSCT in remission", _then_hsct("blina", 2),
                 ("blina", "hsct")),
        Strategy("ino_then_hsct", "inotuzumab (3 cycles), then HSCT in remission", _then_hsct("ino", 3),
                 ("ino", "hsct")),
        Strategy("chemo_then_hsct", "chemotherapy (2 blocks), then HSCT in remission", _then_hsct("chemo", 2),
                 ("chemo", "hsct")),
    )
}


def _get(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValidationError(f"strategy must be one of {', '.join(STRATEGIES)}, but was {name!r}")
    return STRATEGIES[name]


def outcome_table(res: SimResult, schedule: Schedule, rng: np.random.Generator, rules: Mapping[str, Rule],
                  method: str = "flow") -> dict[str, np.ndarray]:
    """Per-patient 0/1 outcomes at 3/6/12 months and the cause of the first event by 12 months."""
    out: dict[str, np.ndarray] = {}
    assess = list(res.assessment_days)
    for m, day in MONTH_DAYS.items():
        no_rem = ~(res.remission_day <= day)
        relapsed = res.relapse_day <= day
        dead = res.death_day <= day
        out[f"haem_relapse_{m}m"] = (relapsed | no_rem) & ~(dead & ~relapsed)
        out[f"cd19neg_relapse_{m}m"] = relapsed & res.relapse_cd19neg
        out[f"death_{m}m"] = ~res.alive(day)
        if day in assess:
            burden = res.burden_at[:, assess.index(day)]
            neg = measure_mrd(burden, method, rng, rules).negative
            out[f"mrd_negative_remission_{m}m"] = neg & ~relapsed & ~no_rem & ~dead
    day = MONTH_DAYS[12]
    relapsed = res.relapse_day <= day
    cause = np.full(res.n, "none", dtype=object)
    before = relapsed & ((np.isnan(schedule.cart_day) & np.isnan(schedule.hsct_day))
                         | (res.relapse_day < np.fmin(schedule.cart_day, schedule.hsct_day)))
    cause[relapsed & ~res.relapse_cd19neg & ~res.bca_at_relapse & res.cart_given] = "cd19pos_after_loss_of_car_t"
    cause[relapsed & res.relapse_cd19neg] = "cd19neg_escape"
    cause[relapsed & res.hsct_given & (res.relapse_day > schedule.hsct_day)] = "relapse_after_hsct"
    cause[before & ~res.cart_given & ~res.hsct_given] = "relapse_before_definitive_therapy"
    cause[~(res.remission_day <= day)] = "no_remission"
    nrm = (res.death_day <= day) & ~relapsed
    why = res.death_cause if res.death_cause is not None else np.full(res.n, "hsct_trm", dtype=object)
    cause[nrm & (why == "hsct_trm")] = "transplant_related_death"
    cause[nrm & (why == "cart_toxicity")] = "cart_toxic_death"
    out["cause_12m"] = cause
    return out


def _summary(per_patient: np.ndarray, draws: int, reps: int) -> dict[str, float]:
    p = per_patient.reshape(reps, draws).mean(axis=0)
    return {"p": float(p.mean()), "low": float(np.quantile(p, 0.05)), "high": float(np.quantile(p, 0.95))}


def compare(patients: VirtualPatients, strategies: Sequence[str], *, seed: int, replicates: int = 20,
            rules: Mapping[str, Rule] | None = None, overrides: Mapping[str, Any] | None = None,
            method: str = "flow", horizon_days: int = 365) -> dict[str, Any]:
    """Project each strategy on the same patient draws (common random numbers); see module doc."""
    r = rules if rules is not None else resolve_sim(overrides)
    if not strategies:
        raise ValidationError("strategies must name at least one strategy, but was empty")
    if replicates < 1:
        raise ValidationError(f"replicates must be >= 1, but was {replicates!r}")
    chosen = [_get(s) for s in strategies]
    draws = patients.n
    rep_idx = np.tile(np.arange(draws), replicates)
    pts = patients.take(rep_idx)
    n = pts.n
    out: dict[str, Any] = {"label": "model projection", "draws": draws, "replicates": replicates,
                           "seed": seed, "mrd_method": method, "strategies": {}}
    causes_all: dict[str, dict[str, float]] = {}
    for st in chosen:
        ss = np.random.SeedSequence(seed)  # common random numbers: the same stream per strategy
        rng_sched, rng_sim, rng_meas = (np.random.default_rng(c) for c in ss.spawn(3))
        sched = st.build(n, rng_sched, r)
        res = simulate(pts, sched, rng_sim, horizon_days=horizon_days, rules=r,
                       assessment_days=sorted({*MONTH_DAYS.values()} & set(range(horizon_days + 1))))
        table = outcome_table(res, sched, rng_meas, r, method)
        probs = {k: _summary(v.astype(float), draws, replicates) for k, v in table.items() if k != "cause_12m"}
        cause = table["cause_12m"]
        shares = {str(c): float(np.mean(cause == c)) for c in sorted(set(cause.tolist())) if c != "none"}
        causes_all[st.name] = shares
        rel = res.relapse_day[np.isfinite(res.relapse_day)]
        out["strategies"][st.name] = {
            "description": st.description,
            "probabilities": probs,
            "event_causes_12m": shares,
            "share_cart_infused": float(res.cart_given.mean()),
            "share_hsct_given": float(res.hsct_given.mean()),
            "rests_on": strategy_rests_on(st.name, r),
            "relapse_day_quantiles": ({"q05": float(np.quantile(rel, 0.05)), "q50": float(np.median(rel)),
                                       "q95": float(np.quantile(rel, 0.95))} if rel.size else None),
        }
    ref = chosen[0].name
    drivers = {}
    for name, shares in causes_all.items():
        if name == ref:
            continue
        keys = set(shares) | set(causes_all[ref])
        diff = {k: shares.get(k, 0.0) - causes_all[ref].get(k, 0.0) for k in keys}
        drivers[name] = dict(sorted(diff.items(), key=lambda kv: -abs(kv[1])))
    out["reference"] = ref
    out["drivers_vs_reference"] = drivers
    return out
