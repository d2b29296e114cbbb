"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

- ``cases``: one row per case id, with the latest case JSON;
- ``samples``: the samples of each case's latest version;
- ``analyses``: each analysis (the whole :class:`~remission.domain.CaseAnalysis` as JSON),
  unique by ``content_key`` (case hash + parameters + remission version);
- ``mrd_results``: the MRD values of each analysis as queryable rows;
- ``inputs``: the files each analysis read, with their SHA-256;
- ``jobs``: background work of the web application (a FASTQ or large FCS upload being checked),
  with its state and progress (migration 0003), its owner process and heartbeat (0005).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "analyses", "assay_results", "audit_log", "board_cases", "board_decisions", "board_meetings",
    "cases", "inputs", "jobs", "login_failures", "metadata", "mrd_results", "patient_access", "patient_index",
    "rendered_pages", "samples",
    "sessions", "users",
]

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
    # migration 0006: the newest analysis of a case, and the newest stored analysis overall
    sa.Index("ix_analyses_case_latest", "case_id", "analysed_at", "stored_at", "analysis_id"),
    sa.Index("ix_analyses_stored_at", "stored_at"),
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

# ---- web application (migration 0002) -----------------------------------------------------------
# users, sessions and login failures (authentication); the hash-chained audit log; laboratory
# results awaiting four-eyes sign-off; tumour-board meetings and their versioned decisions; and
# patient_index, a derived one-row-per-case summary for the patient list (rebuilt from analyses).

users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(400), nullable=False),
    sa.Column("totp_secret", sa.String(80), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # migration 0003: a TOTP secret shown for enrolment, active once confirmed with a code
    sa.Column("totp_pending", sa.String(80), nullable=True),
    # the TOTP time step (unix time // 30) of the last code accepted at login: a code works once
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("csrf_token", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("address", sa.String(100), nullable=True),
)

login_failures = sa.Table(
    "login_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(80), nullable=False, index=True),
    sa.Column("address", sa.String(100), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("address", sa.String(100), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

assay_results = sa.Table(
    "assay_results", metadata,
    sa.Column("result_id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("filename", sa.String(400), nullable=True),
    sa.Column("content", sa.LargeBinary, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("uploaded_by", sa.String(80), nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("signed_by", sa.String(80), nullable=True),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("analysis_id", sa.String(64), nullable=True),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("message", sa.String(400), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("result_id", sa.String(32), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    # the server process running (or queueing) the job, "host:pid:random", and when it last said
    # it is alive (migration 0005)
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
)

board_meetings = sa.Table(
    "board_meetings", metadata,
    sa.Column("meeting_id", sa.String(32), primary_key=True),
    sa.Column("date", sa.Date, nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("attendees_json", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

board_cases = sa.Table(
    "board_cases", metadata,
    sa.Column("meeting_id", sa.String(32), sa.ForeignKey("board_meetings.meeting_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
)

board_decisions = sa.Table(
    "board_decisions", metadata,
    sa.Column("decision_id", sa.String(32), primary_key=True),
    sa.Column("meeting_id", sa.String(32), sa.ForeignKey("board_meetings.meeting_id"), nullable=False,
              index=True),
    sa.Column("case_id", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("supersedes", sa.String(32), sa.ForeignKey("board_decisions.decision_id"), nullable=True,
              unique=True),
    sa.Column("options_json", sa.Text, nullable=False),
    sa.Column("free_text", sa.Text, nullable=False),
    sa.Column("rationale", sa.Text, nullable=False),
    sa.Column("dissent", sa.Text, nullable=False),
    sa.Column("follow_up", sa.Date, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("author", sa.String(80), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("signed_by", sa.String(80), nullable=True),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
)

rendered_pages = sa.Table(
    "rendered_pages", metadata,
    sa.Column("analysis_id", sa.String(64), sa.ForeignKey("analyses.analysis_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("html_json", sa.Text, nullable=False),
    sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
    # migration 0006: the web patient page's body and the version (template hash) it was made with
    sa.Column("body_html", sa.Text, nullable=True),
    sa.Column("body_version", sa.String(40), nullable=True),
)

patient_index = sa.Table(
    "patient_index", metadata,
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("analysis_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(40), nullable=False, index=True),
    sa.Column("alerts_json", sa.Text, nullable=False),
    sa.Column("latest_mrd_json", sa.Text, nullable=False),
    sa.Column("trend", sa.String(20), nullable=False),
)

# ---- per-patient access (migration 0003) ----------------------------------------------------------
# the care team: which account may see which patient; case_id "*" = every patient (see
# remission.app.access for the rule)
patient_access = sa.Table(
    "patient_access", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("granted_by", sa.String(80), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
)
