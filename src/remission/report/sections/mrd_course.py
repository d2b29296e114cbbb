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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from markupsafe import escape

if TYPE_CHECKING:
    from remission.report.svg import Chart


def _d(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _day(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def _f(v: float | None, spec: str = ".1e") -> str:
    return "–" if v is None else format(v, spec)


def _td(*cells: Any) -> str:
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


_COURSE_DESC = ("MRD fraction on a log axis over time, per method: filled = quantified, open square "
                "with a bar between LoD and LoQ = positive below the LoQ, open down-triangle at the "
                "LoD = negative; short ticks mark each result's LoD and LoQ; therapies as bands, "
                "HSCT, CAR-T and relapse as vertical lines; dotted: censored regrowth fit to the "
                "relapse threshold with its projection interval.")


def course_svg(res: dict[str, Any]) -> str:
    """The course plot as inline SVG (hand-written, :mod:`remission.report.svg`).

    Layers, bottom to top: :func:`_draw_events` (therapies, HSCT, CAR-T, relapse, threshold),
    :func:`_draw_method` (each method's results), :func:`_draw_fit` (regrowth fits), the legend.
    """
    from remission.report.svg import Chart, DateScale, LogScale

    points = res.get("points", [])
    span = _date_span(res, points)
    if span is None:
        return ""
    first, last, thr = span
    lows = [v for p in points for v in (p.get("lod"), p.get("loq"), p.get("value")) if v]
    chart = Chart(width=960.0, height=380.0, title="MRD course across methods", desc=_COURSE_DESC,
                  margin_left=62.0, margin_right=210.0, margin_top=10.0, margin_bottom=36.0)
    chart.x = DateScale.between(first - dt.timedelta(days=20), last + dt.timedelta(days=20))
    chart.y = LogScale(max(min(lows, default=1e-6) / 3, 1e-8), 1.5)
    chart.axes(ylabel="MRD (fraction, log scale)", ygrid=True)
    lab = _first_label()
    _draw_events(chart, res.get("events", []), thr)
    for method in res.get("methods", []):
        _draw_method(chart, method, [p for p in points if p["method"] == method and p.get("date")], lab)
    for f in res.get("fits", []):
        if f.get("fitted") and f.get("projection"):
            _draw_fit(chart, f, points, lab)
    chart.legend(where="right", size=8.5)
    return chart.svg()


def _date_span(res: dict[str, Any], points: list[dict[str, Any]]) -> tuple[dt.date, dt.date, float | None] | None:
    """First and last date to show (results, projections, events from 120 days before the first
    result) and the relapse threshold of the last projection; None when nothing is dated."""
    dates = [_d(p["date"]) for p in points if p.get("date")]
    thr = None
    for f in res.get("fits", []):
        if f.get("fitted") and f.get("projection"):
            thr = f["projection"]["threshold_fraction"]
            pr = f["projection"]
            hi = _d(pr.get("ci_high"))
            end = _d(pr["date"])
            dates.append(hi or (end + dt.timedelta(days=120) if end else None))
    known = [d for d in dates if d is not None]
    if not known:
        return None
    ev = [d for e in res.get("events", []) if e["kind"] != "diagnosis" and (d := _d(e["date"])) is not None]
    first = min(known + [d for d in ev if d >= min(known) - dt.timedelta(days=120)])
    return first, max(known), thr


def _first_label() -> Callable[[str], str | None]:
    """A legend labeller that returns each key the first time only (one legend entry per key)."""
    seen: set[str] = set()

    def lab(key: str) -> str | None:
        if key in seen:
            return None
        seen.add(key)
        return key

    return lab


def _draw_events(chart: Chart, events: list[dict[str, Any]], thr: float | None) -> None:
    """Events under the data: therapies as bands, HSCT/CAR-T/relapse as lines; the relapse threshold."""
    from remission.report.colors import COLORS

    for e in events:
        x0 = _d(e["date"])
        if x0 is None or not (chart.x.lo <= x0.toordinal() <= chart.x.hi):
            continue
        kind = e["kind"]
        if kind == "therapy" and e.get("end"):
            x1 = _d(e["end"])
            assert x1 is not None
            chart.vspan(x0, min(x1.toordinal(), chart.x.hi), color=COLORS["therapy"], opacity=0.12)
            chart.text(chart.X(x0) + 9, chart.top + 3, e["label"], size=7.5, anchor="end", rotate=-90,
                       color="#a0522d")
        elif kind in ("hsct", "cart", "relapse"):
            chart.vline(x0, color=COLORS[kind], width=1.2, dash="5 3" if kind != "relapse" else None)
            chart.text(chart.X(x0) + 10, chart.top + 3, e["label"], size=8.5, anchor="end", rotate=-90,
                       color=COLORS[kind])
    if thr:
        chart.hline(thr, color=COLORS["relapse"], dash="1.5 2.5", width=0.8)
        chart.text(chart.left + 4, chart.Y(thr) - 3, f"{thr * 100:g} % blasts", size=8.5, color=COLORS["relapse"])


def _draw_method(chart: Chart, method: str, mine: list[dict[str, Any]], lab: Callable[[str], str | None]) -> None:
    """One method's dated results: LoD/LoQ ticks, quantified (filled), < LoQ (open square and bar),
    negative (open triangle at the LoD); consecutive quantified results joined."""
    from remission.report.colors import COLORS

    c = COLORS.get(method, "#555555")
    # join consecutive quantified results only (never across a negative or < LoQ result)
    for a, b in itertools.pairwise(mine):
        if a["status"] == b["status"] == "positive" and a["value"] and b["value"]:
            chart.line([_day(a["date"]), _day(b["date"])], [a["value"], b["value"]], color=c, width=0.9)
    for p in mine:
        x = _day(p["date"])
        tip = f"{method.upper()} {p['date']}: {p.get('display', '')}"
        if p.get("lod"):
            chart.markers([x], [p["lod"]], color=c, marker="_", size=14.0, opacity=0.7,
                          label=lab(f"{method}: LoD"))
        if p.get("loq"):
            chart.markers([x], [p["loq"]], color=c, marker="_", size=14.0, width=3.0, opacity=0.35,
                          label=lab(f"{method}: LoQ"))
        if p["status"] == "positive" and p["value"]:
            chart.markers([x], [p["value"]], color=c, size=7.0, label=lab(f"{method}: quantified"),
                          titles=[tip])
        elif p["status"] == "positive_not_quantifiable":
            top = p.get("loq") or p.get("value")
            bottom = p.get("lod") or (top / 10 if top else None)
            if top and bottom:
                chart.line([x, x], [bottom, top], color=c, width=3.0, opacity=0.5)
                chart.markers([x], [top], color=c, marker="s", size=7.0, fill="none",
                              label=lab(f"{method}: positive < LoQ"), titles=[tip])
        elif p["status"] == "negative" and p.get("lod"):
            chart.markers([x], [p["lod"]], color=c, marker="v", size=8.0, fill="none",
                          label=lab(f"{method}: negative (< LoD)"), titles=[tip])


def _draw_fit(chart: Chart, f: dict[str, Any], points: list[dict[str, Any]], lab: Callable[[str], str | None]) -> None:
    """A fitted regrowth: the line from the first detectable result to the projected day, the
    projection interval at the threshold, and the projected crossing."""
    from remission.report.colors import COLORS

    c = COLORS.get(f["method"], "#555555")
    pr = f["projection"]
    ref = _d(f["reference_date"])
    w0, w1 = f["window"]
    first_detectable = next((p["date"] for p in points if p["method"] == f["method"]
                             and w0 <= p["date"] <= w1 and p["status"] != "negative"), w0)
    start, end = _d(first_detectable), _d(pr["date"])
    assert ref is not None and start is not None and end is not None
    line = f["line"]

    def at(d: dt.date) -> float:
        return float(10 ** (line["intercept_log10_at_reference"] + line["slope_log10_per_day"] * (d - ref).days))

    chart.line([start, end], [at(start), at(end)], color=c, width=1.6, dash="2 2.5",
               label=lab(f"{f['method']}: censored fit"))
    lo, hi = _d(pr.get("ci_low")), _d(pr.get("ci_high"))
    chart.line([lo or end, hi or end + dt.timedelta(days=120)], [pr["threshold_fraction"]] * 2, color=c,
               width=5.0, opacity=0.35, label=lab(f"{f['method']}: {int(pr['level'] * 100)} % interval"))
    chart.markers([end], [pr["threshold_fraction"]], color=c, marker="X", size=10.0,
                  label=lab(f"{f['method']}: projected {pr['threshold_fraction'] * 100:g} % blasts"),
                  titles=[f"{f['method'].upper()}: projected {pr['date']}"])


_FIT_NOTE = ("<p class='note'>Regrowth: log-linear fit per method with values below the LoD "
             "censored (Tobit / Beal M3) and values below the LoQ interval-censored; methods are "
             "never pooled. Projection to the relapse threshold with a profile-likelihood interval "
             "(Beal M3 censoring as assessed by Ahn et al., J Pharmacokinet Pharmacodyn 2008;35:401). "
             "A projection is a model extrapolation, not a prediction "
             "for this patient.</p>")


def render(section: Any, analysis: Any) -> str:
    """The plot, the results table, the findings list, the regrowth-fit table and its note."""
    res = section.data()
    if not res.get("points"):
        return "<p>No MRD results with dates.</p>"
    out = [course_svg(res), _results_table(res)]
    out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in _findings(res)) + "</ul>")
    return "\n".join([*out, _fits_table(res), _FIT_NOTE])


def _results_table(res: dict[str, Any]) -> str:
    """One row per MRD result: value, LoD/LoQ, response and log reduction from the baseline."""
    rows = []
    for p in res["points"]:
        lr = p.get("log_reduction")
        lr_s = "–" if not lr else (("≥ " if lr["bound"] == "at_least" else "") + f"{lr['value']:.1f}")
        rows.append(_td(p["date"], p["method"], p.get("marker") or "–", p["display"], _f(p["lod"]),
                        _f(p["loq"]), p["response"].replace("_", " "), lr_s, p["source"]))
    base = res.get("baseline")
    return ("<table class='compact'><thead><tr><th>date</th><th>method</th><th>marker</th>"
            "<th>MRD</th><th>LoD</th><th>LoQ</th><th>response (ASH Educ Program 2021:718)</th>"
            f"<th>log reduction{' from ' + escape(base['source']) if base else ''}</th>"
            "<th>source</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _findings(res: dict[str, Any]) -> list[str]:
    """The course's findings as sentences: method changes, negativity, conversions, molecular
    relapse, progression, cross-material comparisons, alerts, caveats, MRD after HSCT / CAR-T."""
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
    items.append(_molecular_relapse_item(res["molecular_relapse"]))
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
    return items


def _molecular_relapse_item(mr: dict[str, Any]) -> str:
    """The molecular-relapse finding with the rule it rests on."""
    rule = (f"rule: ≥ {mr['threshold']:g} after negativity"
            + (", confirmed in the next sample" if mr["require_confirmation"] else ""))
    if mr.get("status") == "progression":
        return f"Molecular relapse: none; {mr['note']} ({mr.get('method')}, {mr.get('material')})"
    if mr.get("date"):
        return (f"Molecular relapse: {mr['status'].replace('_', ' ')} from {mr['date']} "
                f"({mr.get('method')}, {mr.get('material', 'material not recorded')}"
                + (f", confirmed {mr['confirmed_on']} by {mr.get('confirmed_by')}" if mr.get("confirmed_on") else "")
                + f"); {rule}")
    return f"Molecular relapse: none ({rule})"


def _fits_table(res: dict[str, Any]) -> str:
    """One row per method's regrowth fit: window, counts, doubling time and projection (with CIs)."""
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
    return ("<table class='compact'><thead><tr><th>method</th><th>regrowth window</th>"
            "<th>quantified / &lt; LoQ / &lt; LoD</th><th>doubling time (CI)</th>"
            "<th>projected haematological relapse (CI)</th><th>notes</th></tr></thead><tbody>"
            + "".join(frows) + "</tbody></table>")
