"""Report section of the ``mrd_course`` step: MRD over time across methods, with projection.

The plot shows MRD on a log axis per method (filled: quantified; open bar between LoD and LoQ:
positive not quantifiable; open down-triangle at the LoD: negative), each result's LoD and LoQ
as short ticks, therapies (bands), HSCT / CAR-T / relapse (vertical lines), and for each
method's regrowth fit the fitted line to the relapse threshold with its projection interval.
Values below the LoQ are drawn distinctly and never printed as numbers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from markupsafe import escape


def _d(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _f(v: float | None, spec: str = ".1e") -> str:
    return "–" if v is None else format(v, spec)


def _td(*cells: Any) -> str:
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def course_svg(res: dict[str, Any]) -> str:
    """The course plot as inline SVG."""
    import matplotlib.dates as mdates
    import matplotlib.transforms as mtransforms

    from remission.report.plots import COLORS, figure, svg

    fig, ax = figure(9.5, 3.8)
    points = res.get("points", [])
    dates = [_d(p["date"]) for p in points if p.get("date")]
    lows = [v for p in points for v in (p.get("lod"), p.get("loq"), p.get("value")) if v]
    seen: set[str] = set()

    def lab(key: str) -> str | None:
        if key in seen:
            return None
        seen.add(key)
        return key

    for method in res.get("methods", []):
        c = COLORS.get(method, "#555")
        mine = [p for p in points if p["method"] == method and p.get("date")]
        q = [(_d(p["date"]), p["value"]) for p in mine if p["status"] == "positive" and p["value"]]
        if q:
            ax.plot([mdates.date2num(x) for x, _ in q], [v for _, v in q], "o", color=c,
                    markersize=5, label=lab(f"{method}: quantified"))
        # join consecutive quantified results only (never across a negative or < LoQ result)
        for a, b in itertools.pairwise(mine):
            if a["status"] == b["status"] == "positive" and a["value"] and b["value"]:
                ax.plot([mdates.date2num(_d(a["date"])), mdates.date2num(_d(b["date"]))],
                        [a["value"], b["value"]], "-", color=c, linewidth=0.8)
        for p in mine:
            x = mdates.date2num(_d(p["date"]))
            if p["status"] == "positive_not_quantifiable":
                top = p.get("loq") or p.get("value")
                bottom = p.get("lod") or (top / 10 if top else None)
                if top and bottom:
                    ax.plot([x, x], [bottom, top], "-", color=c, linewidth=2.5, alpha=0.5)
                    ax.plot(x, top, "s", markerfacecolor="white", markeredgecolor=c, markersize=6,
                            label=lab(f"{method}: positive < LoQ"))
            elif p["status"] == "negative" and p.get("lod"):
                ax.plot(x, p["lod"], "v", markerfacecolor="white", markeredgecolor=c, markersize=7,
                        label=lab(f"{method}: negative (< LoD)"))
            if p.get("lod"):
                ax.plot(x, p["lod"], "_", color=c, markersize=12, alpha=0.7,
                        label=lab(f"{method}: LoD"))
            if p.get("loq"):
                ax.plot(x, p["loq"], "_", color=c, markersize=12, alpha=0.35, markeredgewidth=3,
                        label=lab(f"{method}: LoQ"))
    # events
    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for e in res.get("events", []):
        x0 = mdates.date2num(_d(e["date"]))
        kind = e["kind"]
        if kind == "therapy" and e.get("end"):
            ax.axvspan(x0, mdates.date2num(_d(e["end"])), color=COLORS["therapy"], alpha=0.12,
                       linewidth=0)
            ax.text(x0, 0.98, e["label"], transform=trans, fontsize=6, va="top", rotation=90,
                    color="#a0522d")
        elif kind in ("hsct", "cart", "relapse"):
            ax.axvline(x0, color=COLORS[kind], linewidth=1.2, linestyle="--" if kind != "relapse" else "-")
            ax.text(x0, 0.98, e["label"], transform=trans, fontsize=7, va="top", rotation=90,
                    color=COLORS[kind])
    # fits and projections
    thr = None
    for f in res.get("fits", []):
        if not f.get("fitted") or not f.get("projection"):
            continue
        c = COLORS.get(f["method"], "#555")
        pr = f["projection"]
        thr = pr["threshold_fraction"]
        ref = _d(f["reference_date"])
        w0, w1 = f["window"]
        first_detectable = next((p["date"] for p in points if p["method"] == f["method"]
                                 and w0 <= p["date"] <= w1 and p["status"] != "negative"), w0)
        start, end = _d(first_detectable), _d(pr["date"])
        assert ref is not None and start is not None and end is not None
        line = f["line"]

        def at(d: dt.date, line: dict[str, float] = line, ref: dt.date = ref) -> float:
            return float(10 ** (line["intercept_log10_at_reference"]
                                + line["slope_log10_per_day"] * (d - ref).days))

        ax.plot([mdates.date2num(start), mdates.date2num(end)], [at(start), at(end)], ":",
                color=c, linewidth=1.5, label=lab(f"{f['method']}: censored fit"))
        ax.plot(mdates.date2num(end), thr, "X", color=c, markersize=8,
                label=lab(f"{f['method']}: projected {thr * 100:g} % blasts"))
        lo, hi = _d(pr.get("ci_low")), _d(pr.get("ci_high"))
        xlo = mdates.date2num(lo) if lo else mdates.date2num(end)
        xhi = mdates.date2num(hi) if hi else mdates.date2num(end) + 120
        ax.plot([xlo, xhi], [thr, thr], "-", color=c, linewidth=4, alpha=0.35,
                label=lab(f"{f['method']}: {int(pr['level'] * 100)} % interval"))
        dates.append(hi or end + dt.timedelta(days=120))
    if thr:
        ax.axhline(thr, color=COLORS["relapse"], linestyle=":", linewidth=0.8)
        ax.text(0.005, thr, f" {thr * 100:g} % blasts", transform=mtransforms.blended_transform_factory(
            ax.transAxes, ax.transData), fontsize=7, va="bottom", color=COLORS["relapse"])
    ax.set_yscale("log")
    ymin = min(lows, default=1e-6) / 3
    ax.set_ylim(max(ymin, 1e-8), 1.5)
    known = [d for d in dates if d is not None]
    if known:
        ev = [d for e in res.get("events", []) if e["kind"] != "diagnosis"
              and (d := _d(e["date"])) is not None]
        first = min(known + [d for d in ev if d >= min(known) - dt.timedelta(days=120)])
        last = max(known)
        ax.set_xlim(mdates.date2num(first - dt.timedelta(days=20)), mdates.date2num(last + dt.timedelta(days=20)))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator())
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylabel("MRD (fraction, log scale)")
    ax.grid(axis="y", alpha=0.25)
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return svg(fig, title="MRD course across methods")


def render(section: Any, analysis: Any) -> str:
    res = section.data()
    if not res.get("points"):
        return "<p>No MRD results with dates.</p>"
    out = [course_svg(res)]
    rows = []
    for p in res["points"]:
        lr = p.get("log_reduction")
        lr_s = "–" if not lr else (("≥ " if lr["bound"] == "at_least" else "") + f"{lr['value']:.1f}")
        rows.append(_td(p["date"], p["method"], p.get("marker") or "–", p["display"], _f(p["lod"]),
                        _f(p["loq"]), p["response"].replace("_", " "), lr_s, p["source"]))
    base = res.get("baseline")
    out.append("<table class='compact'><thead><tr><th>date</th><th>method</th><th>marker</th>"
               "<th>MRD</th><th>LoD</th><th>LoQ</th><th>response (ASH Educ Program 2021:718)</th>"
               f"<th>log reduction{' from ' + escape(base['source']) if base else ''}</th>"
               "<th>source</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    items = []
    for mc in res.get("method_changes", []):
        items.append(f"Method change on {mc['date']}: {', '.join(mc['from'])} → {', '.join(mc['to'])}")
    ttn = res.get("time_to_negativity")
    if ttn:
        items.append(f"Time to MRD negativity (LoD ≤ 1e-4): {ttn['days']} days from the {ttn['from']} "
                     f"({ttn['method']}, {ttn['date']})")
    for c in res.get("conversions", []):
        items.append(f"Conversion to positivity on {c['date']} ({c['method']}: {c['display']}) after "
                     f"a negative result on {c['after_negative']} ({c['negative_method']})"
                     + (f"; {c['note']}" if c.get("note") else ""))
    qr = res.get("quantifiable_recurrence")
    if qr:
        items.append(f"Recurrence of quantifiable MRD (GMALL trigger, Raff 2007): {qr['date']} ({qr['method']})")
    mr = res["molecular_relapse"]
    rule = (f"rule: ≥ {mr['threshold']:g} after negativity"
            + (", confirmed in the next sample" if mr["require_confirmation"] else ""))
    if mr.get("status") == "progression":
        items.append(f"Molecular relapse: none; {mr['note']} ({mr.get('method')}, {mr.get('material')})")
    elif mr.get("date"):
        items.append(f"Molecular relapse: {mr['status'].replace('_', ' ')} from {mr['date']} "
                     f"({mr.get('method')}, {mr.get('material', 'material not recorded')}"
                     + (f", confirmed {mr['confirmed_on']} by {mr.get('confirmed_by')}" if mr.get("confirmed_on") else "")
                     + f"); {rule}")
    else:
        items.append(f"Molecular relapse: none ({rule})")
    for p in res.get("progression", []):
        items.append(f"MRD progression ({p['method']}, {p.get('material', '')}): "
                     f"{'≥ ' if p.get('bound') == 'at_least' else ''}+{p['log_increase']:.1f} log from "
                     f"{p['from_date']} to {p['to_date']}")
    for x in res.get("cross_material", []):
        items.append(f"{x['from_date']} {x['from_material'].replace('_', ' ')} → {x['to_date']} "
                     f"{x['to_material'].replace('_', ' ')}: {x['label']}")
    for a in res.get("alerts", []):
        items.append(f"Alert {a['date']} ({a['method']}): {a['text']}")
    lr = res.get("latest_response") or {}
    if lr.get("caveat"):
        items.append(f"Latest MRD call ({lr['date']}): {lr['caveat']}")
    for key, what in (("detectable_after_hsct", "HSCT"), ("detectable_after_cart", "CAR-T")):
        if res.get(key):
            items.append(f"Detectable MRD after {what}: "
                         + ", ".join(f"{x['date']} ({x['method']}: {x['display']})" for x in res[key]))
    out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    frows = []
    for f in res.get("fits", []):
        if not f.get("fitted"):
            frows.append(_td(f["method"], "–", "–", "–", "–", "; ".join(f["reasons"]) or "not fitted"))
            continue
        lo, hi = f["doubling_time_days_ci"]
        td = "–" if f["doubling_time_days"] is None else (
            f"{f['doubling_time_days']:.1f} d ({_f(lo, '.1f')}–{_f(hi, '.1f') if hi else '∞'})")
        pr = f.get("projection")
        proj = "–" if not pr else (f"{pr['date']} ({pr['ci_low'] or 'unbounded'} – "
                                   f"{pr['ci_high'] or 'unbounded'})")
        frows.append(_td(f["method"], f"{f['window'][0]} – {f['window'][1]}",
                         f"{f['n_quantifiable']} / {f['n_not_quantifiable']} / {f['n_below_lod']}",
                         td, proj, "; ".join(f["reasons"]) or "–"))
    out.append("<table class='compact'><thead><tr><th>method</th><th>regrowth window</th>"
               "<th>quantified / &lt; LoQ / &lt; LoD</th><th>doubling time (CI)</th>"
               "<th>projected haematological relapse (CI)</th><th>notes</th></tr></thead><tbody>"
               + "".join(frows) + "</tbody></table>")
    out.append("<p class='note'>Regrowth: log-linear fit per method with values below the LoD "
               "censored (Tobit / Beal M3) and values below the LoQ interval-censored; methods are "
               "never pooled. Projection to the relapse threshold with a profile-likelihood interval "
               "(Beal M3 censoring as assessed by Ahn et al., J Pharmacokinet Pharmacodyn 2008;35:401). "
               "A projection is a model extrapolation, not a prediction "
               "for this patient.</p>")
    return "\n".join(out)
