"""Persistence: cases, samples, analyses and queryable MRD results (SQLAlchemy 2 + Alembic).

::

    from remission.store import Store

    with Store("sqlite:///remission.db") as st:      # or postgresql+psycopg://user@host/db
        saved = st.save_analysis(analysis)           # one transaction, idempotent by content
        st.list_analyses(); st.get_analysis(saved.analysis_id); st.mrd_results(case_id="P1")

Every database failure is raised as :class:`remission.errors.StoreError` with nothing written.
"""

from __future__ import annotations

from remission.errors import StoreError
from remission.store.core import AnalysisSummary, SaveResult, Store, content_key

__all__ = ["AnalysisSummary", "SaveResult", "Store", "StoreError", "content_key"]
