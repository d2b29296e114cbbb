"""Flow MRD benchmark: a 5-million-event x 12-channel tube from file to MRD, vs FlowKit.

    python benchmarks/bench_flow.py [--events N] [--runs R] [--peer-runs R] [--no-f1]

Input (seeded, under benchmarks/_data/): ``remission.synth.flow.simulate_tube`` with 12 channels
(FSC-A, SSC-A, CD20, CD10, CD45, CD34, SYTO41, CD19, CD38, CD22, CD24, CD58), leukaemia at 1e-3,
written as FCS 3.1 float32 with $SPILLOVER, plus a 4-gate Gating-ML strategy (nucleated ->
blast scatter -> CD22+ B lineage -> leukaemic) on compensated, logicle-transformed data.

Timed commands (each a fresh process; median wall time and peak RSS of the child):

- ours: ``remission mrd flow FILE --gates G --leukemic leukemic --denominator nucleated --json``
  (read, $SPILLOVER compensation, logicle, gating, MRD/LoD/LoQ, JSON envelope incl. SHA-256);
- ours, automated: ``remission mrd flow FILE --auto --reference REF --json``, where REF is a
  normal reference model built beforehand (and timed separately) by ``remission mrd flow
  reference build`` from two seeded synthetic normal tubes of the same panel (400,000 events each);
- peer: FlowKit 1.3.2 ``Sample`` + ``parse_gating_xml`` + ``gate_sample`` on the same files
  (same compensation, transform and gates), then leukaemic / denominator counts.

Also reports the automated-detection accuracy (validation mode: synthetic truth labels) on 20
seeded tubes (3e5 events; 5 phenotypes incl. CD19-negative x fractions 1e-2, 3e-3, 1e-3, 1e-4)
against a reference built from other seeds: median F1 and MRD ratio to truth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_timed(cmd: list[str], runs: int) -> dict[str, float]:
    """Like ``benchmarks/_util.run_timed`` (fresh child per run; median/min wall seconds, peak
    RSS of the child from ``os.wait4``) plus the median CPU seconds (user + system) of the child:
    on a shared machine the wall time grows with other jobs' load, the CPU time hardly."""
    import time

    wall: list[float] = []
    cpu: list[float] = []
    peak: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall.append(time.perf_counter() - t0)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"benchmark command failed: {' '.join(cmd)}\n{err}")
        cpu.append(usage.ru_utime + usage.ru_stime)
        peak.append(usage.ru_maxrss / 1024)
    return {"median_s": statistics.median(wall), "min_s": min(wall), "cpu_s": statistics.median(cpu),
            "peak_mb": max(peak), "runs": runs}

MARKERS = ("CD20", "CD10", "CD45", "CD34", "SYTO41", "CD19", "CD38", "CD22", "CD24", "CD58")

PEER = r"""
import sys, flowkit as fk
fcs, xml = sys.argv[1], sys.argv[2]
s = fk.Sample(fcs)
g = fk.parse_gating_xml(xml)
res = g.gate_sample(s)
leuk = res.get_gate_membership("leukemic")
den = res.get_gate_membership("nucleated")
n = int((leuk & den).sum()); d = int(den.sum())
print(n, d, n / d)
"""

#: the pipeline of flow_mrd.md §1.2 (measured there at ~19 s, 3.7 GB): comp + logicle of every
#: fluorescence channel on the Sample, then the same gates
PEER_FULL = PEER.replace("g = fk.parse_gating_xml(xml)", """sp = s.metadata.get("spill") or s.metadata["spillover"]
s.apply_compensation(sp)
xf = fk.transforms.LogicleTransform(262144, 0.5, 4.5, 0)
s.apply_transform({c: xf for c in sp.split(",")[1:1 + int(sp.split(",")[0])]})
g = fk.parse_gating_xml(xml)""")


def _inputs(n: int) -> tuple[Path, Path, list[Path]]:
    from remission.synth.flow import _gates_xml, simulate_tube, write_tube

    d = HERE / "_data"
    d.mkdir(exist_ok=True)
    fcs, xml = d / f"flow_{n}.fcs", d / "flow_gates.xml"
    if not fcs.exists():
        tube = simulate_tube(n, fraction=1e-3, phenotype="cd45neg_cd38lo", markers=MARKERS, seed=2024)
        write_tube(tube, fcs, truth_channel=False)
        xml.write_text(_gates_xml(tube), encoding="utf-8")
    normals = [d / f"flow_normal_{s}.fcs" for s in (31, 32)]
    for s, p in zip((31, 32), normals, strict=True):
        if not p.exists():
            write_tube(simulate_tube(400_000, fraction=0.0, markers=MARKERS, seed=s), p, truth_channel=False)
    return fcs, xml, normals


def _f1_figures() -> dict[str, float | int | list[float]]:
    import numpy as np

    from remission.errors import LowSensitivityWarning
    from remission.io.fcs import FcsData, Spillover
    from remission.mrd.flow import DifferentFromNormal, build_reference
    from remission.synth.flow import PHENOTYPES, simulate_tube

    def fcsdata(t: Any, truth: bool) -> FcsData:
        ev = np.hstack([t.events, t.truth[:, None].astype(np.float32)]) if truth else t.events
        extra = ("TRUTH",) if truth else ()
        return FcsData(None, "FCS3.1", ev, (*t.channels, *extra), (*t.markers, *extra),
                       {"cyt": "remission synthetic cytometer"}, Spillover(t.spill_channels, t.spill))

    ref = build_reference([fcsdata(simulate_tube(200_000, fraction=0.0, seed=s), False) for s in (7001, 7002)])
    det = DifferentFromNormal(reference=ref)
    f1s, ratios, seed = [], [], 100
    per_frac: dict[float, list[float]] = {}
    for ph in sorted(PHENOTYPES):
        for frac in (1e-2, 3e-3, 1e-3, 1e-4):
            seed += 1
            t = simulate_tube(300_000, fraction=frac, phenotype=ph, seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LowSensitivityWarning)
                r = det.detect(fcsdata(t, True), validation=True)
            f1s.append(r.f1)
            ratios.append(r.mrd_estimate / (t.truth.sum() / r.events_denominator))
            per_frac.setdefault(frac, []).append(r.f1)
    return {"tubes": len(f1s), "median_f1": statistics.median(f1s), "min_f1": min(f1s),
            "mean_f1": statistics.fmean(f1s), "ratio_min": min(ratios), "ratio_max": max(ratios),
            **{f"median_f1_at_{k:g}": statistics.median(v) for k, v in per_frac.items()}}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-runs", type=int, default=2)
    ap.add_argument("--no-f1", action="store_true")
    a = ap.parse_args(argv)
    fcs, xml, normals = _inputs(a.events)
    exe = str(Path(sys.executable).parent / "remission")
    ref = HERE / "_data" / "flow_reference.json"
    build_cmd = [exe, "mrd", "flow", "reference", "build", *map(str, normals), "-o", str(ref)]
    build = run_timed(build_cmd, runs=1)
    ours_cmd = [exe, "mrd", "flow", str(fcs), "--gates", str(xml), "--leukemic", "leukemic",
                "--denominator", "nucleated", "--json"]
    out = json.loads(subprocess.run(ours_cmd, capture_output=True, text=True, check=True).stdout)["result"]
    ours = run_timed(ours_cmd, runs=a.runs)
    auto_cmd = [exe, "mrd", "flow", str(fcs), "--auto", "--reference", str(ref), "--json"]
    auto_out = json.loads(subprocess.run(auto_cmd, capture_output=True, text=True, check=True).stdout)["result"]
    auto = run_timed(auto_cmd, runs=a.runs)
    peer_cmd = [sys.executable, "-c", PEER, str(fcs), str(xml)]
    peer_out = subprocess.run(peer_cmd, capture_output=True, text=True, check=True).stdout.split()
    peer = run_timed(peer_cmd, runs=a.peer_runs)
    full = run_timed([sys.executable, "-c", PEER_FULL, str(fcs), str(xml)], runs=a.peer_runs)
    same = int(peer_out[0]) == out["events_leukemic"] and int(peer_out[1]) == out["events_denominator"]
    print(f"input: {fcs.name}, {a.events:,} events x 12 channels, {fcs.stat().st_size / 1e6:.0f} MB")
    print("| pipeline | median s | min s | CPU s (user+sys, median) | peak RSS MB | runs | leukemic / denominator | MRD |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    print(f"| remission (gating) | {ours['median_s']:.2f} | {ours['min_s']:.2f} | {ours['cpu_s']:.2f} | {ours['peak_mb']:.0f} | "
          f"{ours['runs']} | {out['events_leukemic']:,} / {out['events_denominator']:,} | {out['mrd']:.3e} |")
    print(f"| remission (--auto --reference) | {auto['median_s']:.2f} | {auto['min_s']:.2f} | {auto['cpu_s']:.2f} | {auto['peak_mb']:.0f} | "
          f"{auto['runs']} | {auto_out['events_leukemic']:,} / {auto_out['events_denominator']:,} | "
          f"{auto_out['mrd'] or 0:.3e} |")
    print(f"| FlowKit 1.3.2 (gating) | {peer['median_s']:.2f} | {peer['min_s']:.2f} | {peer['cpu_s']:.2f} | {peer['peak_mb']:.0f} | "
          f"{peer['runs']} | {int(peer_out[0]):,} / {int(peer_out[1]):,} | {float(peer_out[2]):.3e} |")
    print(f"| FlowKit 1.3.2 (Sample comp + logicle of all fluorescence channels, then gating) | "
          f"{full['median_s']:.2f} | {full['min_s']:.2f} | {full['cpu_s']:.2f} | {full['peak_mb']:.0f} | {full['runs']} | same gates | |")
    print(f"| remission reference build (2 normal tubes x 400,000 events, once per panel/instrument) | "
          f"{build['median_s']:.2f} | {build['min_s']:.2f} | {build['cpu_s']:.2f} | {build['peak_mb']:.0f} | {build['runs']} | | |")
    print(f"\nratio FlowKit / remission (median wall): {peer['median_s'] / ours['median_s']:.1f}x gating only, "
          f"{full['median_s'] / ours['median_s']:.1f}x full pipeline")
    print(f"ratio FlowKit (gating only) / remission --auto: {peer['median_s'] / auto['median_s']:.2f}x wall, "
          f"{peer['cpu_s'] / auto['cpu_s']:.2f}x CPU; FlowKit (comp + logicle + gating) / remission --auto: "
          f"{full['median_s'] / auto['median_s']:.2f}x wall, {full['cpu_s'] / auto['cpu_s']:.2f}x CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    print(f"peak memory FlowKit / remission: {peer['peak_mb'] / ours['peak_mb']:.1f}x gating only, "
          f"{full['peak_mb'] / ours['peak_mb']:.1f}x full pipeline; identical gate counts: {same}")
    if not a.no_f1:
        f = _f1_figures()
        print("\nautomated detection, 20 seeded tubes (3e5 events):",
              ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in f.items()))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
