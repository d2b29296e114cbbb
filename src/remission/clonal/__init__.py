"""Clonal architecture: CCF, clone clustering, clone trees, relapse patterns, IG/TR clonotype evolution.

Pure engines (no file access). Formulas: ``cart_models.md`` §4; patterns and lesions:
``clinical_rules.md`` §7.
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
