"""Pipeline step ``clonal``: variant samples → clones, clone tree, relapse pattern, lesions;
plus IG/TR clonotype evolution when NGS-MRD clone tables exist for diagnosis and relapse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remission.domain import ClonalResult, EngineSection
from remission.domain.parameters import rests_on
from remission.errors import InputError, ValidationError
from remission.steps._base import StepContext, step

TITLE = "Clonal architecture"
_ENGINE_KEYS = {"seed", "max_clusters", "restarts", "criterion", "precision"}


def _relapse_table() -> dict[str, Any]:
    from remission.knowledge import default_vocabulary

    return dict(default_vocabulary().relapse_lesions())


def _has_relapse_lesions(case: Any) -> bool:
    table = _relapse_table()
    names = [le.name for le in case.diagnosis.lesions] + [le.name for r in case.relapses for le in r.lesions]
    return any(n.upper() in table for n in names)


def _applies(case: Any) -> bool:
    if case.samples_of("variants") or _has_relapse_lesions(case):
        return True
    ngs = case.samples_of("ngs_mrd")
    return any(s.role == "diagnosis" for s in ngs) and any(s.role == "relapse" for s in ngs)


def read_clonotypes(paths: list[Path]) -> list[dict[str, Any]] | None:
    """Clonotype records from AIRR TSVs through :mod:`remission.io.airr` (None if that reader is absent)."""
    try:
        from remission.io.airr import read_airr
    except ImportError:  # pragma: no cover - the AIRR reader is another engineer's module
        return None
    out: list[dict[str, Any]] = []
    for p in paths:
        if not p.name.lower().endswith((".tsv", ".tsv.gz")):
            continue
        chunk = read_airr(p, required=("v_call", "j_call", "junction"))
        loci = chunk.get("locus")
        for i in range(len(chunk)):
            v = str(chunk.get("v_call")[i])
            out.append({"locus": str(loci[i]) or v[:3], "v_call": v, "j_call": str(chunk.get("j_call")[i]),
                        "junction": str(chunk.get("junction")[i]), "count": int(chunk.count[i])})
    return out


@step("clonal", title=TITLE, applies=_applies)
def run(ctx: StepContext) -> EngineSection:
    from remission.clonal import analyze_clonal, annotate_case_lesions, clonotype_evolution
    from remission.clonal.analysis import rules_rested_on
    from remission.io.variants import read_variant_inputs

    params = ctx.params_for("clonal")
    engine = {k: params.pop(k) for k in list(params) if k in _ENGINE_KEYS}
    clono_params = {k: params.pop(k) for k in list(params)
                    if k in ("index_min_fraction", "expanded_fold", "related_suffix_nt")}
    table = _relapse_table()
    result: dict[str, Any] = {
        "variant_samples": [],
        "case_lesions": annotate_case_lesions(ctx.case.diagnosis.lesions,
                                              [(r.number, r.lesions) for r in ctx.case.relapses],
                                              relapse_lesions=table),
    }
    warnings: list[str] = []
    rested: list[dict[str, Any]] = []
    for sample in ctx.case.samples_of("variants"):
        entry: dict[str, Any] = {"sample_id": sample.id, "files": list(sample.files)}
        try:
            extra = [ctx.path(f) for f in sample.parameters.get("copy_number", [])] if isinstance(
                sample.parameters.get("copy_number"), list) else (
                [ctx.path(sample.parameters["copy_number"])] if sample.parameters.get("copy_number") else [])
            inputs = read_variant_inputs([*ctx.sample_paths(sample), *extra],
                                         purity=sample.parameters.get("purity"))
            res = analyze_clonal(inputs.table, purity=inputs.purity, segments=inputs.segments,
                                 roles=sample.parameters.get("roles"), parameters=params,
                                 relapse_lesions=table, **engine)
        except (InputError, ValidationError) as exc:
            entry["error"] = str(exc)
            ctx.sample_failed(TITLE, sample.id, exc)
            warnings.append(f"{sample.id}: {exc}")
            result["variant_samples"].append(entry)
            continue
        entry.update(res.as_dict())
        warnings.extend(f"{sample.id}: {w}" for w in res.warnings)
        rested.extend(rules_rested_on(res))
        result["variant_samples"].append(entry)
    ngs = ctx.case.samples_of("ngs_mrd")
    dx = next((s for s in ngs if s.role == "diagnosis"), None)
    rel = next((s for s in reversed(ngs) if s.role == "relapse"), None)
    if dx is not None and rel is not None:
        try:
            a = read_clonotypes(ctx.sample_paths(dx))
            b = read_clonotypes(ctx.sample_paths(rel))
            if a is None or b is None:
                warnings.append("clonotype evolution skipped: the AIRR reader (remission.io.airr) is not available")
            elif not a or not b:
                warnings.append("clonotype evolution skipped: no AIRR clone table among the diagnosis/relapse files")
            else:
                evo = clonotype_evolution(a, b, clono_params)
                result["clonotypes"] = {"diagnosis_sample": dx.id, "relapse_sample": rel.id} | evo.as_dict()
                rested.extend(rests_on(evo.rules.values()))
        except (InputError, ValidationError) as exc:
            ctx.sample_failed(TITLE, f"{dx.id}/{rel.id} (clonotype evolution)", exc)
            warnings.append(f"clonotype evolution: {exc}")
    seen: set[str] = set()
    unique = []
    for r in rested:
        if r["name"] not in seen:
            seen.add(r["name"])
            unique.append(r)
    return EngineSection(name="clonal", title=TITLE, result=ClonalResult.model_validate(result), warnings=tuple(warnings),
                         rests_on=tuple(unique))
