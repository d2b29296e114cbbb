"""NGS-MRD: index clonotypes at diagnosis, track them in follow-up, quantify MRD with LoD/LoQ.

Definitions and anchors: EuroClonality-NGS (Brüggemann M et al. and Knecht H et al., Leukemia
2019;33:2241 and 33:2254); Vidjil (Giraud M et al. BMC Genomics 2014;15:409; Duez M et al. PLOS ONE
2016;11:e0166126; its ``tools/spike-normalization.py``); clonoSEQ (FDA 510(k) K200009). Every recalled or uncertain number is a named :class:`~remission.domain.Rule`
in :data:`NGS_RULES`; results list the rules they rest on.

Pipeline (pure functions; no files):

1. :func:`index_clonotypes` — clonotypes of the diagnosis table, grouped per *target*
   (IGH VDJ, incomplete IGH DJ, IGK, IGK-Kde, IGL, TRB, TRG, TRD, ...), with their error
   satellites (≤ ``max_mismatches`` Hamming, same V/J and length, less abundant) added on purpose
   (exact-only counting loses ~14 % of reads at 0.3 %/base errors, 0.997^50 ≈ 0.86; our own
   simulation, no primary source); a clonotype is an
   index clone when it holds ≥ ``index_min_fraction`` of its target's reads and ≥
   ``index_min_reads`` reads.
2. :func:`track_airr` (clonotype tables) or :func:`track_fastq` (raw reads, no V(D)J annotation)
   — reads of each index junction, exact and within ``max_mismatches`` (same junction length,
   no indels; in AIRR mode also the same V and J gene); *evolved relatives* (a different
   clonotype sharing the index's 3' N-D-N-J stem, e.g. VH replacement) are counted separately
   and never added to MRD.
3. :func:`quantify` — MRD = leukemic cells / cells analysed, with cells analysed from the DNA
   input (``dna_ng`` × 1000 / ``pg_dna_per_cell``) or given directly, and leukemic cells from a
   spike-in calibration (reads per calibrator copy, regression through the origin as in Vidjil's
   spike normalisation) or, without a spike, from the marker's read fraction of its target.
   LoD = ``-ln(1 - lod_detection_probability)`` cells (Poisson; ≈ 3 cells at 95 %) over the cells
   analysed, LoQ = the larger of ``loq_min_cells`` cells and ``loq_min_reads`` reads. Status
   ``negative`` / ``positive_not_quantifiable`` / ``positive``; the case-level value combines
   the markers (default: the highest).

See Also
--------
NgsMrd : the fit-style wrapper (``NgsMrd().fit(dx_blocks).track_airr(...)``).
remission.io.airr.iter_airr_chunks, remission.io.fastq.iter_fastq_chunks : the readers.
"""

from __future__ import annotations

from remission.mrd.ngs.index import effective_mismatches, index_clonotypes
from remission.mrd.ngs.model import (
    IndexClone,
    IndexResult,
    MarkerCount,
    MarkerMrd,
    NgsMrdResult,
    SpikeIn,
    TrackResult,
)
from remission.mrd.ngs.quantify import NgsMrd, cells_from_dna, quantify, reads_per_copy
from remission.mrd.ngs.rules import NGS_RULES
from remission.mrd.ngs.scan import JunctionScanner, revcomp
from remission.mrd.ngs.targets import target_of
from remission.mrd.ngs.tracking import track_airr, track_fastq

__all__ = [
    "NGS_RULES",
    "IndexClone",
    "IndexResult",
    "JunctionScanner",
    "MarkerCount",
    "MarkerMrd",
    "NgsMrd",
    "NgsMrdResult",
    "SpikeIn",
    "TrackResult",
    "cells_from_dna",
    "effective_mismatches",
    "index_clonotypes",
    "quantify",
    "reads_per_copy",
    "revcomp",
    "target_of",
    "track_airr",
    "track_fastq",
]
