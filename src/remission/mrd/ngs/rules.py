"""Named, overridable NGS-MRD parameters (every recalled or uncertain number is a Rule)."""

from __future__ import annotations

from remission.domain.parameters import Rule, rule_set

__all__ = ["NGS_RULES"]

NGS_RULES: dict[str, Rule] = rule_set(
    Rule("index_min_fraction", 0.05, "R", "Vidjil user documentation, 'Clonotypes ≥5%' column "
         "(Duez M et al. PLOS ONE 2016;11:e0166126); EuroClonality-NGS ≥5 % of the locus (Brüggemann M "
         "et al. Leukemia 2019;33:2241; recalled, no primary source checked)",
         "an index clonotype holds at least this fraction of the reads of its target/locus"),
    Rule("index_min_reads", 5, "R", "vidjil-algo -r/--min-reads default 5 (Giraud M et al. BMC Genomics 2014;15:409)",
         "an index clonotype has at least this many reads at diagnosis"),
    Rule("max_mismatches", 2, "R", "EuroClonality-NGS meta-clonotypes: ≤1–2 mismatches, no indels "
         "(Knecht H et al. Leukemia 2019;33:2254; recalled, no primary source checked)",
         "Hamming distance within which a junction counts as the index (sequencing/PCR errors)"),
    Rule("min_seed_nt", 10, "U", "chosen here (specificity of short junctions; FASTQ seeds)",
         "the mismatches allowed in a junction are lowered until an exact run of this many bases "
         "is guaranteed ((L - d) // (d + 1) >= min_seed_nt); shorter junctions get fewer"),
    Rule("require_vj_consistency", True, "R", "issue #3; EuroClonality-NGS meta-clonotypes within V/J "
         "groups (Knecht H et al. Leukemia 2019;33:2254; recalled, no primary source checked)", "a tolerant match must have the index's V and J gene (AIRR input)"),
    Rule("relative_stem_fraction", 0.6, "U", "relatives share the D-N-J stem (Theunissen PMC5664391, "
         "Haematologica 2017; Darzentas, Front Immunol 2023;14:1125017); fraction chosen here", "3' part of the index junction a relative must share exactly"),
    Rule("relative_stem_min_nt", 18, "U", "chosen here (specificity of an exact shared stem)",
         "minimum length of that shared 3' stem"),
    Rule("relative_stem_beyond_germline_nt", 6, "U", "chosen here (an exact stem must reach this far "
         "past the J germline end shared by unrelated diagnosis clonotypes; 6 nt of N/P or D-derived "
         "sequence match by chance about once in 4^6 = 4,096 same-J clonotypes)",
         "the stem is lengthened until it holds this many bases more than the J-germline suffix "
         "that unrelated diagnosis clonotypes with the same J share with the index"),
    Rule("relative_targets", ("IGH", "IGH_DJ"), "R", "Theunissen PMC5664391 (Haematologica 2017) and "
         "Darzentas, Front Immunol 2023;14:1125017: VH replacement and ongoing DJ->VDJ recombination "
         "are IGH evolution", "targets whose index clonotypes are searched for evolved relatives "
         "(VH replacement applies to IGH only)"),
    Rule("relative_min_same_j_clonotypes", 5, "U", "chosen here (enough unrelated same-J "
         "clonotypes at diagnosis to see where the shared J germline ends)",
         "fewer unrelated diagnosis clonotypes with the index's J gene than this: the J-germline "
         "extent is unknown and relatives are not assessed (never grouped on J germline alone)"),
    Rule("pg_dna_per_cell", 6.5, "R", "~6.5 pg per diploid cell (Knecht H et al. Leukemia "
         "2019;33:2254; recalled, no primary source checked); Vidjil tools/spike-normalization.py uses 6.0",
         "DNA per diploid cell, to turn ng of DNA into cells analysed"),
    Rule("reads_per_cell_model", "background_coverage", "U", "chosen here; reads per template from "
         "the sample's own polyclonal background (each distinct non-marker rearrangement of the target "
         "taken as one cell's template, as in Kotrova/EuroClonality cell-equivalent reasoning; "
         "Knecht 2019, Leukemia 33:2254, for the spike-in alternative)",
         "without spike-ins: 'background_coverage' = reads per template estimated as the non-marker "
         "reads of the target over its distinct non-marker clonotypes (needs AIRR follow-up input "
         "and >= background_min_clonotypes); 'locus_reads' = target reads over cells analysed x "
         "templates_per_cell (assumes every analysed cell contributes templates of that target; "
         "over-estimates MRD in B-cell-depleted marrow)"),
    Rule("background_min_clonotypes", 20, "U", "chosen here (a mean over fewer distinct "
         "rearrangements is too noisy to set the reads per template)",
         "distinct non-marker clonotypes of the target needed to estimate reads per template (their "
         "median must also exceed one read: at one read per clonotype the coverage cannot be told)"),
    Rule("templates_per_cell", 1.0, "U", "chosen here (one productive or non-productive "
         "rearrangement of the target per analysed cell; amplification assumed uniform)",
         "templates of the marker's target per analysed cell in the 'locus_reads' model"),
    Rule("lod_detection_probability", 0.95, "R", "Poisson: 1-exp(-k), k≈3 for 95 % (recalled, no "
         "primary source checked)",
         "LoD = the MRD at which a sample holds at least one leukemic genome with this probability"),
    Rule("loq_min_cells", 3.0, "U", "LoQ ~2–3 cell equivalents (EuroMRD concepts, van der "
         "Velden VHJ et al. Leukemia 2007;21:604; recalled, no primary source checked)",
         "leukemic cell equivalents needed to quantify"),
    Rule("loq_min_reads", 5, "R", "Vidjil user documentation: < 5 reads 'detected, not "
         "quantifiable' (Duez M et al. PLOS ONE 2016;11:e0166126)",
         "index reads needed to quantify"),
    Rule("detect_min_reads", 1, "R", "track down to the first read; vidjil-algo -r 1 for MRD "
         "(Giraud M et al. BMC Genomics 2014;15:409)",
         "index reads needed to call the marker detected"),
    Rule("spike_min_r2", 0.8, "R", "Vidjil tools/spike-normalization.py: fall back when r² "
         "≤ 0.8 (spike-in controls: Navarro NG et al. Br J Haematol 2020;189:e150)",
         "a spike-in calibration with r² at or below this is refused"),
    Rule("case_combine", "max", "R", "issue #3 (default: highest marker)",
         "case-level MRD from several markers: max, min or mean of the quantifiable markers "
         "(of the detected ones when none is quantifiable)"),
    Rule("watch_min_dx_fraction", 1e-3, "U", "chosen here (minor diagnostic clonotypes; relapse "
         "often grows from a minor diagnosis subclone: Waanders, Blood Cancer Discov 2020;1:96)",
         "diagnosis clonotypes below the index threshold but at or above this fraction of their "
         "target form the watch list"),
    Rule("watch_max_listed", 50, "U", "chosen here (report length)",
         "largest number of watch-list clonotypes listed per diagnosis"),
    Rule("emerging_min_fraction", 0.01, "U", "chosen here (a dominant non-marker clonotype; "
         "EuroClonality's index threshold is 5 %, a follow-up watch looks lower)",
         "a non-marker follow-up clonotype at or above this fraction of its target's reads is "
         "considered for the emerging-clone alert"),
    Rule("emerging_min_reads", 20, "U", "chosen here (keeps shallow samples from alerting on a "
         "handful of reads)", "reads a non-marker follow-up clonotype needs for the alert"),
    Rule("emerging_min_fold", 5.0, "U", "chosen here",
         "a clonotype present at diagnosis alerts only when its fraction rose at least this many "
         "times (a new clonotype, absent at diagnosis, alerts on the fraction and reads alone)"),
    Rule("insufficient_sensitivity_lod", 1e-4, "R", "ASH Education Program 2021, PMC8824253 Table 1: "
         "minimum sensitivity 0.01 %", "a negative with an LoD above this is flagged 'insufficient sensitivity'"),
)
