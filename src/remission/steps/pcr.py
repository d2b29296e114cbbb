"""Pipeline step ``pcr_mrd``: RQ-PCR plates of a case → per-marker and case-level MRD."""

from __future__ import annotations

from typing import Any

from remission.domain import EngineSection, PcrResult
from remission.domain.parameters import resolve, rests_on
from remission.errors import InputError, ValidationError
from remission.steps._base import MRD, StepContext, step

TITLE = "RQ-PCR MRD"


@step("pcr_mrd", title=TITLE, provides=(MRD,), applies=lambda case: bool(case.samples_of("pcr_mrd")))
def run(ctx: StepContext) -> EngineSection:
    from remission.io.qpcr import read_plate
    from remission.mrd.pcr import PCR_RULES, analyze_plate

    rules = resolve(PCR_RULES, ctx.params_for("pcr_mrd"))
    samples: list[dict[str, Any]] = []
    warnings: list[str] = []
    for sample in ctx.case.samples_of("pcr_mrd"):
        entry: dict[str, Any] = {"sample_id": sample.id, "date": sample.date.isoformat(),
                                 "material": sample.material, "files": list(sample.files)}
        try:
            wells = [w for p in ctx.sample_paths(sample) for w in read_plate(p)]
            plate = analyze_plate(wells, rules)
            names = [c.sample for c in plate.case_level]
            wanted = sample.parameters.get("plate_sample")
            if wanted is None:
                wanted = sample.id if sample.id in names else (names[0] if len(names) == 1 else None)
            if wanted not in names:
                raise ValidationError(
                    f"sample {sample.id}: the plate's follow-up samples are {', '.join(names) or 'none'}; "
                    "set parameters.plate_sample to the one this sample is")
        except (InputError, ValidationError) as exc:
            entry["error"] = str(exc)
            ctx.sample_failed(TITLE, sample.id, exc)
            warnings.append(f"{sample.id}: {exc}")
            samples.append(entry)
            continue
        cl = next(c for c in plate.case_level if c.sample == wanted)
        mrd = cl.mrd(sample_id=sample.id, date=sample.date, material=sample.material)
        if mrd is not None:
            ctx.mrd.append(mrd)
        else:
            warnings.append(f"{sample.id}: not evaluable ({'; '.join(cl.reasons)})")
        for m in plate.markers:
            if not m.accepted:
                warnings.append(f"{sample.id}: marker {m.target} rejected: "
                                + "; ".join(x for x in m.reasons if "rejected" in x or "no standard" in x
                                            or "need" in x))
        plate_dict = plate.as_dict()
        plate_dict.pop("rules", None)
        plate_dict.pop("rests_on", None)
        entry.update({"plate_sample": wanted, "plate": plate_dict,
                      "case_level": cl.model_dump(mode="json"),
                      "mrd": None if mrd is None else mrd.model_dump(mode="json")})
        samples.append(entry)
    return EngineSection(name="pcr_mrd", title=TITLE,
                         result=PcrResult.model_validate(
                             {"samples": samples, "rules": [r.as_dict() for r in rules.values()]}),
                         warnings=tuple(warnings), rests_on=tuple(rests_on(rules.values())))
