"""Self-contained HTML reports (inline CSS, inline SVG plots, no network).

``render_html(analysis)`` builds the page: header with provenance and the not-a-medical-device
notice, the patient's timeline, the MRD table, then one section per engine. A section is drawn
by ``remission.report.sections.<section.name>.render(section, analysis) -> str`` when that
module exists (engines add their own module; no edit here), otherwise by a generic renderer.
"""

from remission.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]
