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
    from remission.report.plots import figure, svg

    rows = tox["assessments"]
    days = [r["day"] if r["day"] is not None else i for i, r in enumerate(rows)]
    fig, ax = figure(9.0, 1.9)
    for y, (_label, key) in enumerate((("ICANS (ASTCT)", "icans"), ("CRS (ASTCT)", "crs"))):
        for d, r in zip(days, rows, strict=True):
            g = r["icans"] if key == "icans" else r["crs"]["ASTCT"]
            lo = g["grade_range"][0]
            ax.barh(y, 1.0, left=d - 0.5, color=_GRADE_COLORS[min(lo, 5)], edgecolor="white", height=0.7)
            if lo:
                ax.text(d, y, str(lo), ha="center", va="center", fontsize=8)
    ax.set_yticks([0, 1], ["ICANS (ASTCT)", "CRS (ASTCT)"])
    ax.set_xlabel("days since infusion" if tox["time_axis"] == "days_since_infusion" else tox["time_axis"])
    ax.set_ylim(-0.6, 1.6)
    return svg(fig, title="CRS and ICANS grade per assessment")


def _kinetics_plot(kin: dict[str, Any]) -> str:
    from remission.report.plots import COLORS, figure, svg

    fig, ax = figure(9.0, 3.2)
    band = kin.get("population_band")
    if band:
        ax.fill_between(band["days"], band["q05"], band["q95"], color="#cbd5e1", alpha=0.6,
                        label="Stein 2019 population 5–95 %", linewidth=0)
        ax.plot(band["days"], band["q50"], color="#64748b", lw=1, ls="--", label="population median")
    fc = kin.get("fit_curve")
    if fc:
        ax.plot(fc["days"], fc["values"], color=COLORS["cart"], lw=1.8, label="fitted Stein model")
    obs = kin["observed"]
    q = [(d, v) for d, v, b in zip(obs["days"], obs["values"], obs["below_lod"], strict=True) if not b]
    c = [(d, v) for d, v, b in zip(obs["days"], obs["values"], obs["below_lod"], strict=True) if b]
    if q:
        ax.plot(*zip(*q, strict=True), "o", color="#0f172a", ms=4, label="measured")
    if c:
        ax.plot(*zip(*c, strict=True), "v", mfc="white", color="#0f172a", ms=5, label="below LoD (at LoD)")
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=28, linscale=2.0)
    last = max(obs["days"]) if obs["days"] else 28
    ticks = [t for t in (0, 7, 14, 21, 28, 56, 90, 180, 365, 730, 1095) if t <= max(last, 28)]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("days since infusion")
    ax.set_ylabel("copies/µg gDNA" if kin["unit"] == "copies_per_ug" else "CAR+ cells/µL")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    return svg(fig, title="CAR-T cellular kinetics")


def _bcell_plot(bc: dict[str, Any]) -> str:
    from remission.report.plots import figure, svg

    fig, ax = figure(9.0, 2.3)
    s = [x for x in bc["samples"] if x["day"] is not None]
    if s:
        ax.plot([x["day"] for x in s], [max(x["value"], 1e-3) for x in s], "o-", color="#2563eb", ms=4)
    ax.axhline(bc["threshold"], color="#b91c1c", lw=1, ls="--", label=f"aplasia threshold {bc['threshold']:g}")
    ax.set_yscale("log")
    ax.set_xlabel("days since infusion")
    ax.set_ylabel({"percent_lymphocytes": "% of lymphocytes", "percent_mnc": "% of MNC",
                   "cells_per_ul": "cells/µL"}.get(bc["unit"], bc["unit"]))
    ax.legend(fontsize=7, frameon=False)
    return svg(fig, title="CD19+ B cells")


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
