"""Report section of the ``pcr_mrd`` step: standard curves, per-marker results, case level.

MRD below the quantitative range is never shown as a plain number (``format_mrd``).
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain.mrd import format_mrd


def _f(v: float | None, spec: str = ".1e") -> str:
    return "–" if v is None else format(v, spec)


def _mrd(category: str, value: float | None, lod: float | None, loq: float | None) -> str:
    if category == "not_evaluable":
        return "not evaluable"
    return format_mrd(category, value, lod, loq)


def _td(*cells: Any) -> str:
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _curve_plot(markers: list[dict[str, Any]], title: str) -> str:
    import math

    from remission.report.svg import Chart, LinearScale

    colours = ["#9467bd", "#1f77b4", "#2ca02c", "#ff7f0e"]
    series = []
    for m in markers:
        xs, ys = [], []
        for lv in m["levels"]:
            for ct in lv["cts"]:
                if ct is not None:
                    xs.append(math.log10(lv["level"]))
                    ys.append(float(ct))
        series.append((xs, ys))
    all_x = [v for xs, _ in series for v in xs] or [-5.0, -1.0]
    all_y = [v for _, ys in series for v in ys]
    all_y += [float(m["background_min_ct"]) for m in markers if m.get("background_min_ct") is not None]
    if not all_y:
        all_y = [20.0, 40.0]
    chart = Chart(width=430.0, height=290.0, title=title,
                  desc="Ct of each standard-curve replicate against the log10 dilution of diagnostic DNA, "
                       "per marker, with the fitted standard curve (line) and the lowest background Ct "
                       "(dotted).", margin_left=48.0, margin_right=110.0, margin_top=10.0, margin_bottom=40.0)
    chart.x = LinearScale(min(all_x) - 0.3, max(all_x) + 0.3)
    chart.y = LinearScale(min(all_y) - 1.5, max(all_y) + 1.5)
    chart.axes(xlabel="log10 dilution of diagnostic DNA", ylabel="Ct", ygrid=True)
    for i, (m, (xs, ys)) in enumerate(zip(markers, series, strict=True)):
        c = colours[i % len(colours)]
        if m.get("background_min_ct") is not None:
            chart.hline(m["background_min_ct"], color=c, dash="1.5 2.5", width=0.8)
        if m.get("curve"):
            cv = m["curve"]
            lo, hi = min(xs, default=-5), max(xs, default=-1)
            chart.line([lo, hi], [cv["slope"] * lo + cv["intercept"], cv["slope"] * hi + cv["intercept"]],
                       color=c, width=1.0)
        chart.markers(xs, ys, color=c, size=5.0, label=str(m["target"]))
    chart.legend(where="right", size=8.5)
    return chart.svg()


def render(section: Any, analysis: Any) -> str:
    samples = section.data().get("samples", [])
    if not samples:
        return "<p>No RQ-PCR samples.</p>"
    out = ["<p>Allele-specific Ig/TR RQ-PCR interpreted with the EuroMRD rules "
           "(van der Velden et al., Leukemia 2007); the rules' numbers are listed below. "
           "Values below the quantitative range (QR) are reported as “positive, &lt; LoQ”, "
           "never as numbers.</p>"]
    head = ("<table class='compact'><thead><tr><th>sample</th><th>date</th><th>case-level MRD</th>"
            "<th>marker (policy)</th><th>LoD</th><th>LoQ</th><th>markers with QR ≤ 1e-4</th>"
            "</tr></thead><tbody>")
    rows = []
    for s in samples:
        if s.get("error"):
            rows.append(_td(s["sample_id"], s["date"], f"error: {s['error']}", "", "", "", ""))
            continue
        c = s["case_level"]
        rows.append(_td(s["sample_id"], s["date"], _mrd(c["category"], c["value"], c["lod"], c["loq"]),
                        f"{c['marker'] or '–'} ({c['policy']})", _f(c["lod"]), _f(c["loq"]),
                        f"{c['markers_for_stratification']}"
                        + ("" if c["stratification_markers_ok"] else " (too few for stratification)")))
    out.append(head + "".join(rows) + "</tbody></table>")
    for s in samples:
        if s.get("error"):
            continue
        plate = s["plate"]
        out.append(f"<details><summary>{escape(s['sample_id'])} ({escape(s['date'])}): standard "
                   "curves and per-marker results</summary>")
        t = ["<table class='compact'><thead><tr><th>marker</th><th>accepted</th><th>slope</th>"
             "<th>R²</th><th>efficiency</th><th>QR</th><th>sensitivity</th><th>reasons</th>"
             "</tr></thead><tbody>"]
        for m in plate["markers"]:
            cv = m["curve"] or {}
            t.append(_td(m["target"], "yes" if m["accepted"] else "NO", _f(cv.get("slope"), ".3f"),
                         _f(cv.get("r2"), ".4f"), _f(cv.get("efficiency"), ".0%"),
                         _f(m["quantitative_range"], ".0e"), _f(m["sensitivity"], ".0e"),
                         "; ".join(m["reasons"])))
        t.append("</tbody></table>")
        out.append("".join(t))
        t = ["<table class='compact'><thead><tr><th>marker</th><th>result</th><th>LoD</th>"
             "<th>LoQ</th><th>replicate Cts</th><th>reasons</th></tr></thead><tbody>"]
        for r in plate["samples"]:
            if r["sample"] != s.get("plate_sample"):
                continue
            cts = ", ".join("Undet." if c is None else f"{c:.2f}" for c in r["cts"])
            t.append(_td(r["target"], _mrd(r["category"], r["value"], r["lod"], r["loq"]),
                         _f(r["lod"]), _f(r["loq"]), cts, "; ".join(r["reasons"])))
        t.append("</tbody></table>")
        out.append("".join(t))
        if any(m["levels"] for m in plate["markers"]):
            out.append(_curve_plot(plate["markers"], f"Standard curves, {s['sample_id']}"))
        out.append("</details>")
    return "\n".join(out)
