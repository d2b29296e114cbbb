"""Render a :class:`~remission.domain.CaseAnalysis` as one self-contained HTML file.

The page, top to bottom: the header (patient summary, a provenance line and the
not-a-medical-device notice), a table of contents, the clinical summary (diagnosis, genetics,
relapses, therapy, antigen expression), the timeline plot, the MRD table, one section per
engine, the warnings, and the provenance (versions, parameters, every input with its SHA-256,
and every recalled/uncertain or user-set rule the results rest on).

Self-contained: CSS is inlined, plots are inline SVG, and nothing refers to the network (a
test opens the file offline in headless Chromium and scans it for external references).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from remission.domain import NOT_A_MEDICAL_DEVICE, Case, CaseAnalysis, EngineSection

__all__ = ["clinical_facts", "render_html", "render_section", "write_report"]

_TEMPLATES = Path(__file__).parent / "templates"

#: average days per month, for intervals shown to people (days are shown beside them)
_DAYS_PER_MONTH = 365.25 / 12


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["words"] = lambda s: str(s).replace("_", " ") if s is not None else ""
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:g} %"
    env.filters["vaf"] = lambda v: "–" if v is None else f"{v * 100:.0f} %"
    return env


def _interval(a: Any, b: Any) -> str:
    days = (b - a).days
    return f"{days / _DAYS_PER_MONTH:.1f} months ({days} days)"


def clinical_facts(case: Case) -> list[tuple[str, str]]:
    """Key facts for the header, as (label, text): ages and intervals are plain arithmetic.

    No clinical classification happens here (e.g. "early" or "late" relapse): that is the job
    of the risk engine, whose section states the rule it used.
    """
    dx = case.diagnosis.date
    facts: list[tuple[str, str]] = [
        ("Patient", f"{case.patient.id} · {case.patient.sex}"),
        ("Age at diagnosis", f"{case.age_at(dx):.1f} years"),
        ("Diagnosis", f"{dx} · {case.diagnosis.lineage}-ALL"),
    ]
    if case.diagnosis.lesions:
        facts.append(("Lesions at diagnosis", ", ".join(lesion.name for lesion in case.diagnosis.lesions)))
    fl = case.frontline
    if fl.protocol or fl.end_date:
        facts.append(("Frontline", f"{fl.protocol or 'protocol not given'}; "
                                   f"{'ended ' + str(fl.end_date) if fl.end_date else 'end date not given'}"))
    for r in case.relapses:
        bits = [r.site.replace("_", " ")]
        if r.marrow_blasts_percent is not None:
            bits.append(f"{r.marrow_blasts_percent:g} % marrow blasts")
        if r.cns_status:
            bits.append(r.cns_status)
        facts.append((f"Relapse {r.number}", f"{r.date} · " + ", ".join(bits)))
        facts.append((f"Relapse {r.number}: age", f"{case.age_at(r.date):.1f} years"))
        facts.append((f"Relapse {r.number}: from diagnosis", _interval(dx, r.date)))
        if fl.end_date is not None and r.date >= fl.end_date:
            facts.append((f"Relapse {r.number}: from end of frontline", _interval(fl.end_date, r.date)))
        elif fl.end_date is not None:
            facts.append((f"Relapse {r.number}: from end of frontline", "during frontline therapy"))
    if case.transplants:
        facts.append(("HSCT", "; ".join(f"{h.date} ({h.donor.replace('_', ' ')})" for h in case.transplants)))
    if case.cart_infusions:
        facts.append(("CAR-T", "; ".join(f"{c.date} {c.product} ({c.target})" for c in case.cart_infusions)))
    return facts


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _generic(section: EngineSection) -> str:
    """Fallback when an engine has no renderer: its top-level values as a table, the rest as JSON."""
    rows = [(k, v) for k, v in section.data().items() if _scalar(v)]
    html = ""
    if rows:
        html += "<table class='kv'>" + "".join(
            f"<tr><th>{escape(str(k).replace('_', ' '))}</th><td>{escape('–' if v is None else str(v))}</td></tr>"
            for k, v in rows) + "</table>"
    if section.result is not None:
        body = json.dumps(section.data(), indent=2, default=str)
        if len(body) > 20000:
            body = body[:20000] + "\n…"
        html += (f"<details><summary>Full result (JSON)</summary><pre class='json'>{escape(body)}</pre>"
                 "</details>")
    else:
        html += "<p class='muted'>No result.</p>"
    return html


def render_section(section: EngineSection, analysis: CaseAnalysis) -> Markup:
    """The HTML fragment of one engine section (its own renderer when it has one)."""
    if section.error:
        return Markup(f"<p class='error'><strong>This engine could not run on this case's data:</strong> "
                      f"{escape(section.error.splitlines()[0])}</p>")
    try:
        mod = importlib.import_module(f"remission.report.sections.{section.name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"remission.report.sections.{section.name}":
            raise
        return Markup(_generic(section))
    return Markup(mod.render(section, analysis))


def _all_rules(analysis: CaseAnalysis) -> list[dict[str, Any]]:
    """Every rule the sections rest on, once per (section, rule)."""
    out = []
    for s in analysis.sections:
        for r in s.rests_on:
            out.append({"section": s.title, **r.model_dump(mode="json")})
    return out


def render_html(analysis: CaseAnalysis) -> str:
    """The whole report as an HTML string (inline CSS and SVG; opens offline)."""
    from remission.report.timeline import timeline_svg

    sections = [
        {"name": s.name, "title": s.title, "html": render_section(s, analysis),
         "warnings": s.warnings, "rests_on": s.rests_on, "error": s.error}
        for s in analysis.sections
    ]
    from remission.report.sections.state import summary_html

    template = _env().get_template("report.html.j2")
    return str(template.render(
        a=analysis,
        now=Markup(summary_html(analysis)),
        case=analysis.case,
        prov=analysis.provenance,
        notice=NOT_A_MEDICAL_DEVICE,
        facts=clinical_facts(analysis.case),
        timeline_svg=Markup(timeline_svg(analysis)),
        sections=sections,
        rules=_all_rules(analysis),
        css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
    ))


def write_report(analysis: CaseAnalysis, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path`` (parent folders are created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(analysis), encoding="utf-8")
    return p
