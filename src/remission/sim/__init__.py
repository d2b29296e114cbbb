"""Virtual patients: a mechanistic simulator of relapsed ALL under treatment strategies.

Pure engines (no files, no database), vectorised over patients (one array per state variable,
patients on axis 0; daily steps). Every output is a **model projection**; every parameter is a
named, cited, overridable rule (:data:`SIM_RULES`).

* :func:`simulate` on :class:`VirtualPatients` and a :class:`Schedule` — the model;
* :func:`measure_mrd` — MRD as NGS, flow or RQ-PCR would report it;
* :data:`STRATEGIES`, :func:`compare` — strategies and their projected outcomes;
* :func:`fit_patient`, :func:`recovery_study` — calibration to one patient, with uncertainty;
* :func:`strategy_timeline`, :func:`bridge_options` — time to relapse beside time options need;
* :func:`run_cohort` — virtual cohorts as cohort tables, locally or on Dask;
* :func:`virtual_trial_eliana`, :func:`virtual_trial_blinatumomab` — virtual trials against
  published anchors (which calibrate, which are held out: ``docs/sim_validation.md``).
"""

from remission.sim.cohort import COHORT_COLUMNS, POPULATIONS, run_cohort, simulate_chunk
from remission.sim.fit import MrdObservations, SimFit, TreatmentHistory, fit_patient, recovery_study
from remission.sim.measure import MeasuredMrd, assay_limits, measure_mrd
from remission.sim.model import (
    CLONES,
    Schedule,
    SimResult,
    VirtualPatients,
    cart_log_level,
    simulate,
)
from remission.sim.parameters import SIM_RULES, resolve_sim
from remission.sim.strategies import STRATEGIES, Strategy, compare
from remission.sim.timeline import (
    PatientState,
    PriorTherapy,
    bridge_options,
    cd19_car_t_note,
    strategy_timeline,
)
from remission.sim.validation import (
    virtual_trial_blinatumomab,
    virtual_trial_eliana,
    virtual_trial_inotuzumab,
)

__all__ = [
    "CLONES",
    "COHORT_COLUMNS",
    "POPULATIONS",
    "SIM_RULES",
    "STRATEGIES",
    "MeasuredMrd",
    "MrdObservations",
    "PatientState",
    "PriorTherapy",
    "Schedule",
    "SimFit",
    "SimResult",
    "Strategy",
    "TreatmentHistory",
    "VirtualPatients",
    "assay_limits",
    "bridge_options",
    "cart_log_level",
    "cd19_car_t_note",
    "compare",
    "fit_patient",
    "measure_mrd",
    "recovery_study",
    "resolve_sim",
    "run_cohort",
    "simulate",
    "simulate_chunk",
    "strategy_timeline",
    "virtual_trial_blinatumomab",
    "virtual_trial_eliana",
    "virtual_trial_inotuzumab",
]
