"""Report sections, one module per engine name: ``render(section, analysis) -> str``."""
