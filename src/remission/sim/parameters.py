"""Named, cited, overridable parameters of the virtual-patient simulator.

Every number the simulator uses is a :class:`~remission.domain.parameters.Rule` with a tag:
``C`` read in the cited source (implemented exactly), ``R`` recalled, ``U`` uncertain, not in
a source, or **calibrated by remission** (said so in the source text, with the anchor it was
calibrated to). Override any of them by name (``resolve(SIM_RULES, {"name": value})``, or
``--param name=value`` on the command line); every result records the resolved values in its
provenance and lists the ``R``/``U``/user rules it rests on.

Sources (papers, as cited in the docstrings of the model):

* Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285 (CAR-T cellular kinetics,
  Table 1; reused from :data:`remission.cart.kinetics.KINETICS_RULES`).
* Maude SL et al., NEJM 2018;378:439 (ELIANA); Laetsch TW et al., JCO 2023;41:1664; Levine JE
  et al., JITC 2021;9:e002287 (enrolment to infusion); Mueller KT et al., Clin Cancer Res
  2018;24:6175 (Cmax of responders); Pulsipher MA et al., Blood Cancer Discov 2022;3:66.
* Blinatumomab: Clements JD et al., Clin Pharmacokinet 2020 (population PK, CL 2.22 L/h);
  ASCO 2013 NCA abstract (EC90 470 pg/mL); label (28-day cycles, 14 days off).
* Brown PA et al., JAMA 2021;325:833 (COG AALL1331); Locatelli F et al., JAMA 2021;325:843.
* León-Triana O et al., Commun Nonlinear Sci Numer Simul 2021;94:105570 (cell numbers);
  Kimmel GJ et al., Proc R Soc B 2021;288:20210229 (stochastic extinction at small numbers).
* Unrelated-donor search times: Bone Marrow Research 2012 (registry searches 2010-2012, Table 5).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from remission.cart.kinetics import KINETICS_RULES
from remission.domain.parameters import Rule, resolve, rule_set

__all__ = ["SIM_RULES", "resolve_sim", "value"]

_CAL = "calibrated by remission (not a published value)"
_ELIANA = "Maude SL et al., NEJM 2018;378:439 (ELIANA)"
_LEVINE = "Levine JE et al., JITC 2021;9:e002287 (ELIANA+ENSIGN pooled, n=137)"
_AALL1331 = "Brown PA et al., JAMA 2021;325:833 (COG AALL1331)"
_LOCATELLI = "Locatelli F et al., JAMA 2021;325:843"
_BLINA_PK = "Clements JD et al., Clin Pharmacokinet 2020 (blinatumomab population PK, 674 patients)"
_DONOR = "Bone Marrow Research 2012, Table 5 (unrelated-donor registry searches 2010-2012)"
_LEON = ("León-Triana O et al., Commun Nonlinear Sci Numer Simul 2021;94:105570 "
         "(BioModels BIOMD0000001011: L(0) = 5e10 leukaemic cells)")

SIM_RULES: dict[str, Rule] = rule_set(
    # ---- disease scale and growth -----------------------------------------------------------
    Rule("marrow_cells", 1e11, "U",
         f"order of magnitude from {_LEON}; the scale of a leukaemic fraction of 1",
         "leukaemic cells that correspond to a leukaemic fraction (MRD) of 1"),
    Rule("doubling_time_median_days", 14.0, "U",
         "cart_models.md §3.1: no ALL-specific doubling time published; prior spanning about "
         "5-40 d (geometric mean 14 d)",
         "median of the log-normal prior of the leukaemia doubling time"),
    Rule("doubling_time_sdlog", 0.53, "U",
         "cart_models.md §3.1: 5-40 d taken as the central 95 % (ln(40/5)/(2*1.96))",
         "SD of the log doubling time across patients"),
    Rule("relapse_blast_fraction", 0.05, "R", "5 % marrow blasts (morphological relapse convention)",
         "leukaemic fraction that counts as haematological relapse"),
    Rule("stochastic_below_cells", 1000.0, "R",
         "Kimmel GJ et al., Proc R Soc B 2021;288:20210229 (hybrid scheme: stochastic at small numbers)",
         "below this many cells a clone grows/shrinks as a Poisson branching step (cure is extinction)"),
    # ---- antigen classes ----------------------------------------------------------------------
    Rule("cd19_negative_fraction0", 2e-10, "U",
         f"{_CAL}: minor CD19-negative (or lineage-switch-prone) subclone at the start, calibrated "
         "to ELIANA 12-month EFS 50 % (Maude 2018)",
         "fraction of leukaemic cells that are CD19-negative at the start when the clonal engine "
         "gives no subclone"),
    Rule("cd19_loss_per_division", 1e-12, "U",
         "cart_models.md §2.2 (escape term mu; value not published)",
         "probability per division that a CD19+ cell gives a CD19-negative daughter"),
    Rule("cd22_low_fraction0", 0.1, "U", "not in the specs",
         "fraction of leukaemic cells with low CD22 density when CD22 % is not given"),
    # ---- chemotherapy -------------------------------------------------------------------------
    Rule("chemo_block_log10_kill", 1.35, "U",
         f"{_CAL}: to {_AALL1331}: MRD-negative after the randomised cycle 1 in 32 % (chemotherapy "
         "arm), virtual population of remission.sim.validation.virtual_trial_blinatumomab",
         "log10 kill of every leukaemic clone by one intensive chemotherapy block"),
    Rule("chemo_block_days", 28, "U", "not in the specs (one block of a relapse protocol)",
         "length of one chemotherapy block"),
    # ---- blinatumomab -------------------------------------------------------------------------
    Rule("blina_dose_ug_per_day", 28.0, "C", "blinatumomab label (>= 45 kg: 28 µg/d from day 8)",
         "infusion rate used for the steady-state concentration"),
    Rule("blina_cl_l_per_h", 2.22, "C", _BLINA_PK, "clearance (one compartment, linear)"),
    Rule("blina_ec90_pg_ml", 470.0, "C", "blinatumomab NCA, JCO 2013 suppl 3048 (in-vitro EC90)",
         "EC90; with an Emax model (Hill 1) EC50 = EC90/9"),
    Rule("blina_kill_max_per_day", 0.25, "U",
         f"{_CAL}: to {_AALL1331}: MRD-negative after cycle 1 in 75 % (blinatumomab arm), virtual "
         "population of remission.sim.validation.virtual_trial_blinatumomab",
         "maximal daily kill rate of CD19+ leukaemic cells under blinatumomab"),
    Rule("blina_burden_half_effect", 0.05, "U",
         "not in the specs (lower response at high burden, Park 2018 low-burden contrast)",
         "leukaemic fraction at which the blinatumomab effect is halved (effector:target ratio)"),
    Rule("blina_cycle_days", 28, "C", "blinatumomab label (28 d continuous infusion)",
         "days of one cycle"),
    Rule("blina_break_days", 14, "C", "blinatumomab label (14 d off between cycles)",
         "days between cycles"),
    # ---- inotuzumab ---------------------------------------------------------------------------
    Rule("ino_log10_kill_cd22_high", 2.0, "U",
         "not in the specs: no inotuzumab kill published; the one anchor, AALL1621 CR/CRi after cycle 1 "
         "58.3 % (90 % CI 46.5-69.3; O'Brien MM et al., JCO 2022;40:956), is compared, not calibrated "
         "(remission.sim.validation.virtual_trial_inotuzumab: the model gives about 44 %)",
         "log10 kill of CD22-high leukaemic cells per inotuzumab cycle"),
    Rule("ino_log10_kill_cd22_low", 0.3, "U", "not in the specs (sets, with cd22_low_fraction0, the response ceiling)",
         "log10 kill of CD22-low leukaemic cells per inotuzumab cycle"),
    Rule("ino_cycle_days", 28, "C",
         "O'Brien MM et al., JCO 2022;40:956 (COG AALL1621): 28-day cycles (clinical_rules.md)",
         "days of one inotuzumab cycle"),
    # ---- CAR-T ----------------------------------------------------------------------------------
    Rule("cart_kill_max_per_day", 4.0, "U",
         f"{_CAL}: to ELIANA 12-month EFS 50 % ({_ELIANA})",
         "maximal daily kill rate of CD19+ cells (leukaemic and normal B) by CAR-T cells"),
    Rule("cart_kill_half_copies", 10000.0, "U",
         f"{_CAL}: to ELIANA 12-month EFS 50 % ({_ELIANA})",
         "CAR transgene level (copies/µg) giving half the maximal kill rate"),
    Rule("cart_dysfunction_probability", 0.19, "U",
         f"{_CAL}: to ELIANA overall remission 81 % within 3 months ({_ELIANA}); mechanism: "
         "Finney OC et al., JCI 2019;129:2123 (initial failures with weak expansion or rapid loss "
         "of functional CAR effectors)",
         "probability that a patient's CAR-T product does not kill (primary non-response)"),
    Rule("cart_kill_hill", 1.0, "U",
         "not in the specs (1 = plain Emax curve)",
         "Hill coefficient of the CAR-T kill rate"),
    Rule("cart_functional_copies", 100.0, "U",
         f"{_CAL}: to ELIANA 12-month EFS 50 % ({_ELIANA})",
         "CAR transgene level (copies/µg) below which CAR-T cells stop killing: loss of "
         "persistence, B-cell recovery"),
    Rule("cart_antigen_expansion_gain", 0.74, "R",
         "Mueller KT et al., Clin Cancer Res 2018;24:6175 (responders 74 % higher Cmax)",
         "relative Cmax increase with ample CD19 antigen (leukaemic + normal B cells)"),
    Rule("cart_antigen_half_fraction", 0.01, "U", "not in the specs",
         "CD19+ leukaemic fraction giving half of the antigen-driven expansion gain"),
    Rule("cart_vein_to_vein_median_days", 43.0, "C", f"{_LEVINE}: median enrolment to infusion 43 d",
         "median days from enrolment to CAR-T infusion"),
    Rule("cart_vein_to_vein_sdlog", 0.35, "U",
         f"{_LEVINE} range 24-133 d; UK national scheme IQR 50-80 d (Blood Cancer J 2024): "
         "ln(80/50)/1.349",
         "SD of log enrolment-to-infusion time (log-normal)"),
    Rule("cart_not_infused_fraction", 17 / 92, "C",
         f"{_ELIANA} primary analysis: 17/92 enrolled not infused (8 % manufacturing failure, "
         "11 % not infused)", "share of enrolled patients never infused"),
    # ---- HSCT ---------------------------------------------------------------------------------
    Rule("hsct_conditioning_log10_kill", 3.0, "U",
         "not in the specs (simulation.md, cart_models.md §2.6 names the term without a value)",
         "log10 kill of every leukaemic clone by myeloablative conditioning"),
    Rule("hsct_gvl_kill_per_day", 0.08, "U",
         "not in the specs (cart_models.md §2.6 names the term without a value)",
         "daily kill rate of every leukaemic clone by graft-versus-leukaemia"),
    Rule("hsct_trm_probability", 0.10, "U",
         f"not in the specs; order of magnitude: deaths as first event 11 % vs 17 % in {_AALL1331}",
         "transplant-related mortality (death without relapse) within the first year"),
    Rule("hsct_trm_window_days", 365, "U",
         "not in the specs (the death day is uniform over this window after HSCT)",
         "days after HSCT within which a transplant-related death falls"),
    # ---- mortality outside HSCT ---------------------------------------------------------------
    Rule("cart_toxic_death_probability", 2 / 137, "C",
         f"{_LEVINE}: 4 deaths within 30 days of infusion, 2 from leukaemia and 2 from adverse events",
         "death from CAR-T toxicity (adverse event, not leukaemia) after infusion"),
    Rule("cart_toxic_death_window_days", 30, "C",
         f"{_LEVINE}: deaths 'within 30 days' of infusion (the day is uniform over the window: [U])",
         "days after infusion within which a CAR-T toxic death falls"),
    Rule("death_after_failure_median_days", 50.0, "U",
         f"{_CAL}: to ELIANA 12-month overall survival 76 % (63-86) ({_ELIANA}), jointly with "
         "salvaged_after_failure_fraction (coarse grid, seed 20180201, n=4000); no source in the specs "
         "gives survival after relapse from CAR-T (salvage therapy is not modelled)",
         "median days from treatment failure (haematological relapse, or no remission within the "
         "response window) to death; exponential (constant hazard). Calibrated on failures after "
         "CAR-T (r/r disease): applied to a relapse with CAR-T or HSCT still available it likely "
         "overstates death"),
    Rule("salvaged_after_failure_fraction", 0.42, "U",
         f"{_CAL}: to ELIANA 3-year overall survival 63 % (51-73) (Laetsch TW et al., JCO "
         "2023;41:1664); mechanism: second-line therapy after CAR-T failure (HSCT, reinfusion) "
         "salvages some patients (RIALTO, Blood Adv 2022;6:1004: 1-year OS 87 % with alloHSCT); no "
         "source in the specs gives the share",
         "share of patients who fail treatment and are not at risk of death from leukaemia (long-term "
         "salvage, a cure fraction); the others die after an exponential time"),
    Rule("response_window_days", 90, "C",
         f"{_ELIANA}: overall remission within 3 months",
         "a patient never in remission by this day has failed treatment on this day (the origin of "
         "the time to death after failure)"),
    Rule("hsct_after_remission_days", 58.0, "C",
         f"{_LOCATELLI}: time to HSCT median 1.9 months (1-3) after blinatumomab",
         "median days from start of consolidation in remission to HSCT"),
    Rule("donor_search_mean_days", 73.0, "C",
         f"{_DONOR}: mean 54 d (high-probability), 73 d (intermediate), 83 d (low) to donor "
         "identification", "mean days to identify an unrelated donor (intermediate probability)"),
    Rule("donor_search_sdlog", 0.5, "U", f"{_DONOR}: ranges 20-308 d; spread not published",
         "SD of log donor-search time (log-normal)"),
    Rule("antigen_positive_min_percent", 20.0, "U",
         "not in the specs; EGIL marker-positivity convention (>= 20 % of blasts) — confirm",
         "CD19/CD22 expression (% of blasts) below which an antigen-directed bridge is listed as "
         "not fitting"),
    # ---- measurement ---------------------------------------------------------------------------
    Rule("lod_ngs", 1e-6, "C", "Pulsipher 2022 (clonoSEQ NGS-MRD, LoD about 1e-6)",
         "limit of detection of NGS-MRD"),
    Rule("lod_flow", 1e-4, "C", "Pulsipher 2022 companion ASH 2018 abstract (flow MRD LoD 0.01 %)",
         "limit of detection of flow MRD"),
    Rule("lod_pcr", 1e-5, "R", "EuroMRD RQ-PCR sensitivity convention", "limit of detection of RQ-PCR"),
    Rule("loq_over_lod", 10.0, "U", "not in the specs", "LoQ as a multiple of the LoD"),
    Rule("mrd_noise_log10_sd", 0.2, "U", "not in the specs",
         "SD of the measurement error of a quantified MRD value (log10)"),
    Rule("fit_sigma_log10", 0.3, "U", "not in the specs (assay noise plus model error)",
         "residual SD of log10 MRD in the calibration likelihood"),
    Rule("fit_log10_burden_range", [-10.0, 0.0], "U",
         "not in the specs (about 10 leukaemic cells, far below the NGS LoD of 1e-6, to full marrow)",
         "uniform prior range of log10 leukaemic fraction at the first MRD result"),
    Rule("fit_log10_cd19neg_range", [-10.0, 0.0], "U", "not in the specs",
         "uniform prior range of log10 CD19-negative share of leukaemic cells at the first MRD result "
         "(fitted only when CD19-directed therapy is in the window)"),
    Rule("fit_bca_misclassification", 0.05, "U", "not in the specs",
         "probability that an observed B-cell aplasia status disagrees with functional CAR-T"),
    Rule("assessment_days", [28, 90, 182, 365], "C",
         "3, 6 and 12 months (issue definition); day 28 as in Pulsipher 2022",
         "days at which MRD-negative remission is assessed"),
)


def resolve_sim(overrides: Mapping[str, Any] | None = None) -> dict[str, Rule]:
    """Simulator rules plus the Stein 2019 kinetics rules, with user overrides applied."""
    return resolve({**SIM_RULES, **KINETICS_RULES}, overrides)


def value(rules: Mapping[str, Rule], name: str) -> Any:
    """The value of rule ``name`` (a float where the rule is numeric)."""
    v = rules[name].value
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def blina_css_pg_ml(rules: Mapping[str, Rule]) -> float:
    """Steady-state blinatumomab concentration = infusion rate / clearance (pg/mL).

    28 µg/d / (2.22 L/h × 24 h) = 525 pg/mL (spec check; label 616 ± 537 pg/mL).
    """
    rate_pg_per_h = value(rules, "blina_dose_ug_per_day") * 1e6 / 24.0
    return rate_pg_per_h / (value(rules, "blina_cl_l_per_h") * 1000.0)


def lognormal_from_mean(mean: float, sdlog: float) -> float:
    """The log-scale location (mu) of a log-normal with the given mean and sdlog."""
    return math.log(mean) - 0.5 * sdlog * sdlog
