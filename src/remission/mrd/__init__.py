"""MRD engines: NGS (IG/TR sequencing), flow cytometry, RQ-PCR, the MRD course, method comparison.

Each submodule is a pure engine (no files, no database). Import from the submodule, e.g.
``from remission.mrd.ngs import ...``; the names below are re-exported lazily so that
``import remission.mrd`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule; engines add their names here
_EXPORTS: dict[str, str] = {
    # NGS-MRD (mrd/ngs.py)
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
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"remission.mrd.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'remission.mrd' has no attribute {name!r}")
