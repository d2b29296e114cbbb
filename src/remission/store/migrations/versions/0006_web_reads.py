"""the web application's reads: indexes for the newest analysis of a case and the newest stored
analysis overall; the patient page's stored body

- ``ix_analyses_case_latest`` (case_id, analysed_at, stored_at, analysis_id): a patient page
  finds the newest analysis of its case by walking this index backwards, and the patient index
  orders every case's analyses without a sort;
- ``ix_analyses_stored_at``: the patient list checks on every request whether an analysis was
  stored since the index was last refreshed (``count(*)`` and ``max(stored_at)``); without this
  index that check scans the analyses table (about 150 KB a row), 1.7 ms with 1,000 patients;
- ``rendered_pages.body_html`` and ``body_version``: the HTML body of the web patient page of
  the analysis and the version (hash) of the template that made it, so a page view reads one row
  instead of parsing the analysis (null until the page is first rendered).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_analyses_case_latest", "analyses", ["case_id", "analysed_at", "stored_at", "analysis_id"])
    op.create_index("ix_analyses_stored_at", "analyses", ["stored_at"])
    op.add_column("rendered_pages", sa.Column("body_html", sa.Text, nullable=True))
    op.add_column("rendered_pages", sa.Column("body_version", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rendered_pages") as batch:
        batch.drop_column("body_version")
        batch.drop_column("body_html")
    op.drop_index("ix_analyses_stored_at", table_name="analyses")
    op.drop_index("ix_analyses_case_latest", table_name="analyses")
