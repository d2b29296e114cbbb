"""The strategy timeline: projected time to haematological relapse beside the time options need.

For the posterior draws of a calibrated patient (:func:`remission.sim.fit.fit_patient`) the
natural course ("watch") gives the projected time to haematological relapse. Beside it, the
time each option needs to become available, drawn from the cited distributions (CAR-T
enrolment to infusion and the share never infused; unrelated-donor search; HSCT after
remission; see :mod:`remission.sim.strategies`), and the probability that relapse comes first.
Bridges are listed with whether they fit the patient's state (burden, CD19/CD22, prior
therapy) and why. This is decision support that shows its assumptions; **it never
recommends**, and every number is a model projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from remission.domain.case import CD19_DIRECTED_AGENTS
from remission.domain.parameters import Rule
from remission.sim.model import Schedule, VirtualPatients, simulate
from remission.sim.parameters import resolve_sim, value
from remission.sim.strategies import cart_infusion_days, donor_found_days

__all__ = ["PatientState", "PriorTherapy", "bridge_options", "cd19_car_t_note", "strategy_timeline"]

_NON_RESPONSE = ("NR", "PD", "SD")


@dataclass(frozen=True)
class PriorTherapy:
    name: str
    kind: str  # chemotherapy | bispecific | antibody_drug_conjugate | cart | ...
    best_response: str | None = None


@dataclass(frozen=True)
class PatientState:
    """What the bridge rules read: burden now, antigens (% of blasts), prior therapies."""

    burden_now: float | None = None
    cd19_percent: float | None = None
    cd22_percent: float | None = None
    prior: tuple[PriorTherapy, ...] = ()


def _q(a: np.ndarray) -> dict[str, float | None]:
    fin = a[np.isfinite(a)]
    out: dict[str, float | None] = {"share_within_horizon": float(fin.size / a.size) if a.size else 0.0}
    for k, p in (("q05", 0.05), ("q25", 0.25), ("q50", 0.5), ("q75", 0.75), ("q95", 0.95)):
        v = float(np.quantile(np.where(np.isfinite(a), a, np.inf), p, method="inverted_cdf"))
        out[k] = v if np.isfinite(v) else None
    return out


def bridge_options(state: PatientState, rules: Mapping[str, Rule] | None = None) -> list[dict[str, Any]]:
    """Which bridges fit the patient's state, with the reasons (never a recommendation)."""
    r = resolve_sim() if rules is None else rules
    pos_min = value(r, "antigen_positive_min_percent")
    b50 = value(r, "blina_burden_half_effect")

    def refractory(kind: str) -> list[str]:
        return [f"no response to earlier {p.name} (best response {p.best_response})"
                for p in state.prior if p.kind == kind and p.best_response in _NON_RESPONSE]

    out = []
    # blinatumomab
    reasons, fits = [], True
    if state.cd19_percent is None:
        reasons.append("CD19 expression not given: check before a CD19-directed bridge")
    elif state.cd19_percent < pos_min:
        fits = False
        reasons.append(f"CD19 on {state.cd19_percent:g} % of blasts (< {pos_min:g} %): CD19-directed "
                       "therapy does not act on CD19-negative cells")
    else:
        reasons.append(f"CD19 on {state.cd19_percent:g} % of blasts")
    if state.burden_now is not None:
        eff = 1.0 / (1.0 + state.burden_now / b50)
        reasons.append(f"at the projected leukaemic fraction {state.burden_now:.2g} the model's blinatumomab "
                       f"effect is {eff:.0%} of maximal (halved at {b50:g}; uncertain parameter)")
    ref = refractory("bispecific")
    if ref:
        fits = False
        reasons += ref
    reasons.append("selects CD19-negative cells like CD19 CAR-T (shared escape path)")
    earlier = _cd19_directed(state)
    if earlier:
        reasons.append(f"earlier CD19-directed therapy ({', '.join(earlier)}): CD19-negative escape is more "
                       "likely; check CD19 on the current blasts")
    out.append({"bridge": "blinatumomab", "fits": fits, "reasons": reasons})
    # inotuzumab
    reasons, fits = [], True
    if state.cd22_percent is None:
        reasons.append("CD22 expression not given: check before inotuzumab")
    elif state.cd22_percent < pos_min:
        fits = False
        reasons.append(f"CD22 on {state.cd22_percent:g} % of blasts (< {pos_min:g} %)")
    else:
        reasons.append(f"CD22 on {state.cd22_percent:g} % of blasts; acts on CD19-negative cells that keep CD22")
    ref = refractory("antibody_drug_conjugate")
    if ref:
        fits = False
        reasons += ref
    out.append({"bridge": "inotuzumab", "fits": fits, "reasons": reasons})
    # chemotherapy
    reasons = ["acts on every antigen class (model: log10 kill per block, an uncertain parameter)"]
    ref = refractory("chemotherapy")
    fits = not ref
    reasons += ref
    out.append({"bridge": "chemotherapy", "fits": fits, "reasons": reasons})
    return out


def _cd19_directed(state: PatientState) -> list[str]:
    return [p.name for p in state.prior if any(a in p.name.lower() for a in CD19_DIRECTED_AGENTS)]


def cd19_car_t_note(state: PatientState, rules: Mapping[str, Rule] | None = None) -> dict[str, Any]:
    """Whether CD19 CAR-T (the option the bridge leads to) fits the antigen state, with reasons."""
    r = resolve_sim() if rules is None else rules
    pos_min = value(r, "antigen_positive_min_percent")
    reasons, fits = [], True
    if state.cd19_percent is None:
        reasons.append("CD19 expression not given: check before CD19 CAR-T")
    elif state.cd19_percent < pos_min:
        fits = False
        reasons.append(f"CD19 on {state.cd19_percent:g} % of blasts (< {pos_min:g} %)")
    else:
        reasons.append(f"CD19 on {state.cd19_percent:g} % of blasts")
    earlier = _cd19_directed(state)
    if earlier:
        reasons.append(f"earlier CD19-directed therapy: {', '.join(earlier)}")
    return {"option": "CD19 CAR-T", "fits": fits, "reasons": reasons}


def strategy_timeline(patients_now: VirtualPatients, *, seed: int, state: PatientState | None = None,
                      horizon_days: int = 365, rules: Mapping[str, Rule] | None = None,
                      now_offset_days: int = 0) -> dict[str, Any]:
    """Projected relapse time (watch) beside CAR-T, donor-search and HSCT availability.

    ``patients_now``: posterior draws with their state today (day 0 of the projection).
    """
    r = resolve_sim() if rules is None else rules
    ss = np.random.SeedSequence(seed)
    rng_sim, rng_cart, rng_donor = (np.random.default_rng(c) for c in ss.spawn(3))
    n = patients_now.n
    res = simulate(patients_now, Schedule.empty(n), rng_sim, horizon_days=horizon_days, rules=r)
    in_relapse_now = ~(patients_now.burden0 < value(r, "relapse_blast_fraction"))
    rel = np.where(in_relapse_now, 0.0, res.relapse_day)
    rel = np.where(np.isnan(rel), np.inf, rel)
    cart = cart_infusion_days(n, rng_cart, r)
    donor = donor_found_days(n, rng_donor, r)
    hsct = np.maximum(donor, value(r, "hsct_after_remission_days"))
    options: list[dict[str, Any]] = []
    for name, avail, src in (
        ("CAR-T (enrolment to infusion)", cart,
         ["cart_vein_to_vein_median_days", "cart_vein_to_vein_sdlog", "cart_not_infused_fraction"]),
        ("unrelated donor identified", donor, ["donor_search_mean_days", "donor_search_sdlog"]),
        ("HSCT (donor found and consolidation in remission)", hsct,
         ["donor_search_mean_days", "hsct_after_remission_days"]),
    ):
        never = np.isnan(avail)
        first = (rel < np.where(never, np.inf, avail)) & ~never
        options.append({
            "option": name,
            "days_needed": _q(np.where(never, np.inf, avail)),
            "share_never_available": float(never.mean()),
            "p_relapse_before_available": float(first.sum() / max(int((~never).sum()), 1)),
            "rests_on": src,
        })
    p_cart_first = options[0]["p_relapse_before_available"]
    return {
        "label": "model projection",
        "draws": n,
        "seed": seed,
        "horizon_days": horizon_days,
        "now_offset_days": now_offset_days,
        "in_relapse_now_share": float(in_relapse_now.mean()),
        "time_to_haematological_relapse_days": _q(rel),
        "options": options,
        "bridge_question": (
            f"without treatment, haematological relapse comes before CAR-T infusion in "
            f"{p_cart_first:.0%} of projections (among those infused); that is the share in which a "
            "bridge would be needed to reach CAR-T"),
        "bridges": bridge_options(state or PatientState(), r),
        "cd19_car_t": cd19_car_t_note(state or PatientState(), r),
        "note": "decision support showing its assumptions; it does not recommend a strategy",
    }

