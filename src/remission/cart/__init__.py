"""CAR-T and immunotherapy monitoring engines (pure: no files, no database).

* :mod:`remission.cart.toxicity` — CRS/ICANS grading (ASTCT 2019; CRS also Penn, Lee 2014,
  CTCAE v5), course maxima, onset and duration.
* :mod:`remission.cart.kinetics` — NCA (Cmax, Tmax, AUC0-28, Tlast, λz) and the Stein 2019
  expansion/contraction model fitted with below-LoD values censored; population percentiles.
* :mod:`remission.cart.bcells` — B-cell aplasia periods, recovery, early loss; CD19/CD22 course.

Names are re-exported lazily so ``import remission.cart`` does not import SciPy.
"""

from __future__ import annotations

from remission._lazy import lazy_exports

#: public name -> submodule
_EXPORTS: dict[str, str] = {
    # toxicity
    "CRS_SCALES": "toxicity",
    "TOXICITY_RULES": "toxicity",
    "AssessmentGrades": "toxicity",
    "Grade": "toxicity",
    "ToxicityCourse": "toxicity",
    "ToxicityGrader": "toxicity",
    "crs_astct": "toxicity",
    "crs_ctcae5": "toxicity",
    "crs_lee2014": "toxicity",
    "crs_penn": "toxicity",
    "grade_assessment": "toxicity",
    "grade_course": "toxicity",
    "icans_astct": "toxicity",
    # kinetics
    "KINETICS_RULES": "kinetics",
    "STEIN_PARAMS": "kinetics",
    "KineticsResult": "kinetics",
    "NcaResult": "kinetics",
    "SteinFit": "kinetics",
    "SteinModel": "kinetics",
    "analyze_kinetics": "kinetics",
    "fit_stein": "kinetics",
    "nca": "kinetics",
    "population_band": "kinetics",
    "population_percentiles": "kinetics",
    "sample_stein_population": "kinetics",
    "stein_log_curve": "kinetics",
    # B cells and antigen
    "BCELL_RULES": "bcells",
    "AntigenCourse": "bcells",
    "BCellAplasia": "bcells",
    "BCellAplasiaEstimator": "bcells",
    "antigen_course": "bcells",
    "b_cell_aplasia": "bcells",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
