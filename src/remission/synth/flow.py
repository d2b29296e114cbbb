"""Seeded synthetic B-ALL MRD flow tubes: normal marrow with B-cell maturation plus leukaemia.

The model is a caricature built from textbook immunophenotypes (EuroFlow BCP-ALL MRD,
Theunissen et al., Blood 2017;129:347; regenerating B-cell maturation as in van Lochem et al.,
Cytometry B 2004;60:1), not fitted to real data:

- normal nucleated marrow: neutrophils (SSC high, CD45 dim, CD10+, CD24++, CD66c+), monocytes,
  T/NK lymphocytes (CD45 bright), nucleated erythroid cells (CD45-), CD34+ myeloid precursors,
  and B cells along a *continuous* maturation path stage I (CD34+ CD10++ CD19+ CD20- CD38++
  CD45 dim) -> stage II (CD34- CD10+ CD20 dim CD45+) -> mature (CD10- CD20++ CD45++ CD38 dim);
- a leukaemic population of a chosen phenotype (LAIP-like deviations: CD45-, CD38 under-
  expression, CD58/CD66c over-expression, CD10 loss, CD34/CD20 asynchrony, and CD19 loss after
  CAR-T/blinatumomab) at a chosen fraction of nucleated cells;
- SYTO-negative debris/erythrocyte events that the denominator must exclude.

Intensities are drawn as ``10**(level + sd*z)`` plus Gaussian background in linear units,
mixed with a spillover matrix (``observed = true @ S``) and written as FCS 3.1 float32 with
flowio, with ``$SPILLOVER`` and a ``TRUTH`` channel (1 = leukaemic event, 0 = other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MARKERS",
    "DEMO_REFERENCE_FILE",
    "PHENOTYPES",
    "FlowTube",
    "add_to_examples",
    "demo_reference",
    "simulate_tube",
    "write_demo_reference",
    "write_tube",
]

#: fluorochrome channel (PnN) per marker (PnS)
CHANNEL_OF = {
    "CD20": "FITC-A", "CD10": "PE-A", "CD45": "PerCP-A", "CD34": "PE-Cy7-A", "SYTO41": "PacBlue-A",
    "CD19": "APC-A", "CD38": "A700-A", "CD22": "BV605-A", "CD24": "BV650-A", "CD58": "PE-CF594-A",
    "CD66c": "BV786-A", "CD81": "APC-H7-A", "CD73": "BUV395-A", "CD304": "BUV737-A",
}
DEFAULT_MARKERS: tuple[str, ...] = ("CD20", "CD10", "CD45", "CD34", "SYTO41", "CD19", "CD38", "CD22",
                                    "CD24", "CD58", "CD66c", "CD81")
TRUTH_CHANNEL = "TRUTH"
#: $CYT of the synthetic tubes (and the instrument of the demo reference)
SYNTHETIC_CYTOMETER = "remission synthetic cytometer"
#: file name of the demo reference model in the example cases: says what it is
DEMO_REFERENCE_FILE = "DEMO-flow-reference-synthetic-not-for-clinical-use.json"

_L = {"-": 1.0, "lo": 2.5, "+": 3.3, "++": 3.9, "+++": 4.4}
_SD = 0.12  # log10 spread of a marker within a population
_BG = 60.0  # background (linear units, Gaussian)


def _ph(**kw: str) -> dict[str, float]:
    return {k: _L[v] for k, v in kw.items()}


# scatter (FSC mean, SSC mean) and marker levels; unspecified markers are negative ("-")
_NORMAL: dict[str, tuple[float, tuple[float, float], dict[str, float]]] = {
    "neutrophil": (0.52, (95e3, 115e3), _ph(CD45="+", CD10="+", CD24="++", CD66c="+", CD38="lo",
                                           CD58="+", SYTO41="+")),
    "monocyte": (0.06, (90e3, 45e3), _ph(CD45="++", CD38="+", CD58="+", CD81="lo", SYTO41="+",
                                        CD304="lo")),
    "lymph_t_nk": (0.16, (50e3, 14e3), _ph(CD45="+++", CD38="lo", CD81="+", CD58="lo", SYTO41="+")),
    "erythroid": (0.13, (45e3, 12e3), _ph(CD38="lo", CD81="lo", SYTO41="+")),
    "myeloid_cd34": (0.01, (60e3, 25e3), _ph(CD34="+", CD45="lo", CD38="++", CD58="+", CD81="+",
                                            CD66c="lo", SYTO41="+")),
}
#: B-cell maturation anchors along t in [0, 1] (stage I -> II -> mature)
_B_STAGES = (
    (0.0, _ph(CD34="+", CD10="++", CD19="+", CD20="-", CD22="lo", CD24="+", CD38="++", CD45="lo",
              CD58="+", CD81="++", SYTO41="+")),
    (0.45, _ph(CD34="-", CD10="+", CD19="+", CD20="lo", CD22="+", CD24="++", CD38="++", CD45="+",
               CD58="lo", CD81="+", SYTO41="+")),
    (1.0, _ph(CD34="-", CD10="-", CD19="+", CD20="++", CD22="++", CD24="+", CD38="lo", CD45="++",
              CD58="lo", CD81="lo", SYTO41="+")),
)
_B_FRACTION = 0.07  # of nucleated cells (regenerating marrow)

#: leukaemic phenotypes (LAIP-like deviations from normal maturation)
PHENOTYPES: dict[str, dict[str, float]] = {
    "cd45neg_cd38lo": _ph(CD34="+", CD10="+++", CD19="+", CD20="-", CD22="+", CD24="+", CD38="lo",
                          CD45="-", CD58="++", CD81="lo", SYTO41="+"),
    "cd66c_asynchronous": _ph(CD34="-", CD10="++", CD19="+", CD20="+", CD22="+", CD24="+", CD38="lo",
                              CD45="lo", CD58="++", CD66c="+", CD81="lo", SYTO41="+"),
    "cd10neg_cd34pos": _ph(CD34="+", CD10="-", CD19="+", CD20="-", CD22="+", CD24="-", CD38="+",
                           CD45="lo", CD58="+", CD81="lo", SYTO41="+", CD304="+"),
    # close to normal stage I: CD38, CD58, CD81 and CD45 each shifted by about one level
    "near_normal": _ph(CD34="+", CD10="++", CD19="+", CD20="-", CD22="lo", CD24="+", CD38="+", CD45="-",
                       CD58="++", CD81="+", SYTO41="+"),
    "cd19neg": _ph(CD34="+", CD10="++", CD19="-", CD20="-", CD22="+", CD24="+", CD38="lo", CD45="lo",
                   CD58="++", CD81="lo", SYTO41="+", CD73="+"),
}


@dataclass(frozen=True)
class FlowTube:
    """A simulated tube: events (linear, after spillover), names, spillover, truth labels."""

    events: np.ndarray
    channels: tuple[str, ...]
    markers: tuple[str, ...]
    spill_channels: tuple[str, ...]
    spill: np.ndarray
    truth: np.ndarray  # bool per event
    fraction: float
    phenotype: str | None
    seed: int


def _spillover(n: int, rng: np.random.Generator) -> np.ndarray:
    s = np.eye(n)
    for i in range(n - 1):  # neighbouring detectors spill most
        s[i, i + 1] = rng.uniform(0.02, 0.12)
        s[i + 1, i] = rng.uniform(0.0, 0.04)
    for _ in range(n):
        i, j = rng.integers(0, n, 2)
        if i != j and s[i, j] == 0:
            s[i, j] = rng.uniform(0.0, 0.02)
    return s


def _draw(rng: np.random.Generator, n: int, levels: np.ndarray, markers: Sequence[str]) -> np.ndarray:
    """Linear intensities for n events with per-event log10 levels ``levels`` (n x m or m)."""
    z = rng.standard_normal((n, len(markers)), dtype=np.float32)
    lv = np.broadcast_to(np.asarray(levels, dtype=np.float32), (n, len(markers)))
    out = np.power(np.float32(10.0), lv + np.float32(_SD) * z)
    out += rng.standard_normal((n, len(markers)), dtype=np.float32) * np.float32(_BG)
    return out


def _scatter(rng: np.random.Generator, n: int, fsc: float, ssc: float) -> np.ndarray:
    out = np.empty((n, 2), dtype=np.float32)
    out[:, 0] = fsc * (1 + 0.15 * rng.standard_normal(n, dtype=np.float32))
    out[:, 1] = ssc * (1 + 0.2 * rng.standard_normal(n, dtype=np.float32))
    return np.clip(out, 0, 262143)


def simulate_tube(
    n_events: int,
    *,
    fraction: float = 0.0,
    phenotype: str | None = "cd45neg_cd38lo",
    markers: Sequence[str] = DEFAULT_MARKERS,
    seed: int = 0,
    debris_fraction: float = 0.04,
) -> FlowTube:
    """Simulate one tube of ``n_events`` events (nucleated cells + debris).

    ``fraction`` is the leukaemic fraction of nucleated cells (0 = normal marrow).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), but was {fraction!r}")
    if fraction > 0 and phenotype not in PHENOTYPES:
        raise ValueError(f"phenotype must be one of {sorted(PHENOTYPES)}, but was {phenotype!r}")
    unknown = [m for m in markers if m not in CHANNEL_OF]
    if unknown:
        raise ValueError(f"markers must be among {sorted(CHANNEL_OF)}, but were {unknown!r}")
    rng = np.random.default_rng(seed)
    m = len(markers)
    n_debris = round(n_events * debris_fraction)
    n_nuc = n_events - n_debris
    n_leuk = int(rng.binomial(n_nuc, fraction)) if fraction > 0 else 0
    names = [*list(_NORMAL), "b_cell"]
    weights = np.array([v[0] for v in _NORMAL.values()] + [_B_FRACTION])
    counts = rng.multinomial(n_nuc - n_leuk, weights / weights.sum())
    blocks: list[np.ndarray] = []
    truth_blocks: list[np.ndarray] = []

    def levels_of(d: dict[str, float]) -> np.ndarray:
        return np.array([d.get(k, _L["-"]) for k in markers], dtype=np.float32)

    for name, k in zip(names, counts, strict=True):
        if k == 0:
            continue
        if name == "b_cell":
            t = rng.beta(1.2, 1.0, size=k).astype(np.float32)
            anchors_t = np.array([a for a, _ in _B_STAGES], dtype=np.float32)
            anchors = np.stack([levels_of(lv) for _, lv in _B_STAGES])
            lv = np.stack([np.interp(t, anchors_t, anchors[:, j]) for j in range(m)], axis=1)
            sc = _scatter(rng, k, 52e3, 15e3)
        else:
            _, (fsc, ssc), d = _NORMAL[name]
            lv = levels_of(d)
            sc = _scatter(rng, k, fsc, ssc)
        blocks.append(np.hstack([sc, _draw(rng, k, lv, markers)]))
        truth_blocks.append(np.zeros(k, dtype=bool))
    if n_leuk:
        sc = _scatter(rng, n_leuk, 58e3, 17e3)
        blocks.append(np.hstack([sc, _draw(rng, n_leuk, levels_of(PHENOTYPES[phenotype or ""]), markers)]))
        truth_blocks.append(np.ones(n_leuk, dtype=bool))
    if n_debris:
        sc = _scatter(rng, n_debris, 9e3, 6e3)
        blocks.append(np.hstack([sc, _draw(rng, n_debris, levels_of({}), markers)]))
        truth_blocks.append(np.zeros(n_debris, dtype=bool))
    ev = np.vstack(blocks)
    truth = np.concatenate(truth_blocks)
    order = rng.permutation(ev.shape[0])
    ev, truth = ev[order], truth[order]
    spill = _spillover(m, rng)
    ev[:, 2:] = ev[:, 2:] @ spill.astype(np.float32)
    channels = ("FSC-A", "SSC-A", *(CHANNEL_OF[k] for k in markers))
    return FlowTube(events=ev, channels=channels, markers=("", "", *markers),
                    spill_channels=tuple(CHANNEL_OF[k] for k in markers), spill=spill, truth=truth,
                    fraction=fraction, phenotype=phenotype if fraction > 0 else None, seed=seed)


def write_tube(tube: FlowTube, path: str | Path, *, truth_channel: bool = True,
               metadata: dict[str, str] | None = None) -> Path:
    """Write a tube as FCS 3.1 float32 (with ``$SPILLOVER`` and, by default, the TRUTH channel)."""
    from remission.io.fcs import Spillover, write_fcs

    ev = tube.events
    chans, marks = list(tube.channels), list(tube.markers)
    if truth_channel:
        ev = np.hstack([ev, tube.truth[:, None].astype(np.float32)])
        chans.append(TRUTH_CHANNEL)
        marks.append("truth label (1 = leukemic)")
    meta = {"CYT": SYNTHETIC_CYTOMETER, "SRC": "remission.synth.flow",
            "REMISSION_SEED": str(tube.seed), "REMISSION_FRACTION": repr(tube.fraction),
            "REMISSION_PHENOTYPE": tube.phenotype or "none"}
    meta.update(metadata or {})
    return write_fcs(path, ev, chans, marks, meta, spill=Spillover(tube.spill_channels, tube.spill))


@lru_cache(maxsize=8)
def demo_reference(panel: tuple[str, ...] = (*DEFAULT_MARKERS,), *, n_events: int = 400_000,
                   seed: int = 20240611) -> Any:
    """A **demo** normal-marrow reference model (:class:`remission.mrd.flow.ReferenceModel`,
    ``demo=True``) for the markers of ``panel`` that the simulator knows, built from one seeded
    synthetic normal tube. Every result built on it says "illustrative (demo reference)"."""
    from remission.io.fcs import FcsData, Spillover
    from remission.mrd.flow import build_reference

    known = tuple(m for m in CHANNEL_OF if m in panel)
    if not known:
        raise ValueError(f"panel must share markers with the simulator ({sorted(CHANNEL_OF)}), but was {panel!r}")
    tube = simulate_tube(n_events, fraction=0.0, markers=known, seed=seed)
    fd = FcsData(path=None, version="FCS3.1", events=tube.events, channels=tube.channels, markers=tube.markers,
                 metadata={"cyt": SYNTHETIC_CYTOMETER}, spill=Spillover(tube.spill_channels, tube.spill))
    src = [{"file": f"synthetic normal marrow (remission.synth.flow, seed {seed})", "sha256": None}]
    return build_reference([fd], sources=src, demo=True)


def write_demo_reference(path: str | Path, panel: tuple[str, ...] = (*DEFAULT_MARKERS,)) -> Path:
    """Write :func:`demo_reference` as a reference file (JSON)."""
    from remission.io.flowref import write_flow_reference

    return write_flow_reference(path, demo_reference(tuple(panel)).to_dict())


def _gates_xml(tube: FlowTube) -> str:
    """A hand-drawn-style Gating-ML strategy for the example tubes (compensation + logicle)."""
    from remission.synth.flow import CHANNEL_OF as C

    def dim(ch: str, lo: float | None = None, hi: float | None = None, comp: str = "FCS",
            tr: str | None = "L") -> str:
        a = f' gating:compensation-ref="{comp}"'
        if tr:
            a += f' gating:transformation-ref="{tr}"'
        if lo is not None:
            a += f' gating:min="{lo}"'
        if hi is not None:
            a += f' gating:max="{hi}"'
        return f'<gating:dimension{a}><data-type:fcs-dimension data-type:name="{ch}"/></gating:dimension>'

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
    xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <transforms:transformation transforms:id="L">
    <transforms:logicle transforms:T="262144" transforms:W="0.5" transforms:M="4.5" transforms:A="0"/>
  </transforms:transformation>
  <gating:RectangleGate gating:id="nucleated">
    {dim("FSC-A", 20000, None, "uncompensated", None)}
    {dim(C["SYTO41"], 0.45)}
  </gating:RectangleGate>
  <gating:RectangleGate gating:id="blast_scatter" gating:parent_id="nucleated">
    {dim("SSC-A", None, 40000, "uncompensated", None)}
  </gating:RectangleGate>
  <gating:RectangleGate gating:id="b_lineage" gating:parent_id="blast_scatter">
    {dim(C["CD22"], 0.3)}
  </gating:RectangleGate>
  <gating:RectangleGate gating:id="leukemic" gating:parent_id="b_lineage">
    {dim(C["CD10"], 0.55)}
    {dim(C["CD34"], 0.45)}
    {dim(C["CD38"], None, 0.5)}
  </gating:RectangleGate>
</gating:Gating-ML>
"""


def add_to_examples(cases: dict[str, Any]) -> None:
    """Add small flow-MRD tubes (6e4 events, about 3.6 MB each) to the B-lineage example cases.

    - ``late-bm-bcp``: end of consolidation, CD19+ leukaemia (CD45-, CD38 low) at 2e-3, with a
      Gating-ML file (gating method; the automated result is reported beside it);
    - ``ph-like-very-early``: day 28 after tisagenlecleucel, a CD19-negative leukaemic
      population at 1e-3 (the CD19-independent strategy must find it).

    Automated detection in both uses the demo reference written beside the tubes
    (:data:`DEMO_REFERENCE_FILE`), so their automated values say they are illustrative.
    """
    specs = {
        "late-bm-bcp": [("flow-eoc", "2019-07-08", 2e-3, "cd45neg_cd38lo", "follow_up", True)],
        "ph-like-very-early": [("flow-d28-cart", "2022-08-02", 1e-3, "cd19neg", "follow_up", False)],
    }
    for slug, rows in specs.items():
        ex = cases.get(slug)
        if ex is None:
            continue
        ref = ex.write_file(f"flow/{DEMO_REFERENCE_FILE}", write_demo_reference)
        for sid, date, frac, ph, role, gates in rows:
            seed = int(ex.rng(f"flow/{sid}").integers(0, 2**31))
            tube = simulate_tube(60_000, fraction=frac, phenotype=ph, seed=seed)
            rel = ex.write_file(f"flow/{sid}.fcs", lambda p, t=tube: write_tube(t, p))
            files = [rel, ref]
            params: dict[str, Any] = {"method": "auto"}
            if gates:
                g = ex.write_file(f"flow/{sid}.gates.xml",
                                  lambda p, t=tube: Path(p).write_text(_gates_xml(t), encoding="utf-8"))
                files.append(g)
                params = {"method": "gating", "leukemic_gate": "leukemic", "denominator_gate": "nucleated",
                          "also_auto": True}
            ex.add_sample({"id": sid, "date": date, "material": "bone_marrow", "assay": "flow_mrd",
                           "role": role, "files": files, "parameters": params})
