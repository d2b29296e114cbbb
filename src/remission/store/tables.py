"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

- ``cases``: one row per case id, with the latest case JSON;
- ``samples``: the samples of each case's latest version;
- ``analyses``: each analysis (the whole :class:`~remission.domain.CaseAnalysis` as JSON),
  unique by ``content_key`` (case hash + parameters + remission version);
- ``mrd_results``: the MRD values of each analysis as queryable rows;
- ``inputs``: the files each analysis read, with their SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["analyses", "cases", "inputs", "metadata", "mrd_results", "samples"]

metadata = sa.MetaData()

cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("case_json", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

samples = sa.Table(
    "samples", metadata,
    sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("sample_id", sa.String(200), primary_key=True),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("material", sa.String(40), nullable=False),
    sa.Column("assay", sa.String(40), nullable=False),
    sa.Column("role", sa.String(40), nullable=True),
    sa.Column("files_json", sa.Text, nullable=False),
    sa.Column("parameters_json", sa.Text, nullable=False),
)

analyses = sa.Table(
    "analyses", metadata,
    sa.Column("analysis_id", sa.String(64), primary_key=True),
    sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id"), nullable=False, index=True),
    sa.Column("content_key", sa.String(64), nullable=False, unique=True),
    sa.Column("case_sha256", sa.String(64), nullable=False),
    sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("remission_version", sa.String(40), nullable=False),
    sa.Column("knowledge_base_version", sa.String(80), nullable=True),
    sa.Column("sections", sa.Text, nullable=False),
    sa.Column("analysis_json", sa.Text, nullable=False),
)

mrd_results = sa.Table(
    "mrd_results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("analysis_id", sa.String(64), sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("sample_id", sa.String(200), nullable=True),
    sa.Column("date", sa.Date, nullable=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("lod", sa.Float, nullable=True),
    sa.Column("loq", sa.Float, nullable=True),
    sa.Column("marker", sa.String(400), nullable=True),
    sa.Column("material", sa.String(40), nullable=True),
    sa.Column("timepoint", sa.String(100), nullable=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("details_json", sa.Text, nullable=False),
)

inputs = sa.Table(
    "inputs", metadata,
    sa.Column("analysis_id", sa.String(64), sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
)
