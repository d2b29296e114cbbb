"""The virtual-patient model: leukaemic clones by antigen class under treatment, in daily steps.

State (patients on axis 0; one array per state variable):

* ``cells``: leukaemic cells, shape ``(n, 4)``, one column per antigen class
  (:data:`CLONES`: CD19+/CD22-high, CD19+/CD22-low, CD19−/CD22-high, CD19−/CD22-low). The
  CD19− columns hold the minor diagnostic subclone that seeds antigen-negative relapse
  (from the clonal engine when known, else ``cd19_negative_fraction0``). The leukaemic
  fraction (MRD) is ``cells.sum(1) / marrow_cells``.
* CAR-T transgene level (copies/µg) per patient, from the Stein 2019 closed form (Stein AM et
  al., CPT Pharmacometrics Syst Pharmacol 2019;8:285): exponential expansion to Tmax, then
  biexponential contraction; evaluated in log space. Antigen-driven expansion scales Cmax by
  ``(1 + gain·a/(a + a50)) / (1 + gain)`` with ``a`` the CD19+ leukaemic fraction at infusion
  and ``gain`` the 74 % higher Cmax of responders (Mueller KT et al., Clin Cancer Res
  2018;24:6175). CAR-T cells kill CD19+ cells only, at ``kmax·C^h/(C^h + C50^h)`` per day while
  ``C >= cart_functional_copies``; below it they have lost function (loss of persistence) and
  B cells recover: **B-cell aplasia** is the read-out of functional CAR-T. With probability
  ``cart_dysfunction_probability`` a product does not kill at all (primary non-response with
  weak or dysfunctional effectors; Finney OC et al., JCI 2019;129:2123).
* Treatments act on the clones: chemotherapy blocks as a log10 kill of every clone;
  blinatumomab as a daily kill of CD19+ cells with an Emax effect of its steady-state
  concentration (Css = rate / CL, Clements 2020; EC50 = EC90/9 from the EC90 470 pg/mL)
  divided by ``1 + burden/b50`` (lower effector:target ratio at high burden); inotuzumab as a
  log10 kill per cycle by CD22 class; allogeneic HSCT (given only in remission) as a
  conditioning log10 kill, then a graft-versus-leukaemia kill rate, with transplant-related
  death with probability ``hsct_trm_probability`` at a uniform day within
  ``hsct_trm_window_days`` (uncited, [U]).
* Mortality. Deaths without relapse (non-relapse mortality): transplant-related (above) and CAR-T
  toxicity, with probability ``cart_toxic_death_probability`` at a uniform day within
  ``cart_toxic_death_window_days`` of infusion (2/137 adverse-event deaths within 30 days,
  ELIANA+ENSIGN pooled; Levine JE et al., JITC 2021;9:e002287). Death after treatment failure:
  the simulated course ends at haematological relapse (salvage therapy is not modelled), so the
  time from failure to death is drawn from an exponential with median
  ``death_after_failure_median_days``, except for a share ``salvaged_after_failure_fraction``
  whom second-line therapy salvages (a cure fraction; both calibrated, to ELIANA OS at 12 months
  and 3 years, with no published source for either). Failure is haematological relapse, or no remission within ``response_window_days``
  of the start of the last CAR-T infusion (of day 0 without one). Overall survival is the first
  of the two deaths (:meth:`SimResult.overall_death_day`). The mortality draws come from a
  stream spawned from the generator (``rng.spawn``), so adding them left every other draw as it
  was.
* Growth is exponential at the patient's rate; CD19+ cells give CD19− daughters at
  ``cd19_loss_per_division`` per division (escape term of cart_models §2.2).
* Below ``stochastic_below_cells`` a clone takes Poisson branching steps (Kimmel GJ et al.,
  Proc R Soc B 2021;288:20210229): cure is the extinction of every clone, relapse from small
  numbers is a chance event.

Haematological relapse is the first day the leukaemic fraction reaches
``relapse_blast_fraction`` after a remission (below it); the relapse is CD19-negative when
CD19− cells are the majority then. All randomness comes from the ``numpy.random.Generator``
passed in; the loop is over days, never over patients.

See Also
--------
remission.sim.strategies : treatment schedules of strategies; remission.sim.measure : MRD assays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remission.domain.parameters import Rule
from remission.errors import ValidationError
from remission.sim.parameters import blina_css_pg_ml, resolve_sim, value

__all__ = [
    "CLONES",
    "STEIN_KEYS",
    "Schedule",
    "SimResult",
    "VirtualPatients",
    "cart_log_level",
    "simulate",
]

CLONES = ("cd19pos_cd22high", "cd19pos_cd22low", "cd19neg_cd22high", "cd19neg_cd22low")
_POS = np.array([True, True, False, False])
_CD22H = np.array([True, False, True, False])
STEIN_KEYS = ("cmax", "tmax", "foldx", "alpha", "fb", "beta")


def _arr(x: Any, n: int, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(a)):
        raise ValidationError(f"{name} must be finite, but was not for every patient")
    return a


@dataclass(frozen=True)
class VirtualPatients:
    """Patient-level parameters, one array of length ``n`` each."""

    burden0: np.ndarray            # leukaemic fraction at day 0
    growth_per_day: np.ndarray     # net growth rate (ln units per day)
    cd19neg_fraction0: np.ndarray  # CD19-negative share of leukaemic cells at day 0
    cd22low_fraction0: np.ndarray  # CD22-low share of leukaemic cells at day 0
    stein: dict[str, np.ndarray] = field(default_factory=dict)  # Stein 2019 individual parameters

    @property
    def n(self) -> int:
        return int(self.burden0.shape[0])

    @classmethod
    def sample(cls, n: int, rng: np.random.Generator, rules: Mapping[str, Rule] | None = None, *,
               burden0: Any = None, log10_burden0_range: tuple[float, float] | None = None,
               doubling_time_days: Any = None, cd19neg_fraction0: Any = None,
               cd22low_fraction0: Any = None) -> VirtualPatients:
        """Draw ``n`` patients: doubling time log-normal (prior of the rules), Stein 2019 IIV.

        ``burden0`` fixed (scalar or array) or log-uniform over ``log10_burden0_range``.
        """
        from remission.cart.kinetics import sample_stein_population

        r = resolve_sim() if rules is None else rules
        if n < 1:
            raise ValidationError(f"n must be >= 1, but was {n!r}")
        if burden0 is None:
            lo, hi = log10_burden0_range or (-2.0, -0.05)
            b0 = 10.0 ** rng.uniform(lo, hi, n)
        else:
            b0 = _arr(burden0, n, "burden0")
        if doubling_time_days is None:
            td = value(r, "doubling_time_median_days") * np.exp(
                rng.normal(0.0, value(r, "doubling_time_sdlog"), n))
        else:
            td = _arr(doubling_time_days, n, "doubling_time_days")
        stein = sample_stein_population(n, rng, r)
        neg = value(r, "cd19_negative_fraction0") if cd19neg_fraction0 is None else cd19neg_fraction0
        low = value(r, "cd22_low_fraction0") if cd22low_fraction0 is None else cd22low_fraction0
        return cls(b0, math.log(2.0) / td, _arr(neg, n, "cd19neg_fraction0"),
                   _arr(low, n, "cd22low_fraction0"), stein)

    def take(self, idx: np.ndarray) -> VirtualPatients:
        return VirtualPatients(self.burden0[idx], self.growth_per_day[idx], self.cd19neg_fraction0[idx],
                               self.cd22low_fraction0[idx], {k: v[idx] for k, v in self.stein.items()})


def _nan(n: int, k: int = 0) -> np.ndarray:
    return np.full((n, k) if k else (n,), np.nan)


@dataclass(frozen=True)
class Schedule:
    """Treatment days per patient (NaN = not given). Day 0 is the start of the simulation."""

    chemo_days: np.ndarray   # (n, k) start day of each chemotherapy block
    blina_days: np.ndarray   # (n, k) start day of each blinatumomab cycle
    ino_days: np.ndarray     # (n, k) day of each inotuzumab cycle
    cart_day: np.ndarray     # (n,) CAR-T infusion day
    hsct_day: np.ndarray     # (n,) planned HSCT day (given only in remission)

    @classmethod
    def empty(cls, n: int) -> Schedule:
        return cls(_nan(n, 1), _nan(n, 1), _nan(n, 1), _nan(n), _nan(n))


@dataclass(frozen=True)
class SimResult:
    """Per-patient outcomes (arrays of length ``n``); days since the start; NaN = did not happen."""

    remission_day: np.ndarray
    relapse_day: np.ndarray
    relapse_cd19neg: np.ndarray      # bool
    death_day: np.ndarray            # death without relapse (non-relapse mortality: HSCT, CAR-T toxicity)
    cured: np.ndarray                # bool: every clone extinct at the end
    cart_given: np.ndarray           # bool
    hsct_given: np.ndarray           # bool
    bca_at_relapse: np.ndarray       # bool: CAR-T functional (B-cell aplasia) when relapsing
    bca_loss_day: np.ndarray         # first day CAR-T stops functioning after infusion
    assessment_days: tuple[int, ...]
    burden_at: np.ndarray            # (n, len(assessment_days)) true leukaemic fraction
    cd19neg_share_at: np.ndarray     # (n, len(assessment_days))
    horizon_days: int
    trajectory: np.ndarray | None = None  # (n, T) leukaemic fraction per day when recorded
    cart_product_works: np.ndarray | None = None  # bool: the product would kill (not dysfunctional)
    death_cause: np.ndarray | None = None  # str: "hsct_trm", "cart_toxicity" or "" (death_day's cause)
    failure_death_day: np.ndarray | None = None  # death after relapse or primary refractory disease

    def overall_death_day(self) -> np.ndarray:
        """Day of death from any cause (NaN: alive); the first of non-relapse and after-failure death."""
        if self.failure_death_day is None:
            return self.death_day
        return np.fmin(self.death_day, self.failure_death_day)

    def alive(self, day: float) -> np.ndarray:
        """Alive at ``day`` (overall survival)."""
        return ~(self.overall_death_day() <= day)

    @property
    def n(self) -> int:
        return int(self.relapse_day.shape[0])

    def event_free(self, day: float, response_window_days: float = 90.0) -> np.ndarray:
        """No refractoriness (no remission within the response window or by ``day``), relapse or death by ``day``.

        ``response_window_days``: the rule of that name (90 d, ELIANA's "within 3 months").
        """
        resp = self.remission_day <= min(day, response_window_days)
        relapsed = self.relapse_day <= day
        dead = self.death_day <= day
        return resp & ~relapsed & ~dead


def cart_log_level(tau: np.ndarray, stein: Mapping[str, np.ndarray]) -> np.ndarray:
    """log C at ``tau`` days after infusion (Stein 2019 closed form, vectorised, log space)."""
    lc = np.log(stein["cmax"])
    tmax, foldx, alpha, beta = stein["tmax"], stein["foldx"], stein["alpha"], stein["beta"]
    fb = np.clip(stein["fb"], 1e-300, 1.0 - 1e-12)
    up = lc + np.log(foldx) * (tau / tmax - 1.0)
    s = np.maximum(tau - tmax, 0.0)
    down = lc + np.logaddexp(np.log1p(-fb) - alpha * s, np.log(fb) - beta * s)
    return np.where(tau < tmax, up, down)


def simulate(patients: VirtualPatients, schedule: Schedule, rng: np.random.Generator, *,
             horizon_days: int = 730, rules: Mapping[str, Rule] | None = None,
             assessment_days: Sequence[int] | None = None, record: bool = False) -> SimResult:
    """Run the model for ``horizon_days`` daily steps; see the module docstring for the equations."""
    r = resolve_sim() if rules is None else rules
    n = patients.n
    if horizon_days < 1:
        raise ValidationError(f"horizon_days must be >= 1, but was {horizon_days!r}")
    assess = tuple(int(d) for d in (assessment_days if assessment_days is not None
                                    else value(r, "assessment_days")))
    m_cells = value(r, "marrow_cells")
    thr = value(r, "relapse_blast_fraction")
    small = value(r, "stochastic_below_cells")
    mu = value(r, "cd19_loss_per_division")
    # blinatumomab
    css = blina_css_pg_ml(r)
    ec50 = value(r, "blina_ec90_pg_ml") / 9.0
    k_blina = value(r, "blina_kill_max_per_day") * css / (ec50 + css)
    b50 = value(r, "blina_burden_half_effect")
    blina_len = value(r, "blina_cycle_days")
    chemo_kill = 10.0 ** -value(r, "chemo_block_log10_kill")
    ino_kill = np.where(_CD22H, 10.0 ** -value(r, "ino_log10_kill_cd22_high"),
                        10.0 ** -value(r, "ino_log10_kill_cd22_low"))
    k_car = value(r, "cart_kill_max_per_day")
    c50 = value(r, "cart_kill_half_copies")
    hill = value(r, "cart_kill_hill")
    cfun = value(r, "cart_functional_copies")
    gain = value(r, "cart_antigen_expansion_gain")
    a50 = value(r, "cart_antigen_half_fraction")
    cond_kill = 10.0 ** -value(r, "hsct_conditioning_log10_kill")
    gvl = value(r, "hsct_gvl_kill_per_day")
    p_trm = value(r, "hsct_trm_probability")
    trm_window = value(r, "hsct_trm_window_days")
    p_tox = value(r, "cart_toxic_death_probability")
    tox_window = value(r, "cart_toxic_death_window_days")
    p_dys = value(r, "cart_dysfunction_probability")

    neg0 = np.clip(patients.cd19neg_fraction0, 0.0, 1.0)
    low0 = np.clip(patients.cd22low_fraction0, 0.0, 1.0)
    stein = dict(patients.stein)
    has_stein = bool(stein)
    # -- global outputs (indexed by patient)
    remission_day = np.where(patients.burden0 < thr, 0.0, np.nan)
    relapse_day = _nan(n)
    relapse_neg = np.zeros(n, bool)
    relapse_burden = np.zeros(n)
    death_day = _nan(n)
    death_cause = np.full(n, "", dtype=object)
    bca_at_relapse = np.zeros(n, bool)
    bca_loss_day = _nan(n)
    cart_given_out = np.zeros(n, bool)
    hsct_given = np.zeros(n, bool)
    extinct_out = np.zeros(n, bool)
    burden_at = np.zeros((n, len(assess)))
    neg_at = np.zeros((n, len(assess)))
    traj = np.zeros((n, horizon_days + 1)) if record else None
    assess_idx = {d: i for i, d in enumerate(assess)}
    # draw the transplant-related deaths and product dysfunction up front (same stream whatever
    # happens later)
    trm_u = rng.random(n)
    trm_offset = rng.uniform(0.0, trm_window, n)
    # mortality outside HSCT from a spawned stream (leaves the draws above and below unchanged)
    rng_mort = rng.spawn(1)[0]
    tox_u = rng_mort.random(n)
    tox_offset = rng_mort.uniform(0.0, tox_window, n)
    after_failure = rng_mort.exponential(1.0, n)
    salvaged = rng_mort.random(n) < value(r, "salvaged_after_failure_fraction")

    # -- active-set state (compacted as patients finish; ``act`` maps back to patient indices)
    act = np.arange(n)
    g = patients.growth_per_day.copy()
    # cells: (4, m), one row per antigen class (rows contiguous: sums over classes are fast)
    c = (patients.burden0 * m_cells)[None, :] * np.stack(
        [(1 - neg0) * (1 - low0), (1 - neg0) * low0, neg0 * (1 - low0), neg0 * low0])
    car_works = rng.random(n) >= p_dys
    car_works_all = car_works.copy()
    loss_rate = mu * np.maximum(g, 0.0) / math.log(2.0)  # CD19 loss per day (per division x divisions)
    exp_g = np.exp(g)
    # CAR-T transgene level, at mid-day tau + 0.5, by daily recurrences of the Stein closed form:
    # C = E + M; expansion E *= exp(rho); after Tmax E *= exp(-alpha), M *= exp(-beta)
    car_e = np.zeros(n)
    car_m = np.zeros(n)
    f_e = np.ones(n)
    f_m = np.ones(n)
    cross_day = np.full(n, -1.0)
    cmax_eff = np.ones(n)
    cart_given = np.zeros(n, bool)
    gvl_on = np.zeros(n, bool)
    alive = np.ones(n, bool)
    no_rem = np.isnan(remission_day)
    no_rel = np.ones(n, bool)
    cart_day = schedule.cart_day.copy() if has_stein else _nan(n)
    hsct_day = schedule.hsct_day.copy()
    chemo = schedule.chemo_days.copy()
    ino = schedule.ino_days.copy()
    blina = schedule.blina_days.copy()
    trm_u_a, trm_off_a = trm_u, trm_offset
    tox_u_a, tox_off_a = tox_u, tox_offset
    cart_set = set(np.unique(cart_day[np.isfinite(cart_day)]).astype(int).tolist())
    hsct_set = set(np.unique(hsct_day[np.isfinite(hsct_day)]).astype(int).tolist())
    chemo_set = set(np.unique(chemo[np.isfinite(chemo)]).astype(int).tolist())
    ino_set = set(np.unique(ino[np.isfinite(ino)]).astype(int).tolist())
    blina_days = _cycle_days(blina, blina_len)
    any_death = False
    compact_every = 0 if record else 8

    for d in range(horizon_days + 1):
        total = c.sum(axis=0) / m_cells
        over = total > 1.0
        if over.any():
            c[:, over] /= total[over]
            total[over] = 1.0
        if d in assess_idx:  # after a haematological relapse the patient's course ends (frozen)
            i = assess_idx[d]
            burden_at[act, i] = np.where(no_rel, total, relapse_burden[act])
            with np.errstate(invalid="ignore", divide="ignore"):
                neg_at[act, i] = np.where(total > 0, (c[2] + c[3]) / (total * m_cells), 0.0)
        if traj is not None:
            traj[act, d] = total
        # remission and relapse bookkeeping
        in_rem = total < thr
        new_rem = in_rem & no_rem & alive
        if new_rem.any():
            remission_day[act[new_rem]] = d
            no_rem &= ~new_rem
        rel = ~in_rem & no_rel & ~no_rem & alive
        any_rel = bool(rel.any())
        if any_rel:
            relapse_day[act[rel]] = d
            relapse_burden[act[rel]] = total[rel]
            relapse_neg[act[rel]] = (c[2, rel] + c[3, rel]) > (c[0, rel] + c[1, rel])
            no_rel &= ~rel
        if d == horizon_days:
            break
        # -- pulses at the start of day d
        if d in chemo_set:
            c[:, np.any(chemo == d, axis=1)] *= chemo_kill
        if d in ino_set:
            c[:, np.any(ino == d, axis=1)] *= ino_kill[:, None]
        if d in hsct_set:
            hs = (hsct_day == d) & alive & in_rem & no_rel
            c[:, hs] *= cond_kill
            hsct_given[act[hs]] = True
            gvl_on |= hs
            die = hs & (trm_u_a < p_trm)
            _record_death(death_day, death_cause, act[die], d + trm_off_a[die], "hsct_trm")
            any_death = any_death or bool(die.any())
        if d in cart_set:
            inf = (cart_day == d) & alive
            a = (c[0, inf] + c[1, inf]) / m_cells
            cm = stein["cmax"][inf] * (1.0 + gain * a / (a + a50)) / (1.0 + gain)
            cmax_eff[inf] = cm
            tmax, foldx = stein["tmax"][inf], stein["foldx"][inf]
            rho = np.log(foldx) / tmax
            car_e[inf] = cm / foldx * np.exp(rho * 0.5)
            car_m[inf] = 0.0
            f_e[inf] = np.exp(rho)
            f_m[inf] = 1.0
            cross_day[inf] = np.ceil(d + tmax - 0.5)
            # loss of function (B-cell recovery): the first day, from the peak on, that the level is
            # below the functional level (closed form, found once); at once for a dysfunctional product
            gone_idx = act[inf]
            bca_loss_day[gone_idx] = np.where(
                car_works[inf], _loss_day(cm, stein["fb"][inf], stein["alpha"][inf], stein["beta"][inf], tmax,
                                          float(d), cross_day[inf], cfun, horizon_days), float(d))
            cart_given |= inf
            cart_given_out[act[inf]] = True
            die = inf & (tox_u_a < p_tox)
            _record_death(death_day, death_cause, act[die], d + tox_off_a[die], "cart_toxicity")
            any_death = any_death or bool(die.any())
        # -- rates over day d
        kill = None
        if cart_given.any():
            cross = cross_day == d
            if cross.any():  # first mid-day at or after Tmax: exact closed form, then decay
                s_ = d + 0.5 - cart_day[cross] - stein["tmax"][cross]
                fb = np.clip(stein["fb"][cross], 0.0, 1.0)
                car_e[cross] = (1.0 - fb) * cmax_eff[cross] * np.exp(-stein["alpha"][cross] * s_)
                car_m[cross] = fb * cmax_eff[cross] * np.exp(-stein["beta"][cross] * s_)
                f_e[cross] = np.exp(-stein["alpha"][cross])
                f_m[cross] = np.exp(-stein["beta"][cross])
            level = car_e + car_m
            functional = car_works & (level >= cfun)
            if hill == 1.0:
                kill = level + c50
                np.divide(level, kill, out=kill)
            else:
                ch = (level / c50) ** hill
                kill = ch / (1.0 + ch)
            kill *= k_car
            kill[~functional] = 0.0
            if any_rel:
                bca_at_relapse[act[rel]] = functional[rel]
            car_e *= f_e
            car_m *= f_m
        if blina_days.get(d) is not None:
            on = np.any((blina <= d) & (d < blina + blina_len), axis=1)
            kb = np.where(on, k_blina / (1.0 + total / b50), 0.0)
            kill = kb if kill is None else kill + kb
        if gvl_on.any():
            kg = np.where(gvl_on, gvl, 0.0)
            kill = kg if kill is None else kill + kg
            f_neg = exp_g * np.exp(-kg)
        else:
            f_neg = exp_g
        if kill is None:
            f_pos = exp_g
        else:
            f_pos = np.negative(kill, out=kill)
            np.exp(f_pos, out=f_pos)
            f_pos *= exp_g
        # -- CD19 loss (per division), then growth/kill over the day
        if mu > 0:
            moved = c[:2] * loss_rate
            c[:2] -= moved
            c[2:] += moved
        c[:2] *= f_pos
        c[2:] *= f_neg
        sm = c < small
        sm &= c > 0
        if sm.any():
            idx = np.nonzero(sm)
            c[idx] = rng.poisson(c[idx]).astype(float)
        if any_death:
            dead_now = alive & (death_day[act] <= d + 1)
            if dead_now.any():
                alive &= ~dead_now
                c[:, dead_now] = 0.0
        # -- drop finished patients: relapsed, dead, or extinct with no treatment still to come
        if compact_every and d % compact_every == compact_every - 1:
            ext = c.sum(axis=0) == 0
            future = ((cart_day > d) | (hsct_day > d))
            # never in remission, at relapse level, nothing left that kills: stays refractory
            acting = (cart_given & car_works & ((car_e + car_m >= cfun) | (cross_day >= d))) | gvl_on
            later = future | np.any(chemo > d, axis=1) | np.any(ino > d, axis=1) | np.any(blina + blina_len > d, axis=1)
            stuck = no_rem & (total >= thr) & (g > 0) & ~acting & ~later
            done = ~no_rel | ~alive | (ext & ~future) | stuck
            if done.sum() > 0.2 * done.size:
                gone = act[done]
                extinct_out[gone] = ext[done] & alive[done]
                # later assessments: relapsed -> frozen at relapse; extinct or dead -> 0; refractory
                # without treatment -> untreated growth to the cap (what the daily steps would give)
                cur = c[:, done].sum(axis=0) / m_cells
                for j, day in enumerate(assess):
                    if day > d:
                        grown = np.minimum(1.0, cur * np.exp(g[done] * (day - d - 1)))
                        burden_at[gone, j] = np.where(~no_rel[done], relapse_burden[gone],
                                                      np.where(ext[done] | ~alive[done], 0.0, grown))
                        neg_at[gone, j] = 0.0
                keep = ~done
                act = act[keep]
                c = c[:, keep]
                g, exp_g, loss_rate = g[keep], exp_g[keep], loss_rate[keep]
                car_e, car_m, f_e, f_m = car_e[keep], car_m[keep], f_e[keep], f_m[keep]
                cross_day, cmax_eff, cart_given, gvl_on = cross_day[keep], cmax_eff[keep], cart_given[keep], gvl_on[keep]
                alive, no_rem, no_rel, car_works = alive[keep], no_rem[keep], no_rel[keep], car_works[keep]
                cart_day, hsct_day = cart_day[keep], hsct_day[keep]
                chemo, ino, blina = chemo[keep], ino[keep], blina[keep]
                trm_u_a, trm_off_a = trm_u_a[keep], trm_off_a[keep]
                tox_u_a, tox_off_a = tox_u_a[keep], tox_off_a[keep]
                stein = {k: v[keep] for k, v in stein.items()}
                if act.size == 0:
                    break

    # relapses after death do not count (bookkeeping stops at death)
    extinct_out[act] = c.sum(axis=0) == 0
    alive_end = ~(death_day <= horizon_days)
    cured = extinct_out & np.isnan(relapse_day) & alive_end
    # death after treatment failure: relapse, or no remission within the response window of the
    # last CAR-T infusion (of day 0 without one); failures after the horizon are not known
    origin = np.where(cart_given_out, schedule.cart_day, 0.0) if has_stein else np.zeros(n)
    window_end = origin + value(r, "response_window_days")
    refractory = ~(remission_day <= window_end) & (window_end <= horizon_days)
    failure_day = np.fmin(relapse_day, np.where(refractory, window_end, np.nan))
    scale = value(r, "death_after_failure_median_days") / math.log(2.0)
    failure_death = np.where(salvaged, np.nan, failure_day + scale * after_failure)
    return SimResult(remission_day, relapse_day, relapse_neg, death_day, cured, cart_given_out, hsct_given,
                     bca_at_relapse, bca_loss_day, assess, burden_at, neg_at, horizon_days, traj, car_works_all,
                     death_cause, failure_death)


def _record_death(death_day: np.ndarray, cause: np.ndarray, idx: np.ndarray, day: np.ndarray, why: str) -> None:
    """Set the non-relapse death day (and its cause) of patients ``idx`` unless an earlier one is set."""
    if idx.size == 0:
        return
    earlier = ~(death_day[idx] <= day)
    death_day[idx[earlier]] = day[earlier]
    cause[idx[earlier]] = why


def _cycle_days(starts: np.ndarray, length: float) -> dict[int, bool]:
    """Days on which at least one patient is within a cycle of ``length`` days."""
    out: dict[int, bool] = {}
    for s0 in np.unique(starts[np.isfinite(starts)]).astype(int):
        for dd in range(int(s0), int(s0 + length)):
            out[dd] = True
    return out


def _loss_day(cmax: np.ndarray, fb: np.ndarray, alpha: np.ndarray, beta: np.ndarray, tmax: np.ndarray,
              infusion_day: float, cross_day: np.ndarray, cfun: float, horizon: int) -> np.ndarray:
    """First day >= the peak day whose mid-day CAR-T level is below ``cfun`` (NaN: not within horizon).

    After Tmax the Stein level ``(1-FB)·Cmax·e^(-α s) + FB·Cmax·e^(-β s)`` only falls, so a
    bisection over whole days finds it.
    """
    fb = np.clip(fb, 0.0, 1.0)

    def level(day: np.ndarray) -> np.ndarray:
        s_ = day + 0.5 - infusion_day - tmax
        return cmax * ((1.0 - fb) * np.exp(-alpha * s_) + fb * np.exp(-beta * s_))

    lo = cross_day.astype(float)
    hi = np.full(lo.shape, float(horizon))
    never = level(hi) >= cfun
    for _ in range(12):  # 2^12 > any horizon in days
        mid = np.floor((lo + hi) / 2.0)
        below = level(mid) < cfun
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid + 1)
    return np.where(never, np.nan, np.where(level(lo) < cfun, lo, hi))


def _day_sets(days: np.ndarray) -> dict[int, np.ndarray]:
    """day -> boolean mask of patients with a pulse that day (from an (n, k) NaN-padded array)."""
    out: dict[int, np.ndarray] = {}
    if days.size == 0:
        return out
    finite = np.isfinite(days)
    for dd in np.unique(days[finite]).astype(int):
        out[int(dd)] = np.any(days == dd, axis=1)
    return out
