"""remission: MRD, clonal architecture, CAR-T monitoring and evidence-linked options for
relapsed childhood ALL.

Not a medical device: decision support for professionals.

The public surface (everything else is reachable through the subpackages' own ``__all__``)::

    from remission import analyze, run_case, Case, CaseAnalysis, MrdResult
    analysis = analyze("case.yaml")            # every engine that has data, typed results
    run = run_case("case.yaml", report_dir="out/P1", db_url="sqlite:///remission.db")

Names are imported lazily, so ``import remission`` stays cheap.
"""

from remission._lazy import lazy_exports

__version__ = "0.2.0.dev0"

__all__ = [
    "NOT_A_MEDICAL_DEVICE",
    "Case",
    "CaseAnalysis",
    "EngineSection",
    "MrdResult",
    "__version__",
    "analyze",
    "analyze_case",
    "load_case",
    "render_html",
    "run_batch",
    "run_case",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "NOT_A_MEDICAL_DEVICE": "domain",
    "Case": "domain",
    "CaseAnalysis": "domain",
    "EngineSection": "domain",
    "MrdResult": "domain",
    "analyze": "pipeline",
    "analyze_case": "pipeline",
    "load_case": "io.casefile",
    "render_html": "report",
    "write_report": "report",
    "run_case": "app",
    "run_batch": "app",
})
