"""Report section of the ``flow_mrd`` step: MRD table and CD19/CD10, CD34/CD10, CD45/SSC plots."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain.mrd import format_mrd

_PLOTS = (("CD19", "CD10"), ("CD34", "CD10"), ("CD45", "SSC"))


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.1e}"


#: at most this many non-leukemic events per dot plot (evenly strided, so the same file always
#: gives the same picture); leukemic events are all drawn up to the same number
MAX_DOTS = 2500


def _plots(plot: dict[str, Any], title: str) -> str:
    from remission.report.colors import COLORS
    from remission.report.svg import Chart, LinearScale, subsample

    lab = [bool(v) for v in plot.get("leukemic", [])]
    out = []
    for x, y in _PLOTS:
        if x not in plot or y not in plot:
            continue
        xv, yv = [float(v) for v in plot[x]], [float(v) for v in plot[y]]
        if not lab:
            lab = [False] * len(xv)
        other = [i for i, b in enumerate(lab) if not b]
        leuk = [i for i, b in enumerate(lab) if b]
        other = [other[i] for i in subsample(len(other), MAX_DOTS)]
        leuk = [leuk[i] for i in subsample(len(leuk), MAX_DOTS)]
        chart = Chart(width=300.0, height=280.0, title=f"{title}: {x} vs {y}",
                      desc=f"Dot plot of {len(other)} of {len(lab) - sum(lab)} non-leukemic events (grey) and "
                           f"{len(leuk)} of {sum(lab)} leukemic events (red), {x} against {y}.",
                      margin_left=50.0, margin_right=10.0, margin_top=10.0, margin_bottom=40.0, font_size=10.0)
        xs = [v for v in xv if v == v]
        ys = [v for v in yv if v == v]
        chart.x = LinearScale(min(xs, default=0.0), max(xs, default=1.0), target_ticks=4)
        chart.y = LinearScale(min(ys, default=0.0), max(ys, default=1.0), target_ticks=5)
        chart.axes(xlabel=f"{x} (logicle)", ylabel=f"{y} (linear)" if y == "SSC" else f"{y} (logicle)", frame=True)
        chart.dots([xv[i] for i in other], [yv[i] for i in other], color="#555555", size=1.6, opacity=0.45)
        if leuk:
            chart.dots([xv[i] for i in leuk], [yv[i] for i in leuk], color=COLORS["relapse"], size=2.2,
                       label="leukemic")
            chart.legend(where="inside", size=9.0)
        out.append(chart.svg())
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
