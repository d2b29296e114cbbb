"""Render a :class:`~remission.domain.CaseAnalysis` as one self-contained HTML file."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from remission.domain import NOT_A_MEDICAL_DEVICE, CaseAnalysis, EngineSection

__all__ = ["render_html", "write_report"]

_TEMPLATES = Path(__file__).parent / "templates"


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _generic(section: EngineSection) -> str:
    """Fallback when an engine has no renderer: its result as formatted JSON."""
    body = json.dumps(section.result, indent=2, default=str)
    if len(body) > 20000:
        body = body[:20000] + "\n…"
    return f"<pre class='json'>{escape(body)}</pre>"


def render_section(section: EngineSection, analysis: CaseAnalysis) -> Markup:
    if section.error:
        return Markup(f"<p class='error'>This engine could not run on this case's data: "
                      f"{escape(section.error.splitlines()[0])}</p>")
    try:
        mod = importlib.import_module(f"remission.report.sections.{section.name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"remission.report.sections.{section.name}":
            raise
        return Markup(_generic(section))
    return Markup(mod.render(section, analysis))


def render_html(analysis: CaseAnalysis) -> str:
    """The whole report as an HTML string (inline CSS and SVG; opens offline)."""
    from remission.report.timeline import timeline_svg

    sections = [
        {"name": s.name, "title": s.title, "html": render_section(s, analysis),
         "warnings": s.warnings, "rests_on": s.rests_on}
        for s in analysis.sections
    ]
    template = _env().get_template("report.html.j2")
    return str(template.render(
        a=analysis,
        case=analysis.case,
        prov=analysis.provenance,
        notice=NOT_A_MEDICAL_DEVICE,
        timeline_svg=Markup(timeline_svg(analysis)),
        sections=sections,
        css=Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
    ))


def write_report(analysis: CaseAnalysis, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(analysis), encoding="utf-8")
    return p
