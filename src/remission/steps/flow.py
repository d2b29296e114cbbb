"""Pipeline step "flow_mrd": flow-cytometric MRD of every ``flow_mrd`` sample of a case.

Per sample (``files``: one ``.fcs``, optionally one Gating-ML ``.xml`` and one normal reference
model ``.json``; ``parameters``):

- ``method``: ``gating`` (needs the XML, ``leukemic_gate`` and ``denominator_gate``) or
  ``auto`` (different-from-normal; default when no XML is given); ``also_auto: true`` adds the
  automated result beside a gating result;
- ``strategy``: ``auto`` | ``cd19`` | ``cd19_independent``; the engine's rule
  ``cd19_independent_after_cd19_therapy`` decides the switch from the CD19-directed therapies
  before the sample (``Case.cd19_directed_before``), which this step passes in as facts;
- the normal reference: the sample's ``.json`` reference model (``remission mrd flow reference
  build``), else one built from the case's samples with ``assay: flow_mrd`` and
  ``role: normal_reference``; without either the automated method is an error (gating alone
  needs none).

Appends one :class:`~remission.domain.MrdResult` (method ``flow``) per analysed sample to
``ctx.mrd`` (the gating result when both are computed). ``ctx.sections["flow_mrd"].result``:
``{"samples": [{"sample_id", "date", "file", "result": {...}, "auto": {...} | None,
"plot": {...}}]}`` where ``result`` has the keys of :meth:`FlowMrd.as_dict`. Synthetic truth
labels are never read here (clinical reports); validation lives in the CLI and the tests.

User overrides: ``parameters["flow_mrd"]`` maps rule names of ``FLOW_RULES`` to values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from remission.domain import EngineSection, FlowResult, rests_on
from remission.errors import LowSensitivityWarning, ValidationError
from remission.steps._base import MRD, StepContext, step

__all__ = ["analyze_file", "load_reference", "plot_events"]

_PLOT_MARKERS = ("CD19", "CD10", "CD34", "CD45", "SSC")

#: a reference model, or a maker of one for a tube's panel (the demo reference)
ReferenceSource = Any


def load_reference(path: str | Path) -> Any:
    """A :class:`~remission.mrd.flow.ReferenceModel` read from a reference file."""
    from remission.io.flowref import read_flow_reference
    from remission.mrd.flow import ReferenceModel

    return ReferenceModel.from_dict(read_flow_reference(path), source=str(path))


def plot_events(tube: Any, leukemic: np.ndarray, *, n: int = 4000, seed: int = 0) -> dict[str, Any]:
    """A small seeded subsample for the report's scatter plots (all leukaemic events up to 1500)."""
    rng = np.random.default_rng(seed)
    idx_l = np.flatnonzero(leukemic)
    idx_o = np.flatnonzero(~leukemic)
    if idx_l.size > 1500:
        idx_l = rng.choice(idx_l, 1500, replace=False)
    if idx_o.size > n:
        idx_o = rng.choice(idx_o, n, replace=False)
    idx = np.concatenate([idx_o, idx_l])
    out: dict[str, Any] = {"leukemic": leukemic[idx].astype(int).tolist()}
    for m in _PLOT_MARKERS:
        if m in tube.columns:
            v = tube.col_at(m, idx).astype(np.float64)
            out[m] = np.round(v, 0 if m == "SSC" else 4).tolist()
    return out


def analyze_file(
    fcs: str | Path,
    *,
    gates: str | Path | None = None,
    leukemic_gate: str | None = None,
    denominator_gate: str | None = None,
    auto: bool = False,
    reference: ReferenceSource = None,
    strategy: str = "auto",
    rules: Mapping[str, Any] | None = None,
    with_plot: bool = False,
    validation: bool = False,
    read_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read one FCS file and compute flow MRD by gating and/or automated detection.

    ``reference``: a :class:`~remission.mrd.flow.ReferenceModel`, a path to a reference file,
    or a callable ``panel -> ReferenceModel`` (the demo reference); required for automated
    detection. ``validation=True`` reads the synthetic TRUTH channel and adds F1/precision/
    recall (never in a clinical report). Returns ``{"result": FlowMrd, "auto": FlowMrd | None,
    "plot": dict | None}`` (``result`` is the gating result when gates are given).
    """
    from remission.io.fcs import read_fcs
    from remission.io.gatingml import parse_gatingml
    from remission.mrd.flow import DifferentFromNormal, mrd_from_gates, prepare_tube
    from remission.mrd.gating import evaluate_gates

    ro = dict(read_options or {})
    if isinstance(reference, (str, Path)):
        reference = load_reference(reference)
    doc = parse_gatingml(gates) if gates is not None else None  # a bad gate file fails before any reading
    sample = read_fcs(fcs, dtype=np.float32, **ro)
    truth = None
    if validation:
        ti = next((i for i, c in enumerate(sample.channels) if c.upper() == "TRUTH"), None)
        if ti is None:
            raise ValidationError(f"validation mode needs a TRUTH channel, but FCS file {Path(fcs).name!r} has none")
        truth = sample.events[:, ti] > 0.5
    gating = None
    members: dict[str, np.ndarray] = {}
    if gates is not None and doc is not None:
        if not leukemic_gate or not denominator_gate:
            raise ValidationError("leukemic and denominator gate ids must both be given with a Gating-ML "
                                  f"file, but were {leukemic_gate!r} and {denominator_gate!r}")
        for g in (leukemic_gate, denominator_gate):
            if g not in doc.gates:
                raise ValidationError(f"gate must be one of {doc.gate_ids} (from {Path(gates).name}), "
                                      f"but was {g!r}")
        members = evaluate_gates(doc, sample, [leukemic_gate, denominator_gate])
        gating = mrd_from_gates(members, leukemic_gate, denominator_gate, truth=truth, rules=rules)
    auto_res = None
    tube = None
    det = None
    if auto or gates is None or with_plot:
        tube = prepare_tube(sample, rules=None)
        del sample
    if auto or gates is None:
        assert tube is not None
        ref = reference(tube.panel) if callable(reference) else reference
        det = DifferentFromNormal(reference=ref, strategy=strategy, rules=rules)  # type: ignore[arg-type]
        auto_res = det.detect(tube, truth=truth)
    main = gating if gating is not None else auto_res
    assert main is not None
    plot = None
    if with_plot and tube is not None:
        if gating is not None and leukemic_gate and denominator_gate:
            lab = members[leukemic_gate] & members[denominator_gate]
        elif det is not None and det.last_labels_ is not None:
            lab = det.last_labels_
        else:
            lab = np.zeros(tube.n_events, dtype=bool)
        plot = plot_events(tube, lab)
    return {"result": main, "auto": auto_res if gating is not None else None, "plot": plot}


def _case_reference(ctx: StepContext, refs: list[Any], rules: Mapping[str, Any]) -> Any:
    """Reference model built from the case's normal_reference tubes (None when it has none)."""
    from remission.io.checksums import sha256_file
    from remission.io.fcs import read_fcs
    from remission.mrd.flow import build_reference

    files = [p for s in refs for p in ctx.sample_paths(s) if p.suffix.lower() == ".fcs"]
    if not files:
        return None
    tubes = [read_fcs(p, dtype=np.float32) for p in files]
    return build_reference(tubes, sources=[{"file": p.name, "sha256": sha256_file(p)} for p in files], rules=rules)


@step("flow_mrd", title="Flow-cytometric MRD", provides=(MRD,),
      applies=lambda case: any(s.role != "normal_reference" for s in case.samples_of("flow_mrd")))
def run(ctx: StepContext) -> EngineSection:
    from remission.domain import resolve
    from remission.mrd.flow import FLOW_RULES, choose_strategy

    overrides = ctx.params_for("flow_mrd")
    unknown = sorted(set(overrides) - set(FLOW_RULES))
    if unknown:
        raise ValidationError(f"unknown parameter flow_mrd.{unknown[0]}; known parameters: "
                              f"{', '.join(sorted(FLOW_RULES))}")
    rules = resolve(FLOW_RULES, overrides)
    samples = ctx.case.samples_of("flow_mrd")
    cache: dict[str, Any] = {}

    def case_reference() -> Any:
        if "ref" not in cache:
            cache["ref"] = _case_reference(ctx, [s for s in samples if s.role == "normal_reference"], overrides)
        return cache["ref"]

    out: list[dict[str, Any]] = []
    notes: list[str] = []
    used_rules: dict[str, Any] = {}
    for s in samples:
        if s.role == "normal_reference":
            continue
        paths = ctx.sample_paths(s)
        fcs = [p for p in paths if p.suffix.lower() in (".fcs", ".lmd")]
        xml = [p for p in paths if p.suffix.lower() == ".xml"]
        refs = [p for p in paths if p.suffix.lower() == ".json"]
        if len(fcs) != 1:
            raise ValidationError(f"sample {s.id} files must hold exactly one .fcs file, but held {len(fcs)}")
        if len(refs) > 1:
            raise ValidationError(f"sample {s.id} files must hold at most one reference model .json, but held {len(refs)}")
        p = dict(s.parameters)
        method = p.get("method", "gating" if xml else "auto")
        want_auto = method == "auto" or bool(p.get("also_auto"))
        strategy, why = choose_strategy(p.get("strategy", "auto"), ctx.case.cd19_directed_before(s.date), rules)
        if why:
            notes.append(f"{s.id}: {why}")
            used_rules["cd19_independent_after_cd19_therapy"] = rules["cd19_independent_after_cd19_therapy"]
        reference = load_reference(refs[0]) if refs else (case_reference() if want_auto else None)
        if reference is None and want_auto:
            if method == "auto":
                raise ValidationError(
                    f"sample {s.id}: automated flow MRD needs a normal reference model: add a reference .json "
                    "(remission mrd flow reference build) to its files, or normal_reference tubes to the case")
            notes.append(f"{s.id}: automated result not computed: no normal reference model")
            want_auto = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LowSensitivityWarning)
            res = analyze_file(
                fcs[0],
                gates=xml[0] if (method == "gating" and xml) else None,
                leukemic_gate=p.get("leukemic_gate"), denominator_gate=p.get("denominator_gate"),
                auto=want_auto, strategy=strategy, rules=overrides, reference=reference, with_plot=True)
        for w in caught:
            notes.append(f"{s.id}: {w.message}")
        main = res["result"]
        used_rules.update(main.rules)
        ctx.mrd.append(main.to_mrd_result(sample_id=s.id, date=s.date, material=s.material))
        notes.extend(f"{s.id}: {w}" for w in main.warnings if w not in " ".join(notes))
        if res["auto"] is not None:
            notes.extend(f"{s.id} (automated): {w}" for w in res["auto"].warnings
                         if w not in " ".join(notes))
        out.append({
            "sample_id": s.id, "date": s.date.isoformat(), "file": str(fcs[0].name),
            "result": main.as_dict(), "auto": res["auto"].as_dict() if res["auto"] is not None else None,
            "plot": res["plot"],
        })
    return EngineSection(name="flow_mrd", title="Flow-cytometric MRD", result=FlowResult.model_validate({"samples": out}),
                         warnings=tuple(dict.fromkeys(notes)), rests_on=tuple(rests_on(used_rules.values())))
