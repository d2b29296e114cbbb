"""Pipeline step "flow_mrd": flow-cytometric MRD of every ``flow_mrd`` sample of a case.

Per sample (``files``: one ``.fcs`` and optionally one Gating-ML ``.xml``; ``parameters``):

- ``method``: ``gating`` (needs the XML, ``leukemic_gate`` and ``denominator_gate``) or
  ``auto`` (different-from-normal; default when no XML is given); ``also_auto: true`` adds the
  automated result beside a gating result;
- ``strategy``: ``auto`` | ``cd19`` | ``cd19_independent``; after a CD19-directed therapy
  (CAR-T targeting CD19, blinatumomab) before the sample date, ``auto`` becomes
  ``cd19_independent``;
- normal reference tubes: samples with ``assay: flow_mrd`` and ``role: normal_reference``.

Appends one :class:`~remission.domain.MrdResult` (method ``flow``) per analysed sample to
``ctx.mrd`` (the gating result when both are computed). ``ctx.sections["flow_mrd"].result``:
``{"samples": [{"sample_id", "date", "file", "result": {...}, "auto": {...} | None,
"plot": {...}}]}`` where ``result`` has the keys of :meth:`FlowMrd.as_dict`.

User overrides: ``parameters["flow_mrd"]`` maps rule names of ``FLOW_RULES`` to values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from remission.domain import Case, EngineSection, FlowResult, rests_on
from remission.errors import LowSensitivityWarning, ValidationError
from remission.steps._base import MRD, StepContext, step

__all__ = ["analyse_file", "plot_events"]

_PLOT_MARKERS = ("CD19", "CD10", "CD34", "CD45", "SSC")


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
            v = tube.col(m)[idx].astype(np.float64)
            out[m] = np.round(v, 0 if m == "SSC" else 4).tolist()
    return out


def analyse_file(
    fcs: str | Path,
    *,
    gates: str | Path | None = None,
    leukemic_gate: str | None = None,
    denominator_gate: str | None = None,
    auto: bool = False,
    references: Sequence[str | Path] = (),
    strategy: str = "auto",
    rules: Mapping[str, Any] | None = None,
    detector: Any = None,
    with_plot: bool = False,
    read_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read one FCS file and compute flow MRD by gating and/or automated detection.

    Returns ``{"result": FlowMrd, "auto": FlowMrd | None, "plot": dict | None}`` (``result`` is
    the gating result when gates are given, else the automated one).
    """
    from remission.io.fcs import read_fcs
    from remission.io.gatingml import parse_gatingml
    from remission.mrd.flow import DifferentFromNormal, mrd_from_gates, prepare_tube

    ro = dict(read_options or {})
    sample = read_fcs(fcs, dtype=np.float32, **ro)
    truth = None
    ti = next((i for i, c in enumerate(sample.channels) if c.upper() == "TRUTH"), None)
    if ti is not None:
        truth = sample.events[:, ti] > 0.5
    gating = None
    if gates is not None:
        if not leukemic_gate or not denominator_gate:
            raise ValidationError("leukemic and denominator gate ids must both be given with a Gating-ML "
                                  f"file, but were {leukemic_gate!r} and {denominator_gate!r}")
        doc = parse_gatingml(gates)
        for g in (leukemic_gate, denominator_gate):
            if g not in doc.gates:
                raise ValidationError(f"gate must be one of {doc.gate_ids} (from {Path(gates).name}), "
                                      f"but was {g!r}")
        members = doc.evaluate(sample, [leukemic_gate, denominator_gate])
        gating = mrd_from_gates(members, leukemic_gate, denominator_gate, truth=truth, rules=rules)
    auto_res = None
    tube = None
    if auto or gates is None or with_plot:
        tube = prepare_tube(sample, rules=None)
        del sample
    if auto or gates is None:
        det = detector
        if det is None:
            det = DifferentFromNormal(strategy=strategy, rules=rules)  # type: ignore[arg-type]
            det.fit([prepare_tube(read_fcs(r, dtype=np.float32, **ro)) for r in references])
        auto_res = det.detect(tube, truth=truth)
    main = gating if gating is not None else auto_res
    assert main is not None
    plot = None
    if with_plot and tube is not None:
        if gating is not None and leukemic_gate and denominator_gate:
            lab = members[leukemic_gate] & members[denominator_gate]
        else:
            lab = np.zeros(tube.n_events, dtype=bool)
            if auto_res is not None:
                lab = _auto_labels(det, tube)
        plot = plot_events(tube, lab)
    return {"result": main, "auto": auto_res if gating is not None else None, "plot": plot}


def _auto_labels(det: Any, tube: Any) -> np.ndarray:
    return det.last_labels_ if getattr(det, "last_labels_", None) is not None else np.zeros(tube.n_events, bool)


def _cd19_directed_before(case: Case, when: Any) -> str | None:
    hits = case.cd19_directed_before(when)
    return "; ".join(hits) if hits else None


@step("flow_mrd", title="Flow-cytometric MRD", provides=(MRD,),
      applies=lambda case: any(s.role != "normal_reference" for s in case.samples_of("flow_mrd")))
def run(ctx: StepContext) -> EngineSection:
    from remission.mrd.flow import FLOW_RULES, DifferentFromNormal, prepare_tube

    overrides = ctx.params_for("flow_mrd")
    unknown = sorted(set(overrides) - set(FLOW_RULES))
    if unknown:
        raise ValidationError(f"unknown parameter flow_mrd.{unknown[0]}; known parameters: "
                              f"{', '.join(sorted(FLOW_RULES))}")
    samples = ctx.case.samples_of("flow_mrd")
    refs = [s for s in samples if s.role == "normal_reference"]
    ref_files = [p for s in refs for p in ctx.sample_paths(s) if p.suffix.lower() == ".fcs"]
    from remission.io.fcs import read_fcs

    ref_tubes = [prepare_tube(read_fcs(p, dtype=np.float32)) for p in ref_files]
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    used_rules: dict[str, Any] = {}
    for s in samples:
        if s.role == "normal_reference":
            continue
        paths = ctx.sample_paths(s)
        fcs = [p for p in paths if p.suffix.lower() in (".fcs", ".lmd")]
        xml = [p for p in paths if p.suffix.lower() == ".xml"]
        if len(fcs) != 1:
            raise ValidationError(f"sample {s.id} files must hold exactly one .fcs file, but held {len(fcs)}")
        p = dict(s.parameters)
        method = p.get("method", "gating" if xml else "auto")
        strategy = p.get("strategy", "auto")
        why = _cd19_directed_before(ctx.case, s.date)
        if strategy == "auto" and why:
            strategy = "cd19_independent"
            notes.append(f"{s.id}: CD19-independent B-lineage strategy because of {why}")
        det = DifferentFromNormal(strategy=strategy, rules=overrides).fit(ref_tubes)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LowSensitivityWarning)
            res = analyse_file(
                fcs[0],
                gates=xml[0] if (method == "gating" and xml) else None,
                leukemic_gate=p.get("leukemic_gate"), denominator_gate=p.get("denominator_gate"),
                auto=method == "auto" or bool(p.get("also_auto")), strategy=strategy, rules=overrides,
                detector=det, with_plot=True)
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
