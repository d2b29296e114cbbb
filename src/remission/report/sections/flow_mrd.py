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


def _method(r: dict[str, Any], label: str) -> str:
    m = r["method"] + label
    if r.get("illustrative"):
        m += " - ILLUSTRATIVE (demo reference, not for clinical use)"
    return m


def render(section: Any, analysis: Any) -> str:
    samples = section.data().get("samples", [])
    if not samples:
        return "<p>No flow-cytometric MRD samples.</p>"
    rows = []
    for s in samples:
        for label, r in (("", s["result"]), (" (automated, beside gating)", s.get("auto"))):
            if not r:
                continue
            mrd = format_mrd(r["status"], r["mrd"], r["lod"], r["loq"])
            if r.get("reason"):
                mrd += f" ({r['reason']})"
            rows.append(
                "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in (
                    s["sample_id"], s["date"], _method(r, label), mrd,
                    _fmt(r["lod"]), _fmt(r["loq"]),
                    f"{r['events_leukemic']:,} / {r['events_denominator']:,}",
                    r["denominator"], r.get("strategy") or r["leukemic"],
                )) + "</tr>")
    head = ("<tr><th>sample</th><th>date</th><th>method</th><th>MRD</th><th>LoD</th><th>LoQ</th>"
            "<th>leukemic / denominator events</th><th>denominator</th><th>population / strategy</th></tr>")
    parts = [f"<table class='mrd'>{head}{''.join(rows)}</table>",
             "<p class='note'>MRD = leukemic events / evaluable nucleated events of the tube; LoD and LoQ "
             "from event counts (rules lod_events, loq_events). Values below the LoQ are shown as "
             "positive, not quantifiable. Automated results (different-from-normal against a normal "
             "reference model) must be reviewed by an expert on the plots.</p>"]
    for s in samples:
        for r in (s["result"], s.get("auto")):
            if r and (r.get("gates") or r.get("reference")):
                items = [f"reference: {r['reference']}"] if r.get("reference") else []
                items += [f"gate {g}" for g in r.get("gates", [])]
                parts.append(f"<p class='note'>{escape(s['sample_id'])} ({escape(r['method'])}): "
                             + "; ".join(escape(x) for x in items) + "</p>")
    for s in samples:
        if s.get("plot"):
            parts.append(f"<h4>{escape(s['sample_id'])} ({escape(s['file'])})</h4>"
                         f"<div class='plots'>{_plots(s['plot'], s['sample_id'])}</div>")
    return "".join(parts)
