"""Named, overridable NGS-MRD parameters (every recalled or uncertain number is a Rule)."""

from __future__ import annotations

from remission.domain.parameters import Rule, rule_set

__all__ = ["NGS_RULES"]

NGS_RULES: dict[str, Rule] = rule_set(
    Rule("index_min_fraction", 0.05, "R", "ngs_mrd.md §1.1 (Vidjil 'Clonotypes ≥5%' [source]; "
         "EuroClonality-NGS ≥5 % of the locus [memory])",
         "an index clonotype holds at least this fraction of the reads of its target/locus"),
    Rule("index_min_reads", 5, "R", "ngs_mrd.md §2.1 (vidjil-algo -r/--min-reads default 5)",
         "an index clonotype has at least this many reads at diagnosis"),
    Rule("max_mismatches", 2, "R", "ngs_mrd.md §1.1/§7 (≤1–2 mismatches, no indels)",
         "Hamming distance within which a junction counts as the index (sequencing/PCR errors)"),
    Rule("min_seed_nt", 10, "U", "chosen here (specificity of short junctions; FASTQ seeds)",
         "the mismatches allowed in a junction are lowered until an exact run of this many bases "
         "is guaranteed ((L - d) // (d + 1) >= min_seed_nt); shorter junctions get fewer"),
    Rule("require_vj_consistency", True, "R", "issue #3; ngs_mrd.md §1.1 (meta-clonotypes within "
         "V/J groups)", "a tolerant match must have the index's V and J gene (AIRR input)"),
    Rule("relative_stem_fraction", 0.6, "U", "ngs_mrd.md §1.1 (relatives share the D-N-J stem); "
         "fraction chosen here", "3' part of the index junction a relative must share exactly"),
    Rule("relative_stem_min_nt", 18, "U", "chosen here (specificity of an exact shared stem)",
         "minimum length of that shared 3' stem"),
    Rule("relative_stem_beyond_germline_nt", 4, "U", "chosen here (an exact stem must reach this far "
         "past the J germline end shared by unrelated diagnosis clonotypes)",
         "the stem is lengthened until it holds this many bases more than the J-germline suffix "
         "that unrelated diagnosis clonotypes with the same J share with the index"),
    Rule("pg_dna_per_cell", 6.5, "R", "ngs_mrd.md §1.1/§7 (~6.5 pg per diploid cell; Vidjil uses 6.0)",
         "DNA per diploid cell, to turn ng of DNA into cells analysed"),
    Rule("lod_detection_probability", 0.95, "R", "ngs_mrd.md §1.1 (Poisson: 1-exp(-k), k≈3 for 95 %)",
         "LoD = the MRD at which a sample holds at least one leukemic genome with this probability"),
    Rule("loq_min_cells", 3.0, "U", "ngs_mrd.md §1.1/§7 (LoQ ~2–3 cell equivalents [memory])",
         "leukemic cell equivalents needed to quantify"),
    Rule("loq_min_reads", 5, "R", "ngs_mrd.md §0/§7 (Vidjil: < 5 reads 'detected, not quantifiable')",
         "index reads needed to quantify"),
    Rule("detect_min_reads", 1, "R", "ngs_mrd.md §6 (track down to the first read; vidjil -r 1 for MRD)",
         "index reads needed to call the marker detected"),
    Rule("spike_min_r2", 0.8, "R", "ngs_mrd.md §1.1 (vidjil spike-normalization: fall back when r² ≤ 0.8)",
         "a spike-in calibration with r² at or below this is refused"),
    Rule("case_combine", "max", "R", "issue #3 (default: highest marker)",
         "case-level MRD from several markers: max, min or mean of the quantifiable markers "
         "(of the detected ones when none is quantifiable)"),
    Rule("insufficient_sensitivity_lod", 1e-4, "R", "ngs_mrd.md §1.1 (PMC8824253 Table 1: minimum "
         "sensitivity 0.01 %)", "a negative with an LoD above this is flagged 'insufficient sensitivity'"),
)
