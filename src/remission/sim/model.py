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
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

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
    """Run the model for ``horizon_days`` daily steps; see the module docstring for the equations.

    The steps, in order: :class:`_Params` (rule values), :func:`_draw_fates` (every up-front
    draw), :meth:`_Active.start` (initial populations), then per day :func:`_observe` (cap,
    assessments, remission and relapse), :func:`_pulses` (chemotherapy, inotuzumab, HSCT, CAR-T
    infusion), :func:`_day_factors` (the day's kill rates), :func:`_grow` (escape, growth,
    Poisson steps), :func:`_deaths` and :func:`_compact` (drop finished patients); finally
    :func:`_failure_death_day`.
    """
    r = resolve_sim() if rules is None else rules
    n = patients.n
    if horizon_days < 1:
        raise ValidationError(f"horizon_days must be >= 1, but was {horizon_days!r}")
    assess = tuple(int(d) for d in (assessment_days if assessment_days is not None
                                    else value(r, "assessment_days")))
    p = _Params.from_rules(r)
    has_stein = bool(patients.stein)
    out = _Outcomes.start(patients.burden0, p.thr, assess, horizon_days, record)
    fates = _draw_fates(n, rng, r)
    st = _Active.start(patients, schedule, p, fates)
    cal = _Calendar.of(st, p.blina_len)
    compact_every = 0 if record else 8
    for d in range(horizon_days + 1):
        total, in_rem, rel, any_rel = _observe(st, out, p, d)
        if d == horizon_days:
            break
        _pulses(st, out, p, cal, d, in_rem, horizon_days)
        f_pos, f_neg = _day_factors(st, out, p, cal, d, total, rel, any_rel)
        _grow(st, p, f_pos, f_neg, rng)
        _deaths(st, out, d)
        if (compact_every and d % compact_every == compact_every - 1 and _compact(st, out, p, d, total)
                and st.act.size == 0):
            break
    # relapses after death do not count (bookkeeping stops at death)
    out.extinct[st.act] = st.c.sum(axis=0) == 0
    alive_end = ~(out.death_day <= horizon_days)
    cured = out.extinct & np.isnan(out.relapse_day) & alive_end
    failure_death = _failure_death_day(out, schedule, has_stein, r, horizon_days, fates)
    return SimResult(out.remission_day, out.relapse_day, out.relapse_neg, out.death_day, cured, out.cart_given,
                     out.hsct_given, out.bca_at_relapse, out.bca_loss_day, assess, out.burden_at, out.neg_at,
                     horizon_days, out.traj, fates.car_works, out.death_cause, failure_death)


@dataclass(frozen=True)
class _Params:
    """The rule values the day loop reads (derived rates precomputed)."""

    m_cells: float
    thr: float          # relapse_blast_fraction
    small: float        # stochastic_below_cells
    mu: float           # cd19_loss_per_division
    k_blina: float      # blinatumomab kill rate at Css (Emax of Css with EC50 = EC90/9)
    b50: float
    blina_len: float
    chemo_kill: float
    ino_kill: np.ndarray  # (4,) surviving fraction per antigen class
    k_car: float
    c50: float
    hill: float
    cfun: float
    gain: float
    a50: float
    cond_kill: float
    gvl: float
    p_trm: float
    p_tox: float

    @classmethod
    def from_rules(cls, r: Mapping[str, Rule]) -> _Params:
        css = blina_css_pg_ml(r)
        ec50 = value(r, "blina_ec90_pg_ml") / 9.0
        return cls(
            m_cells=value(r, "marrow_cells"), thr=value(r, "relapse_blast_fraction"),
            small=value(r, "stochastic_below_cells"), mu=value(r, "cd19_loss_per_division"),
            k_blina=value(r, "blina_kill_max_per_day") * css / (ec50 + css),
            b50=value(r, "blina_burden_half_effect"), blina_len=value(r, "blina_cycle_days"),
            chemo_kill=10.0 ** -value(r, "chemo_block_log10_kill"),
            ino_kill=np.where(_CD22H, 10.0 ** -value(r, "ino_log10_kill_cd22_high"),
                              10.0 ** -value(r, "ino_log10_kill_cd22_low")),
            k_car=value(r, "cart_kill_max_per_day"), c50=value(r, "cart_kill_half_copies"),
            hill=value(r, "cart_kill_hill"), cfun=value(r, "cart_functional_copies"),
            gain=value(r, "cart_antigen_expansion_gain"), a50=value(r, "cart_antigen_half_fraction"),
            cond_kill=10.0 ** -value(r, "hsct_conditioning_log10_kill"), gvl=value(r, "hsct_gvl_kill_per_day"),
            p_trm=value(r, "hsct_trm_probability"), p_tox=value(r, "cart_toxic_death_probability"))


@dataclass(frozen=True)
class _Fates:
    """Per-patient draws made before the day loop (so they are the same whatever happens later)."""

    trm_u: np.ndarray
    trm_offset: np.ndarray
    tox_u: np.ndarray
    tox_offset: np.ndarray
    after_failure: np.ndarray
    salvaged: np.ndarray
    car_works: np.ndarray


def _draw_fates(n: int, rng: np.random.Generator, r: Mapping[str, Rule]) -> _Fates:
    """Transplant-related death, mortality outside HSCT, salvage and product dysfunction, in this order.

    Mortality outside HSCT comes from a spawned stream (leaves the draws before and after it unchanged).
    """
    trm_u = rng.random(n)
    trm_offset = rng.uniform(0.0, value(r, "hsct_trm_window_days"), n)
    rng_mort = rng.spawn(1)[0]
    tox_u = rng_mort.random(n)
    tox_offset = rng_mort.uniform(0.0, value(r, "cart_toxic_death_window_days"), n)
    after_failure = rng_mort.exponential(1.0, n)
    salvaged = rng_mort.random(n) < value(r, "salvaged_after_failure_fraction")
    car_works = rng.random(n) >= value(r, "cart_dysfunction_probability")
    return _Fates(trm_u, trm_offset, tox_u, tox_offset, after_failure, salvaged, car_works)


@dataclass(eq=False)
class _Outcomes:
    """Per-patient outputs (all ``n`` patients, indexed by patient), filled in as the days run."""

    remission_day: np.ndarray
    relapse_day: np.ndarray
    relapse_neg: np.ndarray
    relapse_burden: np.ndarray
    death_day: np.ndarray
    death_cause: np.ndarray
    bca_at_relapse: np.ndarray
    bca_loss_day: np.ndarray
    cart_given: np.ndarray
    hsct_given: np.ndarray
    extinct: np.ndarray
    burden_at: np.ndarray
    neg_at: np.ndarray
    traj: np.ndarray | None
    assess: tuple[int, ...]
    assess_idx: dict[int, int]

    @classmethod
    def start(cls, burden0: np.ndarray, thr: float, assess: tuple[int, ...], horizon_days: int,
              record: bool) -> _Outcomes:
        n = int(burden0.shape[0])
        return cls(np.where(burden0 < thr, 0.0, np.nan), _nan(n), np.zeros(n, bool), np.zeros(n), _nan(n),
                   np.full(n, "", dtype=object), np.zeros(n, bool), _nan(n), np.zeros(n, bool), np.zeros(n, bool),
                   np.zeros(n, bool), np.zeros((n, len(assess))), np.zeros((n, len(assess))),
                   np.zeros((n, horizon_days + 1)) if record else None, assess,
                   {d: i for i, d in enumerate(assess)})


@dataclass(eq=False)
class _Active:
    """State of the patients still running (compacted as patients finish; ``act`` maps back to patients).

    ``c`` holds the cells, shape (4, m), one row per antigen class (rows contiguous: sums over
    classes are fast). The CAR-T transgene level at mid-day tau + 0.5 is ``car_e + car_m``, by daily
    recurrences of the Stein closed form: expansion ``car_e *= f_e``; after Tmax ``car_e`` decays at
    alpha and ``car_m`` at beta.
    """

    act: np.ndarray
    c: np.ndarray
    g: np.ndarray
    exp_g: np.ndarray
    loss_rate: np.ndarray    # CD19 loss per day (per division x divisions)
    car_e: np.ndarray
    car_m: np.ndarray
    f_e: np.ndarray
    f_m: np.ndarray
    cross_day: np.ndarray
    cmax_eff: np.ndarray
    cart_given: np.ndarray
    gvl_on: np.ndarray
    alive: np.ndarray
    no_rem: np.ndarray
    no_rel: np.ndarray
    car_works: np.ndarray
    cart_day: np.ndarray
    hsct_day: np.ndarray
    chemo: np.ndarray
    ino: np.ndarray
    blina: np.ndarray
    trm_u: np.ndarray
    trm_off: np.ndarray
    tox_u: np.ndarray
    tox_off: np.ndarray
    stein: dict[str, np.ndarray]
    any_death: bool = False

    @classmethod
    def start(cls, patients: VirtualPatients, schedule: Schedule, p: _Params, fates: _Fates) -> _Active:
        """Initial populations: cells split by antigen class from the CD19−/CD22-low fractions at day 0."""
        n = patients.n
        neg0 = np.clip(patients.cd19neg_fraction0, 0.0, 1.0)
        low0 = np.clip(patients.cd22low_fraction0, 0.0, 1.0)
        g = patients.growth_per_day.copy()
        c = (patients.burden0 * p.m_cells)[None, :] * np.stack(
            [(1 - neg0) * (1 - low0), (1 - neg0) * low0, neg0 * (1 - low0), neg0 * low0])
        has_stein = bool(patients.stein)
        return cls(
            act=np.arange(n), c=c, g=g, exp_g=np.exp(g), loss_rate=p.mu * np.maximum(g, 0.0) / math.log(2.0),
            car_e=np.zeros(n), car_m=np.zeros(n), f_e=np.ones(n), f_m=np.ones(n), cross_day=np.full(n, -1.0),
            cmax_eff=np.ones(n), cart_given=np.zeros(n, bool), gvl_on=np.zeros(n, bool), alive=np.ones(n, bool),
            no_rem=~(patients.burden0 < p.thr), no_rel=np.ones(n, bool), car_works=fates.car_works.copy(),
            cart_day=schedule.cart_day.copy() if has_stein else _nan(n), hsct_day=schedule.hsct_day.copy(),
            chemo=schedule.chemo_days.copy(), ino=schedule.ino_days.copy(), blina=schedule.blina_days.copy(),
            trm_u=fates.trm_u, trm_off=fates.trm_offset, tox_u=fates.tox_u, tox_off=fates.tox_offset,
            stein=dict(patients.stein))

    def keep(self, keep: np.ndarray) -> None:
        """Keep only the patients where ``keep`` is true."""
        for f in fields(self):
            if f.name not in ("c", "stein", "any_death"):
                setattr(self, f.name, getattr(self, f.name)[keep])
        self.c = self.c[:, keep]
        self.stein = {k: v[keep] for k, v in self.stein.items()}


class _Calendar(NamedTuple):
    """Days on which some patient gets each treatment (the loop skips the work on other days)."""

    cart: set[int]
    hsct: set[int]
    chemo: set[int]
    ino: set[int]
    blina: dict[int, bool]

    @classmethod
    def of(cls, st: _Active, blina_len: float) -> _Calendar:
        def days(a: np.ndarray) -> set[int]:
            return set(np.unique(a[np.isfinite(a)]).astype(int).tolist())

        return cls(days(st.cart_day), days(st.hsct_day), days(st.chemo), days(st.ino),
                   _cycle_days(st.blina, blina_len))


def _observe(st: _Active, out: _Outcomes, p: _Params, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Cap the marrow at 1, record assessments and the trajectory, then remissions and relapses of day ``d``.

    Returns the leukaemic fraction, in-remission mask, new-relapse mask and whether any relapsed.
    After a haematological relapse the patient's assessed course ends (frozen at the relapse burden).
    """
    c = st.c
    total = c.sum(axis=0) / p.m_cells
    over = total > 1.0
    if over.any():
        c[:, over] /= total[over]
        total[over] = 1.0
    if d in out.assess_idx:
        i = out.assess_idx[d]
        out.burden_at[st.act, i] = np.where(st.no_rel, total, out.relapse_burden[st.act])
        with np.errstate(invalid="ignore", divide="ignore"):
            out.neg_at[st.act, i] = np.where(total > 0, (c[2] + c[3]) / (total * p.m_cells), 0.0)
    if out.traj is not None:
        out.traj[st.act, d] = total
    in_rem = total < p.thr
    new_rem = in_rem & st.no_rem & st.alive
    if new_rem.any():
        out.remission_day[st.act[new_rem]] = d
        st.no_rem &= ~new_rem
    rel = ~in_rem & st.no_rel & ~st.no_rem & st.alive
    any_rel = bool(rel.any())
    if any_rel:
        out.relapse_day[st.act[rel]] = d
        out.relapse_burden[st.act[rel]] = total[rel]
        out.relapse_neg[st.act[rel]] = (c[2, rel] + c[3, rel]) > (c[0, rel] + c[1, rel])
        st.no_rel &= ~rel
    return total, in_rem, rel, any_rel


def _pulses(st: _Active, out: _Outcomes, p: _Params, cal: _Calendar, d: int, in_rem: np.ndarray,
            horizon_days: int) -> None:
    """Treatments given at the start of day ``d``: chemotherapy, inotuzumab, HSCT, CAR-T infusion."""
    if d in cal.chemo:
        st.c[:, np.any(st.chemo == d, axis=1)] *= p.chemo_kill
    if d in cal.ino:
        st.c[:, np.any(st.ino == d, axis=1)] *= p.ino_kill[:, None]
    if d in cal.hsct:
        _transplant(st, out, p, d, in_rem)
    if d in cal.cart:
        _infuse_cart(st, out, p, d, horizon_days)


def _transplant(st: _Active, out: _Outcomes, p: _Params, d: int, in_rem: np.ndarray) -> None:
    """HSCT (only in remission, before relapse): conditioning kill, GvL from now on, transplant-related death."""
    hs = (st.hsct_day == d) & st.alive & in_rem & st.no_rel
    st.c[:, hs] *= p.cond_kill
    out.hsct_given[st.act[hs]] = True
    st.gvl_on |= hs
    die = hs & (st.trm_u < p.p_trm)
    _record_death(out.death_day, out.death_cause, st.act[die], d + st.trm_off[die], "hsct_trm")
    st.any_death = st.any_death or bool(die.any())


def _infuse_cart(st: _Active, out: _Outcomes, p: _Params, d: int, horizon_days: int) -> None:
    """CAR-T infusion: antigen-scaled Cmax, expansion recurrence, loss-of-function day, toxic death."""
    inf = (st.cart_day == d) & st.alive
    stein = st.stein
    a = (st.c[0, inf] + st.c[1, inf]) / p.m_cells
    cm = stein["cmax"][inf] * (1.0 + p.gain * a / (a + p.a50)) / (1.0 + p.gain)
    st.cmax_eff[inf] = cm
    tmax, foldx = stein["tmax"][inf], stein["foldx"][inf]
    rho = np.log(foldx) / tmax
    st.car_e[inf] = cm / foldx * np.exp(rho * 0.5)
    st.car_m[inf] = 0.0
    st.f_e[inf] = np.exp(rho)
    st.f_m[inf] = 1.0
    st.cross_day[inf] = np.ceil(d + tmax - 0.5)
    # loss of function (B-cell recovery): the first day, from the peak on, that the level is
    # below the functional level (closed form, found once); at once for a dysfunctional product
    out.bca_loss_day[st.act[inf]] = np.where(
        st.car_works[inf], _loss_day(cm, stein["fb"][inf], stein["alpha"][inf], stein["beta"][inf], tmax,
                                     float(d), st.cross_day[inf], p.cfun, horizon_days), float(d))
    st.cart_given |= inf
    out.cart_given[st.act[inf]] = True
    die = inf & (st.tox_u < p.p_tox)
    _record_death(out.death_day, out.death_cause, st.act[die], d + st.tox_off[die], "cart_toxicity")
    st.any_death = st.any_death or bool(die.any())


def _cart_kill(st: _Active, out: _Outcomes, p: _Params, d: int, rel: np.ndarray,
               any_rel: bool) -> np.ndarray | None:
    """CAR-T kill rate of CD19+ cells over day ``d`` (None: no CAR-T given yet); advances the level a day."""
    if not st.cart_given.any():
        return None
    cross = st.cross_day == d
    if cross.any():  # first mid-day at or after Tmax: exact closed form, then decay
        stein = st.stein
        s_ = d + 0.5 - st.cart_day[cross] - stein["tmax"][cross]
        fb = np.clip(stein["fb"][cross], 0.0, 1.0)
        st.car_e[cross] = (1.0 - fb) * st.cmax_eff[cross] * np.exp(-stein["alpha"][cross] * s_)
        st.car_m[cross] = fb * st.cmax_eff[cross] * np.exp(-stein["beta"][cross] * s_)
        st.f_e[cross] = np.exp(-stein["alpha"][cross])
        st.f_m[cross] = np.exp(-stein["beta"][cross])
    level = st.car_e + st.car_m
    functional = st.car_works & (level >= p.cfun)
    if p.hill == 1.0:
        kill = level + p.c50
        np.divide(level, kill, out=kill)
    else:
        ch = (level / p.c50) ** p.hill
        kill = ch / (1.0 + ch)
    kill *= p.k_car
    kill[~functional] = 0.0
    if any_rel:
        out.bca_at_relapse[st.act[rel]] = functional[rel]
    st.car_e *= st.f_e
    st.car_m *= st.f_m
    return kill


def _day_factors(st: _Active, out: _Outcomes, p: _Params, cal: _Calendar, d: int, total: np.ndarray,
                 rel: np.ndarray, any_rel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Growth-and-kill factors over day ``d`` for CD19+ and CD19− cells (CAR-T, blinatumomab, GvL)."""
    kill = _cart_kill(st, out, p, d, rel, any_rel)
    if cal.blina.get(d) is not None:
        on = np.any((st.blina <= d) & (d < st.blina + p.blina_len), axis=1)
        kb = np.where(on, p.k_blina / (1.0 + total / p.b50), 0.0)
        kill = kb if kill is None else kill + kb
    if st.gvl_on.any():
        kg = np.where(st.gvl_on, p.gvl, 0.0)
        kill = kg if kill is None else kill + kg
        f_neg = st.exp_g * np.exp(-kg)
    else:
        f_neg = st.exp_g
    if kill is None:
        f_pos = st.exp_g
    else:
        f_pos = np.negative(kill, out=kill)
        np.exp(f_pos, out=f_pos)
        f_pos *= st.exp_g
    return f_pos, f_neg


def _grow(st: _Active, p: _Params, f_pos: np.ndarray, f_neg: np.ndarray, rng: np.random.Generator) -> None:
    """CD19 loss (per division), growth and kill over the day, then Poisson steps below ``small`` cells."""
    c = st.c
    if p.mu > 0:
        moved = c[:2] * st.loss_rate
        c[:2] -= moved
        c[2:] += moved
    c[:2] *= f_pos
    c[2:] *= f_neg
    sm = c < p.small
    sm &= c > 0
    if sm.any():
        idx = np.nonzero(sm)
        c[idx] = rng.poisson(c[idx]).astype(float)


def _deaths(st: _Active, out: _Outcomes, d: int) -> None:
    """Patients whose non-relapse death falls by the end of day ``d`` die: their cells are cleared."""
    if st.any_death:
        dead_now = st.alive & (out.death_day[st.act] <= d + 1)
        if dead_now.any():
            st.alive &= ~dead_now
            st.c[:, dead_now] = 0.0


def _compact(st: _Active, out: _Outcomes, p: _Params, d: int, total: np.ndarray) -> bool:
    """Drop finished patients (relapsed, dead, extinct with no treatment to come, or stuck refractory).

    Only when more than 20 % of the active set is finished; returns whether it compacted.
    """
    ext = st.c.sum(axis=0) == 0
    future = ((st.cart_day > d) | (st.hsct_day > d))
    # never in remission, at relapse level, nothing left that kills: stays refractory
    acting = (st.cart_given & st.car_works & ((st.car_e + st.car_m >= p.cfun) | (st.cross_day >= d))) | st.gvl_on
    later = (future | np.any(st.chemo > d, axis=1) | np.any(st.ino > d, axis=1)
             | np.any(st.blina + p.blina_len > d, axis=1))
    stuck = st.no_rem & (total >= p.thr) & (st.g > 0) & ~acting & ~later
    done = ~st.no_rel | ~st.alive | (ext & ~future) | stuck
    if not done.sum() > 0.2 * done.size:
        return False
    gone = st.act[done]
    out.extinct[gone] = ext[done] & st.alive[done]
    # later assessments: relapsed -> frozen at relapse; extinct or dead -> 0; refractory
    # without treatment -> untreated growth to the cap (what the daily steps would give)
    cur = st.c[:, done].sum(axis=0) / p.m_cells
    for j, day in enumerate(out.assess):
        if day > d:
            grown = np.minimum(1.0, cur * np.exp(st.g[done] * (day - d - 1)))
            out.burden_at[gone, j] = np.where(~st.no_rel[done], out.relapse_burden[gone],
                                              np.where(ext[done] | ~st.alive[done], 0.0, grown))
            out.neg_at[gone, j] = 0.0
    st.keep(~done)
    return True


def _failure_death_day(out: _Outcomes, schedule: Schedule, has_stein: bool, r: Mapping[str, Rule],
                       horizon_days: int, fates: _Fates) -> np.ndarray:
    """Death after treatment failure (NaN: salvaged, or no failure within the horizon).

    Failure is relapse, or no remission within the response window of the last CAR-T infusion (of
    day 0 without one); failures after the horizon are not known.
    """
    n = out.relapse_day.shape[0]
    origin = np.where(out.cart_given, schedule.cart_day, 0.0) if has_stein else np.zeros(n)
    window_end = origin + value(r, "response_window_days")
    refractory = ~(out.remission_day <= window_end) & (window_end <= horizon_days)
    failure_day = np.fmin(out.relapse_day, np.where(refractory, window_end, np.nan))
    scale = value(r, "death_after_failure_median_days") / math.log(2.0)
    return np.where(fates.salvaged, np.nan, failure_day + scale * fates.after_failure)


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
