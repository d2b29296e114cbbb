"""Report section "cart": CRS/ICANS timeline, CAR-T kinetics with fitted curve and population
band, B-cell counts, antigen course and relapse-risk signals (inline SVG)."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain import CaseAnalysis, EngineSection

_GRADE_COLORS = ["#e5e7eb", "#fde68a", "#fdba74", "#f87171", "#b91c1c", "#111111"]


def _g(m: dict[str, Any]) -> str:
    if m["grade"] is not None:
        return str(m["grade"])
    lo, hi = m["grade_range"]
    return f"{lo}–{hi} (inputs do not decide)"


def _num(v: Any, spec: str = ".3g") -> str:
    return "–" if v is None else format(v, spec)


def _toxicity_plot(tox: dict[str, Any]) -> str:
    from remission.report.svg import Chart, LinearScale

    rows = tox["assessments"]
    days = [r["day"] if r["day"] is not None else i for i, r in enumerate(rows)]
    xlabel = "days since infusion" if tox["time_axis"] == "days_since_infusion" else tox["time_axis"]
    chart = Chart(width=900.0, height=170.0, title="CRS and ICANS grade per assessment",
                  desc="One cell per assessment and syndrome, coloured by the lowest possible ASTCT grade "
                       "(white to dark red: 0 to 5), the grade written inside when above 0.",
                  margin_left=100.0, margin_right=14.0, margin_top=10.0, margin_bottom=42.0)
    chart.x = LinearScale(min(days, default=0) - 1.0, max(days, default=1) + 1.0)
    chart.y = LinearScale(-0.6, 1.6)
    chart.axes(xlabel=xlabel, yticks=False)
    for y, (label, key) in enumerate((("ICANS (ASTCT)", "icans"), ("CRS (ASTCT)", "crs"))):
        chart.text(chart.left - 6, chart.Y(y), label, anchor="end", baseline="middle", size=9.5)
        for d, r in zip(days, rows, strict=True):
            g = r["icans"] if key == "icans" else r["crs"]["ASTCT"]
            lo = g["grade_range"][0]
            chart.rect(d - 0.5, y - 0.35, d + 0.5, y + 0.35, fill=_GRADE_COLORS[min(lo, 5)], stroke="#ffffff",
                       title=f"{label}, day {d}: grade {lo}")
            if lo:
                chart.text(chart.X(d), chart.Y(y), str(lo), anchor="middle", baseline="middle", size=9.5,
                           color="#ffffff" if lo >= 4 else "#111111")
    return chart.svg()


def _kinetics_plot(kin: dict[str, Any]) -> str:
    from remission.report.colors import COLORS
    from remission.report.svg import Chart, LogScale, SymlogScale, padded_log_range

    band = kin.get("population_band")
    fc = kin.get("fit_curve")
    obs = kin["observed"]
    q = [(d, v) for d, v, b in zip(obs["days"], obs["values"], obs["below_lod"], strict=True) if not b]
    c = [(d, v) for d, v, b in zip(obs["days"], obs["values"], obs["below_lod"], strict=True) if b]
    all_days = list(obs["days"]) + (list(band["days"]) if band else []) + (list(fc["days"]) if fc else [])
    all_vals = list(obs["values"]) + (list(band["q05"]) + list(band["q95"]) if band else []) + (
        list(fc["values"]) if fc else [])
    last = max(obs["days"]) if obs["days"] else 28
    ticks = [t for t in (0, 7, 14, 21, 28, 56, 90, 180, 365, 730, 1095) if t <= max(last, 28)]
    chart = Chart(width=900.0, height=320.0, title="CAR-T cellular kinetics",
                  desc="CAR-T level against days since infusion (linear to day 28, logarithmic after), log "
                       "level axis: measured values (filled), values below the LoD drawn open at the LoD, "
                       "the fitted Stein 2019 model (line) and the population 5-95 % band with its median.",
                  margin_left=66.0, margin_right=14.0, margin_top=10.0, margin_bottom=40.0)
    chart.x = SymlogScale(min(0.0, min(all_days, default=0.0)), max(max(all_days, default=28.0), 28.0) * 1.05,
                          linthresh=28.0, linscale=2.0, tick_list=[(float(t), str(t)) for t in ticks])
    chart.y = LogScale(*padded_log_range(all_vals, floor=1e-3, pad=2.0))
    unit = "copies/µg gDNA" if kin["unit"] == "copies_per_ug" else "CAR+ cells/µL"
    chart.axes(xlabel="days since infusion", ylabel=unit, ygrid=True)
    if band:
        chart.band(band["days"], band["q05"], band["q95"], color="#cbd5e1", opacity=0.6,
                   label="Stein 2019 population 5–95 %")
        chart.line(band["days"], band["q50"], color="#64748b", width=1.0, dash="5 3", label="population median")
    if fc:
        chart.line(fc["days"], fc["values"], color=COLORS["cart"], width=1.8, label="fitted Stein model")
    if q:
        chart.markers([d for d, _ in q], [v for _, v in q], color="#0f172a", size=6.0, label="measured",
                      titles=[f"day {d:g}: {v:.3g} {unit}" for d, v in q])
    if c:
        chart.markers([d for d, _ in c], [v for _, v in c], color="#0f172a", marker="v", size=7.0, fill="none",
                      label="below LoD (at LoD)", titles=[f"day {d:g}: below the LoD ({v:.3g})" for d, v in c])
    chart.legend(where="inside", size=9.0)
    return chart.svg()


def _bcell_plot(bc: dict[str, Any]) -> str:
    from remission.report.svg import Chart, LinearScale, LogScale, padded_log_range

    s = [x for x in bc["samples"] if x["day"] is not None]
    vals = [max(x["value"], 1e-3) for x in s]
    days = [x["day"] for x in s]
    unit = {"percent_lymphocytes": "% of lymphocytes", "percent_mnc": "% of MNC",
            "cells_per_ul": "cells/µL"}.get(bc["unit"], bc["unit"])
    chart = Chart(width=900.0, height=230.0, title="CD19+ B cells",
                  desc=f"CD19+ B cells ({unit}, log axis) against days since infusion, with the aplasia "
                       "threshold (dashed).", margin_left=66.0, margin_right=14.0, margin_top=10.0,
                  margin_bottom=40.0)
    lo_d, hi_d = min(days, default=0.0), max(days, default=28.0)
    pad = max((hi_d - lo_d) * 0.04, 1.0)
    chart.x = LinearScale(lo_d - pad, hi_d + pad)
    chart.y = LogScale(*padded_log_range([*vals, bc["threshold"]], floor=1e-4, pad=2.0))
    chart.axes(xlabel="days since infusion", ylabel=unit, ygrid=True)
    chart.hline(bc["threshold"], color="#b91c1c", width=1.0, dash="5 3",
                label=f"aplasia threshold {bc['threshold']:g}")
    if s:
        chart.line(days, vals, color="#2563eb", width=1.3)
        chart.markers(days, vals, color="#2563eb", size=6.0,
                      titles=[f"day {x['day']:g}: {x['value']:g} {unit}" for x in s])
    chart.legend(where="inside", size=9.0)
    return chart.svg()


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    r = section.data()
    out: list[str] = []
    inf = r.get("infusion")
    if inf:
        out.append(f"<p>CAR-T: <b>{escape(inf['product'])}</b> ({escape(inf['target'])}) infused "
                   f"{escape(inf['date'])}.</p>")
    for s in r.get("signals", []):
        out.append(f"<p class='warning'>⚑ {escape(s['signal'])} <small>({escape(s['source'])})</small></p>")

    tox = r.get("toxicity")
    if tox:
        out.append("<h3>Toxicity (CRS / ICANS)</h3>")
        out.append(_toxicity_plot(tox))
        out.append("<table class='compact'><thead><tr><th>syndrome</th><th>scale</th><th>max grade</th>"
                   "<th class='num'>day</th><th>driven by</th></tr></thead><tbody>")
        for syn, scales in tox["max_grade"].items():
            for scale, m in scales.items():
                out.append(f"<tr><td>{syn}</td><td>{escape(scale)}</td><td>{escape(_g(m))}</td>"
                           f"<td class='num'>{_num(m['day'], 'g')}</td><td>{escape(m['driver'])}</td></tr>")
        out.append("</tbody></table>")
        for syn, o in tox["onset"].items():
            if o["onset_day"] is not None:
                out.append(f"<p>{syn}: onset day {_num(o['onset_day'], 'g')}, duration "
                           f"{_num(o['duration_days'], 'g')} days{' (ongoing)' if o['ongoing'] else ''}.</p>")
        out.append("<p><small>ASTCT 2019 is the reference scale; Penn, Lee 2014 and CTCAE v5 grades are a "
                   "derived reading of their definitions and are not interchangeable.</small></p>")

    kin = r.get("kinetics")
    if kin:
        n = kin["nca"]
        unit = "copies/µg" if kin["unit"] == "copies_per_ug" else "cells/µL"
        out.append("<h3>Cellular kinetics</h3>")
        out.append(_kinetics_plot(kin))
        rows = [
            ("Cmax (observed)", f"{_num(n['cmax'])} {unit} on day {_num(n['tmax'], 'g')}"),
            ("AUC", f"{_num(n['auc_0_28'])} {unit}·day — {n['auc_method']}"),
            ("Last detectable", f"day {_num(n['last_detectable_day'], 'g')} (Clast {_num(n['clast'])} {unit})"),
            ("Terminal half-life", f"{_num(n['half_life_days'])} days over days {n['lambda_z_window']}"),
        ]
        f = kin.get("fit")
        if f:
            rows.append(("Stein 2019 fit", f"Cmax {_num(f['cmax'])}, Tmax {_num(f['tmax'])} d, fold expansion "
                                           f"{_num(f['foldx'])}, α {_num(f['alpha'])}/d, FB {_num(f['fb'])}, "
                                           f"β {_num(f['beta'])}/d ({f['method']})"))
        pct = kin.get("population_percentiles") or {}
        if pct:
            rows.append(("Population percentile (Stein 2019)", ", ".join(f"{k}: {v:.0f}" for k, v in pct.items())))
        out.append("<table class='kv compact'>" + "".join(
            f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows) + "</table>")

    bc = r.get("b_cells")
    if bc:
        out.append("<h3>B-cell aplasia</h3>")
        out.append(_bcell_plot(bc))
        status = "ongoing" if bc["ongoing"] else (f"lost: B-cell recovery on {bc['recovery_date'] or ''} "
                                                  f"(day {_num(bc['recovery_day'], 'g')})"
                                                  if bc["recovery_day"] is not None else "not reached")
        out.append(f"<p>B-cell aplasia: <b>{escape(status)}</b> (threshold {bc['threshold']:g} "
                   f"{escape(bc['unit'])}).</p>")

    ant = r.get("antigen")
    if ant and ant["points"]:
        out.append("<h3>Antigen expression</h3><table class='compact'><thead><tr><th>date</th>"
                   "<th class='num'>day</th><th class='num'>CD19 %</th><th class='num'>CD22 %</th>"
                   "<th>flag</th></tr></thead><tbody>")
        for p in ant["points"]:
            flag = "CD19-negative" if p["cd19_negative"] else ""
            out.append(f"<tr><td>{escape(p['date'])}</td><td class='num'>{_num(p['day'], 'g')}</td>"
                       f"<td class='num'>{_num(p['cd19_percent'], 'g')}</td>"
                       f"<td class='num'>{_num(p['cd22_percent'], 'g')}</td><td>{flag}</td></tr>")
        out.append("</tbody></table>")
    return "\n".join(out)
