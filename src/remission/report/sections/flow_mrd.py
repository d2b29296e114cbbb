"""Report section of the ``flow_mrd`` step: MRD table and CD19/CD10, CD34/CD10, CD45/SSC plots."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain.mrd import format_mrd

_PLOTS = (("CD19", "CD10"), ("CD34", "CD10"), ("CD45", "SSC"))


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.1e}"


def _plots(plot: dict[str, Any], title: str) -> str:
    import numpy as np

    from remission.report.plots import COLORS, figure, svg

    lab = np.asarray(plot.get("leukemic", []), dtype=bool)
    out = []
    for x, y in _PLOTS:
        if x not in plot or y not in plot:
            continue
        fig, ax = figure(3.0, 2.8)
        xv, yv = np.asarray(plot[x], dtype=float), np.asarray(plot[y], dtype=float)
        ax.hexbin(xv[~lab], yv[~lab], gridsize=45, bins="log", cmap="Greys", mincnt=1, linewidths=0)
        if lab.any():
            ax.scatter(xv[lab], yv[lab], s=3, c=COLORS["relapse"], label="leukemic", linewidths=0)
            ax.legend(loc="upper right", fontsize=7, frameon=False)
        ax.set_xlabel(f"{x} (logicle)")
        ax.set_ylabel(f"{y} (linear)" if y == "SSC" else f"{y} (logicle)")
        out.append(svg(fig, title=f"{title}: {x} vs {y}"))
    return "".join(out)


def render(section: Any, analysis: Any) -> str:
    samples = section.data().get("samples", [])
    if not samples:
        return "<p>No flow-cytometric MRD samples.</p>"
    rows = []
    for s in samples:
        for label, r in (("", s["result"]), (" (automated, beside gating)", s.get("auto"))):
            if not r:
                continue
            rows.append(
                "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in (
                    s["sample_id"], s["date"], r["method"] + label,
                    format_mrd(r["status"], r["mrd"], r["lod"], r["loq"]),
                    _fmt(r["lod"]), _fmt(r["loq"]),
                    f"{r['events_leukemic']:,} / {r['events_denominator']:,}",
                    r["denominator"], r.get("strategy") or r["leukemic"],
                    "–" if r.get("f1") is None else f"{r['f1']:.3f}",
                )) + "</tr>")
    head = ("<tr><th>sample</th><th>date</th><th>method</th><th>MRD</th><th>LoD</th><th>LoQ</th>"
            "<th>leukemic / denominator events</th><th>denominator</th><th>population / strategy</th>"
            "<th>F1 vs truth</th></tr>")
    parts = [f"<table class='mrd'>{head}{''.join(rows)}</table>",
             "<p class='note'>MRD = leukemic events / evaluable nucleated events of the tube; LoD and LoQ "
             "from event counts (rules lod_events, loq_events). Values below the LoQ are shown as "
             "positive, not quantifiable. Automated results (different-from-normal) must be "
             "reviewed by an expert on the plots.</p>"]
    for s in samples:
        if s.get("plot"):
            parts.append(f"<h4>{escape(s['sample_id'])} ({escape(s['file'])})</h4>"
                         f"<div class='plots'>{_plots(s['plot'], s['sample_id'])}</div>")
    return "".join(parts)
