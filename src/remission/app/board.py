"""Tumour-board meetings and their structured decisions.

A meeting has a date, a title, attendees and a list of patients. For each patient the board
records a decision: the chosen option(s) from the patient's option list and/or free text, the
rationale, any dissent and a follow-up date (modelled on the German Medical Informatics
Initiative's molecular tumour board FHIR profile, where a "Beschluss" is a CarePlan whose
recommendations are MedicationRequests with intent "option").

A decision is a draft until a clinician signs it; a signed decision never changes (no code path
updates it). A correction is an *amendment*: a new draft version that names the decision it
supersedes; the database allows one amendment per decision, so two people amending at once
cannot fork the history.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.app.patients import NotFound
from remission.domain import CaseAnalysis
from remission.domain.results import OptionsResult
from remission.errors import RemissionError, ValidationError
from remission.store import Store
from remission.store import tables as T

__all__ = [
    "BoardError",
    "Decision",
    "DecisionInput",
    "Meeting",
    "add_case",
    "amend",
    "create_meeting",
    "export_html",
    "export_pdf",
    "get_decision",
    "get_meeting",
    "list_meetings",
    "options_of",
    "record_decision",
    "sign",
]

_MAX_TEXT = 10_000


class BoardError(RemissionError):
    """An action the decision's state does not allow (e.g. signing twice)."""


class DecisionInput(BaseModel):
    """What the board records for one patient."""

    options: list[str] = Field(default_factory=list, max_length=20)
    free_text: str = Field("", max_length=_MAX_TEXT)
    rationale: str = Field("", max_length=_MAX_TEXT)
    dissent: str = Field("", max_length=_MAX_TEXT)
    follow_up: dt.date | None = None


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: str
    meeting_id: str
    case_id: str
    version: int
    supersedes: str | None
    options: list[str]
    free_text: str
    rationale: str
    dissent: str
    follow_up: dt.date | None
    status: str
    author: str
    created_at: dt.datetime
    signed_by: str | None
    signed_at: dt.datetime | None
    superseded_by: str | None = None


class Meeting(BaseModel):
    model_config = ConfigDict(frozen=True)

    meeting_id: str
    date: dt.date
    title: str
    attendees: list[str]
    created_by: str
    cases: list[str] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)


def _utc(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    return v.astimezone(dt.UTC) if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)


def _decision(r: Any, superseded_by: str | None = None) -> Decision:
    return Decision(decision_id=r.decision_id, meeting_id=r.meeting_id, case_id=r.case_id, version=r.version,
                    supersedes=r.supersedes, options=json.loads(r.options_json), free_text=r.free_text,
                    rationale=r.rationale, dissent=r.dissent, follow_up=r.follow_up, status=r.status,
                    author=r.author, created_at=_utc(r.created_at),
                    signed_by=r.signed_by, signed_at=_utc(r.signed_at), superseded_by=superseded_by)


def options_of(analysis: CaseAnalysis) -> list[str]:
    """The names of the options the options engine proposed for this analysis (the choices a
    structured decision offers)."""
    res = next((s.result for s in analysis.sections if isinstance(s.result, OptionsResult)), None)
    return [o.name for o in res.options] if res else []


def create_meeting(store: Store, *, date: dt.date, title: str, attendees: list[str], actor: str,
                   address: str) -> Meeting:
    title = title.strip()
    if not title or len(title) > 200:
        raise ValidationError(f"meeting title must be 1-200 characters, but was {len(title)}")
    people = [a.strip()[:200] for a in attendees if a.strip()][:100]
    mid = secrets.token_hex(8)

    def tx(conn: Connection) -> None:
        conn.execute(T.board_meetings.insert().values(
            meeting_id=mid, date=date, title=title, attendees_json=json.dumps(people), created_by=actor,
            created_at=dt.datetime.now(dt.UTC)))
        audit.append(conn, actor=actor, action="board.meeting", target=f"meeting:{mid}", address=address,
                     detail={"date": date.isoformat()})

    store.write(tx)
    return Meeting(meeting_id=mid, date=date, title=title, attendees=people, created_by=actor)


def add_case(store: Store, meeting_id: str, case_id: str, *, actor: str, address: str) -> None:
    def tx(conn: Connection) -> None:
        if conn.execute(sa.select(T.board_meetings.c.meeting_id)
                        .where(T.board_meetings.c.meeting_id == meeting_id)).first() is None:
            raise NotFound(f"no meeting {meeting_id!r}")
        if conn.execute(sa.select(T.cases.c.case_id).where(T.cases.c.case_id == case_id)).first() is None:
            raise NotFound(f"no patient {case_id!r}")
        bc = T.board_cases.c
        if conn.execute(sa.select(bc.case_id).where(bc.meeting_id == meeting_id, bc.case_id == case_id)).first():
            return
        conn.execute(T.board_cases.insert().values(meeting_id=meeting_id, case_id=case_id))
        audit.append(conn, actor=actor, action="board.add_patient", target=f"patient:{case_id}",
                     address=address, detail={"meeting": meeting_id})

    store.write(tx)


def list_meetings(store: Store) -> list[Meeting]:
    m = T.board_meetings.c
    rows = store.read(lambda conn: conn.execute(sa.select(T.board_meetings).order_by(m.date.desc(), m.meeting_id)).all())
    return [Meeting(meeting_id=r.meeting_id, date=r.date, title=r.title, attendees=json.loads(r.attendees_json),
                    created_by=r.created_by) for r in rows]


def get_meeting(store: Store, meeting_id: str) -> Meeting:
    def run(conn: Connection) -> tuple[Any, list[str], Any]:
        r = conn.execute(sa.select(T.board_meetings).where(T.board_meetings.c.meeting_id == meeting_id)).first()
        cases = [c for (c,) in conn.execute(sa.select(T.board_cases.c.case_id)
                                            .where(T.board_cases.c.meeting_id == meeting_id)
                                            .order_by(T.board_cases.c.case_id)).all()]
        ds = conn.execute(sa.select(T.board_decisions).where(T.board_decisions.c.meeting_id == meeting_id)
                          .order_by(T.board_decisions.c.case_id, T.board_decisions.c.version)).all()
        return r, cases, ds

    r, cases, ds = store.read(run)
    if r is None:
        raise NotFound(f"no meeting {meeting_id!r}")
    later = {d.supersedes: d.decision_id for d in ds if d.supersedes}
    return Meeting(meeting_id=r.meeting_id, date=r.date, title=r.title, attendees=json.loads(r.attendees_json),
                   created_by=r.created_by, cases=cases,
                   decisions=[_decision(d, later.get(d.decision_id)) for d in ds])


def _insert(conn: Connection, meeting_id: str, case_id: str, data: DecisionInput, *, version: int,
            supersedes: str | None, actor: str, address: str) -> str:
    if not data.options and not data.free_text.strip():
        raise ValidationError("decision: choose at least one option or write the decision as free text")
    did = secrets.token_hex(8)
    conn.execute(T.board_decisions.insert().values(
        decision_id=did, meeting_id=meeting_id, case_id=case_id, version=version, supersedes=supersedes,
        options_json=json.dumps(data.options), free_text=data.free_text, rationale=data.rationale,
        dissent=data.dissent, follow_up=data.follow_up, status="draft", author=actor,
        created_at=dt.datetime.now(dt.UTC)))
    audit.append(conn, actor=actor, action="board.decision", target=f"patient:{case_id}", address=address,
                 detail={"meeting": meeting_id, "decision": did, "version": version, "supersedes": supersedes})
    return did


def record_decision(store: Store, meeting_id: str, case_id: str, data: DecisionInput, *, actor: str,
                    address: str) -> str:
    """Record the first version of a patient's decision in a meeting (a draft)."""
    def tx(conn: Connection) -> str:
        bc = T.board_cases.c
        if conn.execute(sa.select(bc.case_id).where(bc.meeting_id == meeting_id, bc.case_id == case_id)).first() is None:
            raise NotFound(f"patient {case_id!r} is not on meeting {meeting_id!r}")
        d = T.board_decisions.c
        if conn.execute(sa.select(d.decision_id).where(d.meeting_id == meeting_id, d.case_id == case_id)).first():
            raise BoardError("this patient already has a decision in this meeting; amend it instead")
        return _insert(conn, meeting_id, case_id, data, version=1, supersedes=None, actor=actor, address=address)

    return str(store.write(tx))


def sign(store: Store, decision_id: str, *, actor: str, address: str) -> None:
    """Sign a draft decision (a clinician); signed decisions never change."""
    d = T.board_decisions.c
    now = dt.datetime.now(dt.UTC)

    def tx(conn: Connection) -> None:
        r = conn.execute(sa.select(d.case_id, d.status).where(d.decision_id == decision_id)).first()
        if r is None:
            raise NotFound(f"no decision {decision_id!r}")
        n = conn.execute(T.board_decisions.update().where(d.decision_id == decision_id, d.status == "draft")
                         .values(status="signed", signed_by=actor, signed_at=now)).rowcount
        if n != 1:
            raise BoardError("this decision is already signed; amend it to change it")
        audit.append(conn, actor=actor, action="board.sign", target=f"patient:{r.case_id}", address=address,
                     detail={"decision": decision_id}, now=now)

    store.write(tx)


def amend(store: Store, decision_id: str, data: DecisionInput, *, actor: str, address: str) -> str:
    """A new draft version of a signed decision that links to it; returns the new id."""
    d = T.board_decisions.c

    def tx(conn: Connection) -> str:
        r = conn.execute(sa.select(T.board_decisions).where(d.decision_id == decision_id)).first()
        if r is None:
            raise NotFound(f"no decision {decision_id!r}")
        if r.status != "signed":
            raise BoardError("only a signed decision is amended; sign or correct the draft")
        if conn.execute(sa.select(d.decision_id).where(d.supersedes == decision_id)).first():
            raise BoardError("this decision already has an amendment; amend the newest version")
        return _insert(conn, r.meeting_id, r.case_id, data, version=r.version + 1, supersedes=decision_id,
                       actor=actor, address=address)

    try:
        return str(store.write(tx))
    except RemissionError:
        raise
    except Exception as exc:  # pragma: no cover - the unique constraint lost a race
        raise BoardError("this decision already has an amendment; amend the newest version") from exc


def export_html(meeting: Meeting) -> str:
    """The meeting's decisions as a standalone HTML document (escaped; no scripts)."""
    import jinja2

    from remission.domain import NOT_A_MEDICAL_DEVICE

    tpl = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_EXPORT)
    return str(tpl.render(m=meeting, notice=NOT_A_MEDICAL_DEVICE,
                          generated=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()))


def export_pdf(meeting: Meeting) -> bytes:
    """:func:`export_html` as PDF (weasyprint; ``pip install 'remission[board-pdf]'``)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise BoardError("PDF export needs weasyprint and the pango libraries "
                         "(pip install 'remission[board-pdf]'; apt-get install libpango-1.0-0 libpangoft2-1.0-0)") from exc
    pdf: bytes = weasyprint.HTML(string=export_html(meeting)).write_pdf()
    return pdf


_EXPORT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tumour board {{ m.date }}: {{ m.title }}</title>
<style>body{font-family:sans-serif;font-size:10pt;margin:2em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}.muted{color:#666}</style></head>
<body><h1>Tumour board {{ m.date }}: {{ m.title }}</h1>
<p>Attendees: {{ m.attendees | join(", ") or "–" }}</p>
<p class="muted">{{ notice }} Exported {{ generated }} UTC.</p>
<table><thead><tr><th>Patient</th><th>Version</th><th>Decision</th><th>Rationale</th><th>Dissent</th>
<th>Follow-up</th><th>Status</th></tr></thead><tbody>
{% for d in m.decisions %}<tr><td>{{ d.case_id }}</td><td>{{ d.version }}{% if d.supersedes %} (amends {{ d.supersedes }}){% endif %}{% if d.superseded_by %}; superseded by {{ d.superseded_by }}{% endif %}</td>
<td>{% for o in d.options %}{{ o }}<br>{% endfor %}{{ d.free_text }}</td><td>{{ d.rationale }}</td><td>{{ d.dissent or "–" }}</td>
<td>{{ d.follow_up or "–" }}</td><td>{{ d.status }}{% if d.signed_by %} by {{ d.signed_by }} {{ d.signed_at }}{% endif %}</td></tr>
{% endfor %}</tbody></table></body></html>
"""


def get_decision(store: Store, decision_id: str) -> Decision:
    r = store.read(lambda conn: conn.execute(
        sa.select(T.board_decisions).where(T.board_decisions.c.decision_id == decision_id)).first())
    if r is None:
        raise NotFound(f"no decision {decision_id!r}")
    return _decision(r)
