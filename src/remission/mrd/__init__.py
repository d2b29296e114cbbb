"""MRD engines: NGS (IG/TR sequencing), flow cytometry, RQ-PCR, the MRD course, method comparison.

Each submodule is a pure engine (no files, no database). Import from the submodule, e.g.
``from remission.mrd.ngs import ...``; the names below are re-exported lazily so that
``import remission.mrd`` stays cheap.
"""

from __future__ import annotations

from remission._lazy import lazy_exports

#: public name -> submodule; engines add their names here
_EXPORTS: dict[str, str] = {
    # NGS-MRD (mrd/ngs/)
    "NgsMrd": "ngs",
    "NgsMrdResult": "ngs",
    "IndexResult": "ngs",
    "IndexClone": "ngs",
    "SpikeIn": "ngs",
    "JunctionScanner": "ngs",
    "index_clonotypes": "ngs",
    "track_airr": "ngs",
    "track_fastq": "ngs",
    "quantify": "ngs",
    "cells_from_dna": "ngs",
    "reads_per_copy": "ngs",
    # flow MRD (mrd/flow.py)
    "FLOW_RULES": "flow",
    "DifferentFromNormal": "flow",
    "FlowMrd": "flow",
    "GaussianMixture": "flow",
    "PreparedTube": "flow",
    "flow_mrd_status": "flow",
    "mrd_from_gates": "flow",
    "mrd_from_labels": "flow",
    "prepare_tube": "flow",
    "ReferenceModel": "flow",
    "TubeGates": "flow",
    "build_reference": "flow",
    "choose_strategy": "flow",
    "derive_gates": "flow",
    # cytometry maths and gate evaluation (mrd/cytometry.py, mrd/gating.py)
    "compensate_sample": "cytometry",
    "transform_sample": "cytometry",
    "logicle": "cytometry",
    "arcsinh": "cytometry",
    "hyperlog": "cytometry",
    "evaluate_gates": "gating",
    # RQ-PCR MRD (mrd/pcr.py)
    "PCR_RULES": "pcr",
    "MarkerQc": "pcr",
    "PcrCaseLevel": "pcr",
    "PcrPlateResult": "pcr",
    "PcrSampleResult": "pcr",
    "RqPcrMrd": "pcr",
    "StandardCurve": "pcr",
    "analyze_plate": "pcr",
    "assess_marker": "pcr",
    "combine_markers": "pcr",
    "control_gene_factor": "pcr",
    "efficiency_from_slope": "pcr",
    "fit_standard_curve": "pcr",
    "interpret_follow_up": "pcr",
    # MRD course (mrd/course.py)
    "COURSE_RULES": "course",
    "Baseline": "course",
    "CensoredFit": "course",
    "CourseEvent": "course",
    "RegrowthFit": "course",
    "analyze_course": "course",
    "fit_censored_loglinear": "course",
    "fit_regrowth": "course",
    "response_category": "course",
    # method comparison (mrd/compare.py)
    "bland_altman": "compare",
    "compare_methods": "compare",
    "concordance_table": "compare",
    "lins_ccc": "compare",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
