"""web application: users, sessions, login failures, audit log, assay results, tumour board,
rendered patient pages, patient index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(400), nullable=False),
        sa.Column("totp_secret", sa.String(80), nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("csrf_token", sa.String(100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("last_seen_at", _TZ, nullable=False),
        sa.Column("address", sa.String(100), nullable=True),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(80), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("at", _TZ, nullable=False),
    )
    op.create_index("ix_login_failures_account", "login_failures", ["account"])
    op.create_index("ix_login_failures_address", "login_failures", ["address"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "assay_results",
        sa.Column("result_id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(400), nullable=True),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("uploaded_by", sa.String(80), nullable=False),
        sa.Column("uploaded_at", _TZ, nullable=False),
        sa.Column("signed_by", sa.String(80), nullable=True),
        sa.Column("signed_at", _TZ, nullable=True),
        sa.Column("analysis_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_assay_results_case_id", "assay_results", ["case_id"])
    op.create_table(
        "board_meetings",
        sa.Column("meeting_id", sa.String(32), primary_key=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("attendees_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_index("ix_board_meetings_date", "board_meetings", ["date"])
    op.create_table(
        "board_cases",
        sa.Column("meeting_id", sa.String(32),
                  sa.ForeignKey("board_meetings.meeting_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("case_id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "board_decisions",
        sa.Column("decision_id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("board_meetings.meeting_id"),
                  nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("supersedes", sa.String(32), sa.ForeignKey("board_decisions.decision_id"),
                  nullable=True),
        sa.Column("options_json", sa.Text, nullable=False),
        sa.Column("free_text", sa.Text, nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("dissent", sa.Text, nullable=False),
        sa.Column("follow_up", sa.Date, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("signed_by", sa.String(80), nullable=True),
        sa.Column("signed_at", _TZ, nullable=True),
        # an amendment supersedes one decision; two concurrent amendments of it cannot both win
        sa.UniqueConstraint("supersedes", name="uq_board_decisions_supersedes"),
    )
    op.create_index("ix_board_decisions_meeting_id", "board_decisions", ["meeting_id"])
    op.create_table(
        "rendered_pages",
        sa.Column("analysis_id", sa.String(64),
                  sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("html_json", sa.Text, nullable=False),
        sa.Column("rendered_at", _TZ, nullable=False),
    )
    op.create_table(
        "patient_index",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("analysis_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("alerts_json", sa.Text, nullable=False),
        sa.Column("latest_mrd_json", sa.Text, nullable=False),
        sa.Column("trend", sa.String(20), nullable=False),
    )
    op.create_index("ix_patient_index_state", "patient_index", ["state"])


def downgrade() -> None:
    for name in ("patient_index", "rendered_pages", "board_decisions", "board_cases", "board_meetings",
                 "assay_results", "audit_log", "login_failures", "sessions", "users"):
        op.drop_table(name)
