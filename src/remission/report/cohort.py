"""Cohort report: survival/CIF curves with at-risk tables and forest plots, as self-contained HTML.

Inputs are the JSON-ready dictionaries the cohort results produce (``to_dict()``), so this module
needs no engine import. Plots are matplotlib SVG inlined in the page (no external files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from remission.domain.analysis import NOT_A_MEDICAL_DEVICE
from remission.report.plots import svg

__all__ = ["curve_svg", "forest_svg", "render_cohort_html"]

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _steps(time: Sequence[float], value: Sequence[float], start: float) -> tuple[list[float],
                                                                                list[float]]:
    xs, ys = [0.0], [start]
    for t, v in zip(time, value, strict=True):
        xs.append(t)
        ys.append(v)
    return xs, ys


def curve_svg(curves: Mapping[str, Mapping[str, Any]], *, risk_times: Sequence[float],
              ylabel: str, title: str, time_unit: str = "days", start: float = 1.0,
              band: bool = True) -> str:
    """Step curves (one per group) with an optional band and an at-risk table underneath.

    ``curves[label]`` has ``time``, ``value`` (and optionally ``lower``/``upper``) and
    ``at_risk`` (numbers at risk at ``risk_times``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    n = len(curves)
    fig, (ax, axt) = plt.subplots(2, 1, figsize=(8, 4.2 + 0.22 * n), sharex=True,
                                  gridspec_kw={"height_ratios": [4, 0.5 + 0.35 * n]},
                                  layout="constrained")
    for i, (label, c) in enumerate(curves.items()):
        col = PALETTE[i % len(PALETTE)]
        xs, ys = _steps(c["time"], c["value"], start)
        ax.step(xs, ys, where="post", color=col, lw=1.6, label=str(label))
        if band and c.get("lower") is not None:
            lo = [start if v is None else v for v in c["lower"]]
            hi = [start if v is None else v for v in c["upper"]]
            xl, yl = _steps(c["time"], lo, start)
            _, yh = _steps(c["time"], hi, start)
            ax.fill_between(xl, yl, yh, step="post", color=col, alpha=0.12, lw=0)
        for t, k in zip(risk_times, c["at_risk"], strict=True):
            axt.text(t, n - 1 - i, f"{int(k)}", ha="center", va="center", color=col, fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    if n > 1 or next(iter(curves)) != "all":
        ax.legend(frameon=False, fontsize=8)
    axt.set_ylim(-0.6, n - 0.4)
    axt.set_yticks(range(n))
    axt.set_yticklabels([str(lab) for lab in reversed(list(curves))], fontsize=8)
    axt.set_xticks(list(risk_times))
    axt.set_xlabel(f"time ({time_unit})")
    axt.set_title("number at risk", fontsize=8, loc="left")
    for s in ("left", "bottom"):
        axt.spines[s].set_visible(False)
    axt.tick_params(length=0)
    return svg(fig, title=title)


def forest_svg(rows: Sequence[Mapping[str, Any]], *, xlabel: str, title: str) -> str:
    """Forest plot: one row per covariate with ``name``, ``estimate``, ``lower``, ``upper``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    k = len(rows)
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.4 * k), layout="constrained")
    for i, r in enumerate(rows):
        y = k - 1 - i
        ax.plot([r["lower"], r["upper"]], [y, y], color="#333333", lw=1.4)
        ax.plot([r["estimate"]], [y], "s", color="#1f77b4", ms=6)
    ax.axvline(1.0, color="#999999", lw=0.8, ls="--")
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(range(k))
    ax.set_yticklabels([str(r["name"]) for r in reversed(rows)])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10, loc="left")
    return svg(fig, title=title)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Markup:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "NA" if v is None else str(v)

    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell(r.get(c)))}</td>" for c in columns)
                   + "</tr>" for r in rows)
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def render_cohort_html(title: str, sections: Sequence[Mapping[str, Any]], *,
                       inputs: Sequence[Mapping[str, str]], parameters: Mapping[str, Any],
                       version: str) -> str:
    """A self-contained page: ``sections`` have ``heading``, optional ``svg`` (markup),
    ``rows``+``columns`` (a table), ``notes`` (list of strings) and ``rules``."""
    parts: list[str] = []
    for s in sections:
        parts.append(f"<section><h2>{escape(s['heading'])}</h2>")
        if s.get("svg"):
            parts.append(f"<figure>{s['svg']}</figure>")
        if s.get("rows"):
            parts.append(str(_table(s["rows"], s["columns"])))
        for note in s.get("notes", ()):
            parts.append(f"<p class='note'>{escape(note)}</p>")
        if s.get("rules"):
            items = "".join(f"<li>{escape(r)}</li>" for r in s["rules"])
            parts.append(f"<details><summary>Rules and methods</summary><ul>{items}</ul></details>")
        parts.append("</section>")
    ins = "".join(f"<li>{escape(i['path'])} <code>sha256 {escape(i['sha256'])}</code></li>"
                  for i in inputs)
    params = "".join(f"<li>{escape(k)} = {escape(str(v))}</li>" for k, v in parameters.items())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    css = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:1.5em auto;color:#222}"
           "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
           ".notice{background:#fff4e5;border:1px solid #f0b429;padding:.6em}"
           "svg.plot{max-width:100%;height:auto}.note{font-size:.9em;color:#444}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{css}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class='notice'>{escape(NOT_A_MEDICAL_DEVICE)}</p>"
            + "".join(parts)
            + f"<section><h2>Provenance</h2><p>remission {escape(version)}, {now}</p>"
            f"<ul>{ins}</ul><ul>{params}</ul></section></body></html>")
