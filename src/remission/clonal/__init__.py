"""Clonal architecture: CCF, clone clustering, clone trees, relapse patterns, IG/TR clonotype evolution.

Pure engines (no file access). Formulas: CCF algebra of the PyClone family (Roth et al. Nat Methods
2014; Gillis & Roth, BMC Bioinformatics 2020), tree rules as in ClonEvol (Dang et al. Ann Oncol
2017); patterns: Waanders E et al. Blood Cancer Discov 2020;1:96 and Ma X et al. Nat Commun
2015;6:6604; lesions: the knowledge base's lesion vocabulary, each with its publication.
"""

from remission.clonal.analysis import ClonalResult, analyze_clonal, infer_roles
from remission.clonal.ccf import (
    CcfEstimate,
    assign_copy_number,
    ccf_estimate,
    ccf_from_vaf,
    ccf_grid,
    ccf_loglik_grid,
    expected_vaf,
)
from remission.clonal.clonotypes import ClonotypeEvolution, clonotype_evolution
from remission.clonal.cluster import (
    ClusterResult,
    MutationClusterer,
    adjusted_rand_index,
    cluster_mutations,
    loglik_tensor,
)
from remission.clonal.pattern import (
    DEFAULT_RULES,
    RelapsePattern,
    RelapseTable,
    annotate_case_lesions,
    annotate_lesions,
    clone_status,
    relapse_pattern,
)
from remission.clonal.tree import ROOT, CloneTree, build_tree, enumerate_trees, tree_violations

__all__ = [
    "DEFAULT_RULES",
    "ROOT",
    "CcfEstimate",
    "ClonalResult",
    "CloneTree",
    "ClonotypeEvolution",
    "ClusterResult",
    "MutationClusterer",
    "RelapsePattern",
    "RelapseTable",
    "adjusted_rand_index",
    "analyze_clonal",
    "annotate_case_lesions",
    "annotate_lesions",
    "assign_copy_number",
    "build_tree",
    "ccf_estimate",
    "ccf_from_vaf",
    "ccf_grid",
    "ccf_loglik_grid",
    "clone_status",
    "clonotype_evolution",
    "cluster_mutations",
    "enumerate_trees",
    "expected_vaf",
    "infer_roles",
    "loglik_tensor",
    "relapse_pattern",
    "tree_violations",
]
