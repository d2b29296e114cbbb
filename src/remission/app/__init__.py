"""The application layer: the use cases that the command line and the web application share.

- :func:`run_case`: analyse one case file, check the result, render its report and save it, so
  that nothing is stored by a run that then fails (:mod:`remission.app.cases`);
- :func:`run_batch`: run one function over many inputs on Dask, a local cluster by default or a
  scheduler by address (:mod:`remission.app.batch`);
- :func:`build_cohort_table`: stored analyses -> an analysis-ready cohort table, each row with
  its derivation (:mod:`remission.app.cohort`).

Entry points (``cli/``, ``web/``) parse arguments and render; they call these functions and never
reach into engines or SQL themselves.
"""

from remission._lazy import lazy_exports

__all__ = ["CaseRun", "build_cohort_table", "run_batch", "run_case", "safe_name"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "CaseRun": "cases",
    "run_case": "cases",
    "safe_name": "cases",
    "run_batch": "batch",
    "build_cohort_table": "cohort",
})
