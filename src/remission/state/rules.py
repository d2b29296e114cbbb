"""Named parameters and cited definitions of the disease-state engine."""

from __future__ import annotations

from remission.domain.parameters import Rule, rule_set

__all__ = ["DEFINITIONS", "STATE_RULES"]

STATE_RULES: dict[str, Rule] = rule_set(
    Rule("cr_marrow_blast_fraction", 0.05, "C",
         "Fuster JL. World J Hematol 2014;3:49, Table 2: M1 marrow < 5 % blasts (remission marrow)",
         "marrow MRD at or above this fraction after relapse therapy is not a remission marrow"),
    Rule("mrd_negative_min_sensitivity", 1e-4, "C",
         "Gökbuget N et al. Hematology ASH Educ Program 2021:718 (MRD complete response: negative "
         "with a minimum sensitivity of 0.01 %)",
         "a negative MRD counts as MRD-negative only when the assay reached this sensitivity (LoD)"),
    Rule("molecular_relapse_threshold", 1e-4, "U",
         "frequently used protocol definition, not found in a retrieved source; Raff T et al. "
         "Blood 2007;109:910 (GMALL) used recurrence of quantifiable MRD",
         "MRD recurrence at or above this fraction after MRD negativity is a molecular relapse"),
    Rule("molecular_relapse_require_confirmation", True, "U",
         "frequently used protocol definition ('confirmed in a second sample'), not retrieved",
         "a molecular relapse needs a second positive sample at or above the threshold"),
    Rule("molecular_progression_log_increase", 1.0, "U",
         "frequently used protocol definition ('>= 1 log increase'), not retrieved",
         "an MRD rise by at least this many log10 between two samples of one method, to a level at "
         "or above the molecular-relapse threshold, is molecular progression"),
    Rule("refractory_responses", ("NR", "PD", "SD", "PR"), "U",
         "reading of the case file's best_response values (no complete remission)",
         "best_response values of a therapy after relapse read as refractory disease"),
    Rule("remission_responses", ("CR", "CRi", "MRD_negative", "MRD_positive"), "U",
         "reading of the case file's best_response values (complete remission reached)",
         "best_response values of a therapy after relapse read as complete remission"),
    Rule("antigen_positive_min_percent", 20.0, "R",
         "EGIL convention (Bene MC et al. Leukemia 1995;9:1783): a marker is positive when "
         "expressed on >= 20 % of blasts; confirm per laboratory",
         "CD19/CD22 at or above this percentage of blasts counts as expressed, below as negative"),
)

#: The definition text (with its source) shown with each state.
DEFINITIONS: dict[str, str] = {
    "diagnosis": "initial diagnosis until the first recorded relapse",
    "haematological_relapse": (
        "relapse as recorded (site definitions: Fuster JL, World J Hematol 2014;3:49, Table 2; "
        "paediatric consensus: Buchmann S et al., Blood 2022;139:1785)"),
    "refractory": (
        "no complete remission after relapse therapy: best response not CR, or marrow MRD at or "
        "above the M1 limit (< 5 % blasts; Fuster 2014) after a relapse therapy"),
    "cr_mrd_negative": (
        "complete remission with MRD negative at a sensitivity of at least the required LoD "
        "(Gökbuget N et al., Hematology ASH Educ Program 2021:718)"),
    "cr_mrd_positive": (
        "complete remission (marrow MRD below the M1 limit of 5 %) with detectable MRD "
        "(Gökbuget 2021: MRD positive or positive not quantifiable)"),
    "cr_mrd_unknown": (
        "complete remission without an evaluable MRD: not measured, or negative with "
        "insufficient sensitivity (Gökbuget 2021: 'MRD intermediate')"),
    "molecular_relapse": (
        "conversion from MRD negativity to quantifiable MRD at or above the threshold, confirmed "
        "in a second sample, or an MRD rise of at least one log to that level (Raff T et al., "
        "Blood 2007;109:910; thresholds are named parameters)"),
}
