"""Report section for the ``ngs_mrd`` step: index clonotypes, follow-up MRD per sample, a plot.

MRD below the LoQ is never shown as a plain number; every value carries method, LoD and LoQ.
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain.mrd import format_mrd


def _sci(x: Any) -> str:
    return f"{x:.1e}" if isinstance(x, (int, float)) and x is not None else "–"


def _plot(samples: list[dict[str, Any]]) -> str:
    import datetime as dt

    from remission.report.colors import COLORS
    from remission.report.svg import Chart, DateScale, LogScale, padded_log_range

    pts = [s for s in samples if s.get("status") in ("negative", "positive_not_quantifiable", "positive")
           and s.get("quantity", "mrd") == "mrd"]
    ys = {"positive": "mrd", "positive_not_quantifiable": "loq", "negative": "lod"}
    pts = [s for s in pts if s.get(ys[s["status"]])]
    if not pts:
        return ""
    dates = [dt.date.fromisoformat(s["date"]) for s in pts]
    pad = dt.timedelta(days=max(10, (max(dates) - min(dates)).days // 20))
    chart = Chart(width=700.0, height=270.0, title="NGS-MRD over time",
                  desc="NGS-MRD fraction per follow-up sample on a log axis: filled circle = quantified; "
                       "open circle = positive below the LoQ (drawn at the LoQ); open triangle = negative "
                       "(drawn at the LoD).", margin_left=62.0, margin_top=26.0)
    chart.x = DateScale.between(min(dates) - pad, max(dates) + pad, max_ticks=8)
    chart.y = LogScale(*padded_log_range([s[ys[s["status"]]] for s in pts], pad=5.0))
    chart.axes(ylabel="NGS-MRD (fraction)", ygrid=True)
    chart.text(chart.left, 14.0, "filled: quantified; open circle: positive < LoQ (at LoQ); "
               "triangle: negative (at LoD)", size=9.0)
    for s, d in zip(pts, dates, strict=True):
        tip = [f"{s['sample_id']} {s['date']}: {s['status'].replace('_', ' ')}"]
        if s["status"] == "positive":
            chart.markers([d], [s["mrd"]], color=COLORS["ngs"], size=7.0, titles=tip)
        elif s["status"] == "positive_not_quantifiable":
            chart.markers([d], [s["loq"]], color=COLORS["ngs"], size=7.0, fill="none", titles=tip)
        else:
            chart.markers([d], [s["lod"]], color="#7f7f7f", marker="v", size=8.0, fill="none", titles=tip)
    return chart.svg()


def render(section: Any, analysis: Any) -> str:
    r = section.data()
    out: list[str] = []
    for idx in r.get("index", []):
        out.append(f"<h3>Index clonotypes: {escape(idx['sample_id'])} ({escape(idx['date'])})</h3>")
        if not idx.get("markers"):
            out.append("<p class='warning'>No clonotype passes the index criteria: no NGS-MRD marker.</p>")
            continue
        mrows = "".join(
            f"<tr><td>{escape(m['marker'])}</td><td>{escape(m['target'])}</td><td>{escape(m['v_call'] or '–')}</td>"
            f"<td>{escape(m['j_call'])}</td><td class='mono'>{escape(m['junction'])}</td>"
            f"<td>{m['reads']}</td><td>{m['diagnosis_fraction'] * 100:.1f} %</td></tr>"
            for m in idx["markers"])
        out.append("<table><thead><tr><th>marker</th><th>target</th><th>V</th><th>J</th><th>junction</th>"
                   "<th>reads</th><th>of target</th></tr></thead><tbody>" + mrows + "</tbody></table>")
    samples = r.get("samples", [])
    if samples:
        rows = []
        for s in samples:
            if s.get("quantity") == "read_fraction":
                text = (f"read fraction {s['read_fraction'] * 100:.3g} % of target reads "
                        "(no DNA input or spike-in: not an MRD value)")
            else:
                text = format_mrd(s["status"], s.get("mrd"), s.get("lod"), s.get("loq")) \
                    if s["status"] != "no_marker" else "no marker"
            per = "; ".join(
                f"{escape(m['marker'])}: {m['reads']} reads ({m['reads_exact']} exact)"
                + (f", {m['relatives_reads']} relative reads" if m.get("relatives_reads") else "")
                for m in s.get("markers", []))
            rows.append(
                f"<tr><td>{escape(s['date'])}</td><td>{escape(s['sample_id'])}</td><td>NGS ({escape(s['mode'])})</td>"
                f"<td><b>{escape(text)}</b></td><td>{_sci(s.get('lod'))}</td><td>{_sci(s.get('loq'))}</td>"
                f"<td>{_sci(s.get('cell_equivalents'))}</td><td>{s['total_reads']}</td>"
                f"<td>{escape(s['quantification'])}"
                f"{' / ' + escape(s['reads_per_cell_model']) if s.get('reads_per_cell_model') else ''}"
                f"</td><td>{per}</td></tr>")
            for e in s.get("emerging_clones", [])[:10]:
                rows.append(f"<tr><td colspan='10' class='warning'>{escape(s['date'])}: "
                            f"{escape(e['alert'])}</td></tr>")
            if s.get("marker_caveat"):
                rows.append(f"<tr><td colspan='10' class='warning'>{escape(s['marker_caveat'])}</td></tr>")
        out.append("<h3>Follow-up</h3><table><thead><tr><th>date</th><th>sample</th><th>method</th>"
                   "<th>MRD</th><th>LoD</th><th>LoQ</th><th>cells analysed</th><th>reads</th>"
                   "<th>quantification</th><th>markers</th></tr></thead><tbody>"
                   + "".join(rows) + "</tbody></table>")
        out.append(_plot(samples))
    elif not r.get("index"):
        out.append("<p>No NGS-MRD diagnosis sample.</p>")
    return "\n".join(out)
