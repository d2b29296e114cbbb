"""initial schema: cases, samples, analyses, mrd_results, inputs

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("case_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "samples",
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
    op.create_table(
        "analyses",
        sa.Column("analysis_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(200), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("content_key", sa.String(64), nullable=False),
        sa.Column("case_sha256", sa.String(64), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remission_version", sa.String(40), nullable=False),
        sa.Column("knowledge_base_version", sa.String(80), nullable=True),
        sa.Column("sections", sa.Text, nullable=False),
        sa.Column("analysis_json", sa.Text, nullable=False),
        sa.UniqueConstraint("content_key", name="uq_analyses_content_key"),
    )
    op.create_index("ix_analyses_case_id", "analyses", ["case_id"])
    op.create_table(
        "mrd_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("analysis_id", sa.String(64),
                  sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
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
    op.create_index("ix_mrd_results_analysis_id", "mrd_results", ["analysis_id"])
    op.create_index("ix_mrd_results_case_id", "mrd_results", ["case_id"])
    op.create_table(
        "inputs",
        sa.Column("analysis_id", sa.String(64),
                  sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inputs")
    op.drop_index("ix_mrd_results_case_id", table_name="mrd_results")
    op.drop_index("ix_mrd_results_analysis_id", table_name="mrd_results")
    op.drop_table("mrd_results")
    op.drop_index("ix_analyses_case_id", table_name="analyses")
    op.drop_table("analyses")
    op.drop_table("samples")
    op.drop_table("cases")
