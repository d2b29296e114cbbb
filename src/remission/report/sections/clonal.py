"""Report section ``clonal``: relapse pattern, fish plot and clone tree (inline SVG), lesions, clonotypes."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain import CaseAnalysis, EngineSection

_PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
            "#ccb974", "#64b5cd"]


def _color(k: int) -> str:
    return _PALETTE[k % len(_PALETTE)]


def _intervals(clusters: list[dict[str, Any]], sample: str) -> dict[int, tuple[float, float]]:
    """Nested vertical interval per clone at one time point (children centred in their parent)."""
    kids: dict[int | None, list[int]] = {}
    for c in clusters:
        if c["placed"]:
            kids.setdefault(c["parent"], []).append(c["id"])
    ccf = {c["id"]: float(c["ccf"][sample]) for c in clusters}
    out: dict[int, tuple[float, float]] = {}

    def place(parent: int | None, lo: float, hi: float) -> None:
        ch = kids.get(parent, [])
        total = sum(ccf[k] for k in ch)
        start = lo + max(hi - lo - total, 0.0) / 2
        for k in ch:
            h = min(ccf[k], hi - start) if hi > start else 0.0
            out[k] = (start, start + max(h, 0.0))
            place(k, start, start + max(h, 0.0))
            start += max(h, 0.0)

    place(None, 0.0, 1.0)
    return out


def fish_plot_svg(result: dict[str, Any]) -> str:
    """Fish plot: clone bands (height = CCF, nested in the parent) over the samples in order."""
    import math

    from remission.report.svg import Chart, LinearScale

    samples = result["samples"]
    clusters = result["clusters"]
    iv = [_intervals(clusters, s) for s in samples]
    order: list[int] = []

    def dfs(parent: int | None) -> None:
        for c in clusters:
            if c["placed"] and c["parent"] == parent:
                order.append(c["id"])
                dfs(c["id"])

    dfs(None)
    x_all: list[float] = []
    lo_all: dict[int, list[float]] = {k: [] for k in order}
    hi_all: dict[int, list[float]] = {k: [] for k in order}
    for t in range(len(samples)):
        # a smooth (half-cosine) passage from one sample to the next, 39 steps
        xs = [0.0] if t == 0 else [t - 1 + i / 39 for i in range(1, 40)]
        x_all.extend(xs)
        for k in order:
            a = iv[max(t - 1, 0)].get(k, (0.5, 0.5))
            b = iv[t].get(k, (0.5, 0.5))
            ws = [0.5 - 0.5 * math.cos(math.pi * (x - (t - 1))) for x in xs] if t else [0.0]
            lo_all[k].extend(a[0] + (b[0] - a[0]) * w for w in ws)
            hi_all[k].extend(a[1] + (b[1] - a[1]) * w for w in ws)
    labels = [f"{s} ({result['roles'].get(s, '')})" for s in samples]
    chart = Chart(width=720.0, height=280.0, title="Fish plot of clone fractions",
                  desc="Clone bands over the samples in order: the height of a band is the clone's "
                       "cancer-cell fraction, nested inside its parent clone.",
                  margin_left=56.0, margin_right=190.0, margin_top=10.0, margin_bottom=40.0)
    chart.x = LinearScale(-0.05, max(len(samples) - 1, 1) + 0.05,
                          tick_list=[(float(i), lab) for i, lab in enumerate(labels)])
    chart.y = LinearScale(0.0, 1.0, tick_list=[(0.0, "0"), (0.5, "0.5"), (1.0, "1")])
    chart.axes(ylabel="cancer-cell fraction")
    for k in order:
        genes = next(c["genes"] for c in clusters if c["id"] == k)
        label = f"clone {k}" + (f" ({', '.join(genes[:2])})" if genes else "")
        chart.band(x_all, lo_all[k], hi_all[k], color=_color(k), opacity=0.85, edge="#ffffff", label=label)
    chart.legend(where="right", size=9.0)
    return chart.svg()


def tree_svg(result: dict[str, Any]) -> str:
    """Clone tree: germline root, clones by depth, CCF per sample on each node."""
    from remission.report.svg import Chart, LinearScale

    clusters = result["clusters"]
    samples = result["samples"]
    kids: dict[int | None, list[int]] = {}
    for c in clusters:
        if c["placed"]:
            kids.setdefault(c["parent"], []).append(c["id"])
    pos: dict[int | None, tuple[float, float]] = {}
    counter = [0.0]

    def layout(node: int | None, depth: int) -> float:
        ch = kids.get(node, [])
        if not ch:
            x = counter[0]
            counter[0] += 1
        else:
            xs = [layout(k, depth + 1) for k in ch]
            x = sum(xs) / len(xs)
        pos[node] = (x, -depth)
        return x

    layout(None, 0)
    depth = max(-y for _, y in pos.values())
    xs = [x for x, _ in pos.values()]
    chart = Chart(width=max(360.0, 130.0 * (max(xs) - min(xs) + 1.4)), height=110.0 + 75.0 * depth,
                  title="Clone tree",
                  desc="Clone tree from the germline root: each clone's number in its node, its "
                       "cancer-cell fraction per sample (" + " / ".join(samples) + ") and its first genes below.",
                  margin_left=10.0, margin_right=10.0, margin_top=28.0, margin_bottom=10.0)
    chart.x = LinearScale(min(xs) - 0.7, max(xs) + 0.7)
    chart.y = LinearScale(-depth - 1.0, 0.3)
    chart.text(chart.width / 2, 16.0, "clone tree (CCF " + " / ".join(samples) + ")", anchor="middle", size=11.0)
    by_id = {c["id"]: c for c in clusters}
    for node, (x, y) in pos.items():
        if node is not None:
            px, py = pos[by_id[node]["parent"]]
            chart.segment_px(chart.X(px), chart.Y(py), chart.X(x), chart.Y(y), color="#888888")
    for node, (x, y) in pos.items():
        if node is None:
            chart.circle_px(chart.X(x), chart.Y(y), 8.0, fill="#dddddd", stroke="#444444")
            chart.text(chart.X(x) + 12, chart.Y(y), "germline", baseline="middle", size=10.0)
            continue
        c = by_id[node]
        chart.circle_px(chart.X(x), chart.Y(y), 12.0, fill=_color(node), stroke="#333333")
        chart.text(chart.X(x), chart.Y(y), str(node), anchor="middle", baseline="middle", size=10.0,
                   color="#ffffff")
        ccfs = " / ".join(f"{c['ccf'][s]:.2f}" for s in samples)
        genes = ", ".join(c["genes"][:2])
        chart.text(chart.X(x), chart.Y(y) + 26, ccfs + (f"\n{genes}" if genes else ""), anchor="middle",
                   size=9.0)
    return chart.svg()


def _variant_block(v: dict[str, Any]) -> str:
    if v.get("error"):
        return f"<p class='error'>{escape(v['sample_id'])}: {escape(v['error'])}</p>"
    parts = [f"<h3>Variants: {escape(v['sample_id'])}</h3>"]
    pat = v.get("relapse_pattern")
    rules = v.get("rules", {})
    if pat:
        major = rules.get("major_clone_ccf", {})
        parts.append(
            f"<p><strong>Relapse pattern: {escape(pat['pattern'])}</strong> — {escape(pat['explanation'])}. "
            f"Major/minor threshold: diagnosis CCF {escape(str(major.get('value', '')))} "
            f"(rule <code>major_clone_ccf</code>, tag [{escape(str(major.get('tag', '')))}], "
            f"{escape(str(major.get('source', '')))}).</p>")
        alts = pat.get("patterns_over_alternative_trees") or {}
        if len(alts) > 1:
            parts.append("<p class='warning'>Ambiguous: valid clone trees give "
                         + escape(", ".join(f"{k} ({n})" for k, n in sorted(alts.items()))) + ".</p>")
    try:
        parts.append("<div class='plot'>" + fish_plot_svg(v) + "</div>")
        parts.append("<div class='plot'>" + tree_svg(v) + "</div>")
    except Exception as exc:  # a plot must not hide the tables
        parts.append(f"<p class='warning'>plot failed: {escape(repr(exc))}</p>")
    head = "".join(f"<th>CCF {escape(s)}</th>" for s in v["samples"])
    rows = []
    for c in v["clusters"]:
        ccfs = "".join(f"<td>{c['ccf'][s]:.2f} ± {c['ccf_sd'][s]:.2f}</td>" for s in v["samples"])
        parent = "germline" if c["placed"] and c["parent"] is None else ("unplaced" if not c["placed"] else c["parent"])
        rows.append(f"<tr><td>{c['id']}</td><td>{c['n_mutations']}</td>{ccfs}<td>{escape(str(parent))}</td>"
                    f"<td>{escape(str(c['status'] or ''))}</td><td>{escape(', '.join(c['genes'][:6]))}</td></tr>")
    parts.append(f"<table><tr><th>clone</th><th>mutations</th>{head}<th>parent</th><th>status</th><th>genes</th></tr>"
                 + "".join(rows) + "</table>")
    if v["lesions"]:
        rows = [f"<tr><td>{escape(le['gene'])}</td><td>{escape(le.get('mutation', ''))}</td><td>{le['clone']}</td>"
                f"<td>{escape(le['clone_status'])}</td><td>{escape(le['resistance'])}</td><td>{escape(le['mechanism'])}</td>"
                f"<td>[{escape(le['tag'])}] {escape(le['source'])}</td></tr>" for le in v["lesions"]]
        parts.append("<h4>Relapse-associated lesions</h4><table><tr><th>gene</th><th>mutation</th><th>clone</th>"
                     "<th>clone status</th><th>resistance</th><th>mechanism</th><th>source</th></tr>"
                     + "".join(rows) + "</table>")
    purity = ", ".join(f"{s} {p:.2f}" for s, p in v["purity"].items())
    parts.append(f"<p class='small'>{v['n_mutations']} mutations; purity {escape(purity)}; "
                 f"{v['n_clones']} clones chosen by {escape(v['model_selection']['criterion'].upper())}.</p>")
    return "".join(parts)


def _clonotype_block(c: dict[str, Any]) -> str:
    rows = []
    for r in c["clonotypes"]:
        grp = r.get("related_group")
        rows.append(f"<tr><td>{escape(r['locus'])}</td><td>{escape(r['v_call'])}</td><td>{escape(r['j_call'])}</td>"
                    f"<td><code>{escape(r['junction'][-30:])}</code></td><td>{r['diagnosis_fraction']:.2%}</td>"
                    f"<td>{r['relapse_fraction']:.2%}</td><td>{escape(r['status'])}</td>"
                    f"<td>{'' if grp is None else grp}</td></tr>")
    summary = ", ".join(f"{k} {v}" for k, v in c["summary"].items())
    return (f"<h3>IG/TR clonotypes: {escape(c['diagnosis_sample'])} → {escape(c['relapse_sample'])}</h3>"
            f"<p>{escape(summary)}</p><table><tr><th>locus</th><th>V</th><th>J</th><th>junction (3' end)</th>"
            "<th>diagnosis</th><th>relapse</th><th>status</th><th>related group</th></tr>" + "".join(rows) + "</table>")


def _case_lesion_block(lesions: list[dict[str, Any]]) -> str:
    rows = [f"<tr><td>{escape(le['gene'])}</td><td>{escape(str(le.get('detail') or ''))}</td>"
            f"<td>{escape(le['found_at'])}{' (acquired)' if le['acquired'] else ''}</td>"
            f"<td>{escape(le['resistance'])}</td><td>{escape(le['mechanism'])}</td>"
            f"<td>[{escape(le['tag'])}] {escape(le['source'])}</td></tr>" for le in lesions]
    return ("<h3>Relapse-associated lesions in the case record</h3><table><tr><th>gene</th><th>alteration</th>"
            "<th>found at</th><th>resistance</th><th>mechanism</th><th>source</th></tr>" + "".join(rows) + "</table>")


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    res = section.data()
    parts = [_variant_block(v) for v in res.get("variant_samples", [])]
    if res.get("case_lesions"):
        parts.append(_case_lesion_block(res["case_lesions"]))
    if res.get("clonotypes"):
        parts.append(_clonotype_block(res["clonotypes"]))
    if not parts:
        parts.append("<p>No variant or clonotype data.</p>")
    return "".join(parts)
