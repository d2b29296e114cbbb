"""Pipeline step: NGS-MRD of a case's ``ngs_mrd`` samples.

Baseline samples (role ``diagnosis`` or ``relapse``: an AIRR TSV) give the index clonotypes; each
follow-up sample (role ``follow_up``/``remission``: an AIRR TSV, or one or two FASTQ files) is
tracked against the latest baseline dated on or before it. Sample ``parameters``:
``dna_ng`` or ``cell_equivalents`` (cells analysed), optional ``spike_in``: a list of
``{name, copies, junction}``. Step parameters (``parameters.ngs_mrd``) override
:data:`remission.mrd.ngs.NGS_RULES` by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remission.domain import EngineSection, NgsResult, Sample
from remission.domain.parameters import rests_on, rule_values
from remission.errors import ValidationError
from remission.steps._base import MRD, StepContext, step

STEP = "ngs_mrd"
_FASTQ_SUFFIXES = (".fastq", ".fq", ".fastq.gz", ".fq.gz")


def is_fastq(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(_FASTQ_SUFFIXES)


def spikes_from(spec: Any, *, where: str) -> list[Any]:
    """``[{name, copies, junction}, ...]`` → :class:`~remission.mrd.ngs.SpikeIn` list."""
    from remission.mrd.ngs import SpikeIn

    if spec in (None, []):
        return []
    if not isinstance(spec, list):
        raise ValidationError(f"{where}.spike_in must be a list of {{name, copies, junction}}, but was {spec!r}")
    out = []
    for i, item in enumerate(spec):
        try:
            out.append(SpikeIn(name=str(item.get("name", f"spike{i + 1}")), copies=float(item["copies"]),
                               junction=str(item["junction"]).upper()))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValidationError(f"{where}.spike_in[{i}] must have copies (number) and junction "
                                  f"(nucleotides), but was {item!r}") from None
    return out


def track_sample(index: Any, paths: list[Path], *, dna_ng: float | None = None,
                 cell_equivalents: float | None = None, spikes: list[Any] | None = None,
                 parameters: dict[str, Any] | None = None) -> Any:
    """Track one follow-up sample (AIRR TSV or FASTQ [+ mate]) and quantify it."""
    from remission.io.airr import iter_airr_chunks
    from remission.io.fastq import iter_fastq_chunks
    from remission.mrd.ngs import quantify, track_airr, track_fastq

    spikes = spikes or []
    if is_fastq(paths[0]):
        mate2 = paths[1] if len(paths) > 1 else None
        track = track_fastq(index, iter_fastq_chunks(paths[0], mate2), parameters, spikes)
    else:
        track = track_airr(index, iter_airr_chunks(paths[0], required=_required()), parameters, spikes)
    return quantify(index, track, dna_ng=dna_ng, cell_equivalents=cell_equivalents, spikes=spikes,
                    parameters=parameters)


def _required() -> tuple[str, ...]:
    from remission.io.airr import AIRR_REQUIRED

    return AIRR_REQUIRED


def _num(sample: Sample, name: str) -> float | None:
    v = sample.parameters.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValidationError(f"samples[{sample.id}].parameters.{name} must be a number, but was {v!r}")
    return float(v)


@step(STEP, title="NGS-MRD", provides=(MRD,), applies=lambda case: bool(case.samples_of("ngs_mrd")))
def run(ctx: StepContext) -> EngineSection:
    from remission.domain.parameters import resolve
    from remission.io.airr import iter_airr_chunks
    from remission.mrd.ngs import NGS_RULES, index_clonotypes

    params = ctx.params_for(STEP)
    rules = resolve(NGS_RULES, params)
    samples = sorted(ctx.case.samples_of("ngs_mrd"), key=lambda s: (s.date, s.id))
    baselines = [s for s in samples if s.role in ("diagnosis", "relapse")]
    follow_ups = [s for s in samples if s.role in ("follow_up", "remission")]
    warnings: list[str] = []
    if not baselines:
        return EngineSection(name=STEP, title="NGS-MRD",
                             result=NgsResult(status="no_diagnosis"),
                             warnings=("no diagnosis/relapse NGS sample: no index clonotypes to track",),
                             rests_on=tuple(rests_on(rules.values())))
    indexes: dict[str, Any] = {}
    for b in baselines:
        idx = index_clonotypes(iter_airr_chunks(ctx.sample_paths(b)[0], required=_required()), params)
        indexes[b.id] = idx
        if not idx.clones:
            warnings.append(f"{b.id}: no clonotype passes the index criteria (no NGS-MRD marker)")
    results = []
    for s in follow_ups:
        base = [b for b in baselines if b.date <= s.date] or baselines[:1]
        b = base[-1]
        res = track_sample(indexes[b.id], ctx.sample_paths(s), dna_ng=_num(s, "dna_ng"),
                           cell_equivalents=_num(s, "cell_equivalents"),
                           spikes=spikes_from(s.parameters.get("spike_in"), where=f"samples[{s.id}].parameters"),
                           parameters=params)
        d = res.as_dict()
        d.pop("rests_on", None)
        results.append({"sample_id": s.id, "date": s.date.isoformat(), "material": s.material,
                        "index_sample": b.id, "files": list(s.files), **d})
        warnings.extend(f"{s.id}: {w}" for w in res.warnings)
        m = res.to_mrd_result(sample_id=s.id, date=s.date, material=s.material)
        if m is not None:
            ctx.mrd.append(m)
    latest = results[-1] if results else None
    result = {
        "status": latest["status"] if latest else "no_follow_up",
        "latest": {**{k: latest[k] for k in ("sample_id", "date", "mrd", "status", "lod", "loq", "quantity",
                                             "read_fraction", "denominator", "marker_caveat")},
                   "emerging_alerts": [e["alert"] for e in latest["emerging_clones"]]} if latest else None,
        "index": [{"sample_id": b.id, "date": b.date.isoformat(), **indexes[b.id].as_dict()}
                  for b in baselines],
        "samples": results,
        "parameters": rule_values(rules),
    }
    return EngineSection(name=STEP, title="NGS-MRD", result=NgsResult.model_validate(result), warnings=tuple(dict.fromkeys(warnings)),
                         rests_on=tuple(rests_on(rules.values())))
