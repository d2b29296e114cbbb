"""Per-patient access control: who may see which patient (OWASP ASVS 5.0 8.2.2, data-level
access against IDOR/BOLA), enforced here in the application layer (8.3.1) so that the pages and
the JSON API share one rule.

**The rule** (conservative; an account sees nothing it was not given):

1. A person sees a patient's data — the list row, the patient page, results, board summaries,
   decisions, exports — only when an admin *granted* them that patient
   (``remission access grant NAME CASE_ID`` or the Access page), or granted them every patient
   (``--all``, stored as case id ``*``: meant for a small unit, a laboratory that handles every
   sample, or the demo). No role sees patient data by its role alone.
2. **Admins** manage accounts, access and the audit log; like everyone else they see patient
   data only where they granted it to themselves, and such a grant is itself in the audit log.
3. What a person may *do* with a patient they see is still their role's rule (the laboratory
   uploads and signs off, clinicians record and sign board decisions; ``remission.web.deps``).
4. **Board meetings**: the list of meetings (date, title, attendees) is shown to every logged-in
   account; inside a meeting, and in its exports, only the patients one may see are shown, with
   their decisions; the others are counted as "not shown". Adding a patient, recording, signing
   or amending a decision needs access to that patient.
5. A refused access answers exactly like an unknown id (``NotFound``, HTTP 404: no existence
   leak) and is written to the audit log as ``access.denied`` with outcome ``denied``.

Every use case that takes a patient, result, decision or meeting id goes through a
:class:`Guard` built for the logged-in account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.app.auth import User
from remission.app.board import Decision, Meeting, get_decision, get_meeting
from remission.app.jobs import Job, get_job
from remission.app.patients import NotFound, PatientRow, latest_id, latest_with_id, list_patients
from remission.app.results import AssayResult, get_result
from remission.domain import CaseAnalysis
from remission.errors import ValidationError
from remission.store import Store
from remission.store import tables as T


class _OfPatient(Protocol):
    @property
    def case_id(self) -> str: ...


_T = TypeVar("_T", bound=_OfPatient)

__all__ = ["ALL_PATIENTS", "Grant", "Guard", "Scope", "grant", "list_grants", "revoke", "scope_of"]

#: the case id of a grant to every patient
ALL_PATIENTS = "*"


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    case_id: str  # "*" = every patient
    granted_by: str
    granted_at: dt.datetime


@dataclass(frozen=True)
class Scope:
    """The patients one account may see: every patient, or the listed ones."""

    every: bool
    cases: frozenset[str]

    def allows(self, case_id: str) -> bool:
        return self.every or case_id in self.cases

    def only(self) -> Collection[str] | None:
        """The filter for lists (``None`` = no filter)."""
        return None if self.every else self.cases


def _utc(v: dt.datetime) -> dt.datetime:
    return v.astimezone(dt.UTC) if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)


def _user_id(conn: Connection, username: str) -> int:
    uid = conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == username)).scalar()
    if uid is None:
        raise ValidationError(f"no user {username!r}")
    return int(uid)


def grant(store: Store, username: str, case_id: str, *, actor: str, address: str) -> bool:
    """Let ``username`` see patient ``case_id`` (``"*"``: every patient); returns whether the grant
    is new. The patient must exist (except for ``"*"``)."""
    case_id = case_id.strip()
    if not case_id or len(case_id) > 200:
        raise ValidationError(f"patient id must be 1-200 characters, but was {case_id!r}")
    pa = T.patient_access.c

    def tx(conn: Connection) -> bool:
        uid = _user_id(conn, username)
        if case_id != ALL_PATIENTS and conn.execute(
                sa.select(T.cases.c.case_id).where(T.cases.c.case_id == case_id)).first() is None:
            raise ValidationError(f"no patient {case_id!r}")
        if conn.execute(sa.select(pa.case_id).where(pa.user_id == uid, pa.case_id == case_id)).first():
            return False
        conn.execute(T.patient_access.insert().values(user_id=uid, case_id=case_id, granted_by=actor,
                                                      granted_at=dt.datetime.now(dt.UTC)))
        audit.append(conn, actor=actor, action="access.grant", target=f"user:{username}", address=address,
                     detail={"patient": case_id})
        return True

    return bool(store.write(tx))


def revoke(store: Store, username: str, case_id: str, *, actor: str, address: str) -> bool:
    """Withdraw one grant (``"*"`` withdraws only the every-patient grant); returns whether it
    existed."""
    pa = T.patient_access.c

    def tx(conn: Connection) -> bool:
        uid = _user_id(conn, username)
        n = conn.execute(T.patient_access.delete().where(pa.user_id == uid, pa.case_id == case_id)).rowcount
        audit.append(conn, actor=actor, action="access.revoke", target=f"user:{username}", address=address,
                     outcome="ok" if n else "none", detail={"patient": case_id})
        return bool(n)

    return bool(store.write(tx))


def list_grants(store: Store, username: str | None = None) -> list[Grant]:
    pa, u = T.patient_access.c, T.users.c
    q = (sa.select(u.username, pa.case_id, pa.granted_by, pa.granted_at)
         .join(T.users, u.user_id == pa.user_id).order_by(u.username, pa.case_id))
    if username is not None:
        q = q.where(u.username == username)
    rows = store.read(lambda conn: conn.execute(q).all())
    return [Grant(username=r.username, case_id=r.case_id, granted_by=r.granted_by,
                  granted_at=_utc(r.granted_at)) for r in rows]


def scope_of(store: Store, user_id: int) -> Scope:
    pa = T.patient_access.c
    cases = frozenset(store.read(lambda conn: conn.execute(
        sa.select(pa.case_id).where(pa.user_id == user_id)).scalars().all()))
    return Scope(every=ALL_PATIENTS in cases, cases=cases - {ALL_PATIENTS})


class Guard:
    """One account's view of patient data; every id-taking use case of the web goes through it.

    Each check raises :class:`~remission.app.patients.NotFound` with the message an unknown id
    gets, after writing ``access.denied`` to the audit log.
    """

    def __init__(self, store: Store, user: User, address: str) -> None:
        self.store, self.user, self.address = store, user, address
        self._scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            self._scope = scope_of(self.store, self.user.user_id)
        return self._scope

    def _deny(self, target: str, message: str, what: str) -> NotFound:
        audit.record(self.store, actor=self.user.username, action="access.denied", target=target,
                     outcome="denied", address=self.address, detail={"what": what})
        return NotFound(message)

    def patient(self, case_id: str, *, what: str = "patient") -> None:
        """Refuse (404) a patient this account may not see."""
        if not self.scope.allows(case_id):
            raise self._deny(f"patient:{case_id}", f"no patient {case_id!r}", what)

    def view_patient(self, case_id: str, *, via: str) -> tuple[str, CaseAnalysis]:
        """(analysis id, analysis) of the newest analysis, with the ``patient.view`` audit row."""
        self.patient(case_id, what=f"patient.view {via}")
        analysis_id, analysis = latest_with_id(self.store, case_id)
        audit.record(self.store, actor=self.user.username, action="patient.view", target=f"patient:{case_id}",
                     address=self.address, detail={"via": via} if via != "page" else None)
        return analysis_id, analysis

    def view_patient_id(self, case_id: str, *, via: str) -> str:
        """The id of the newest analysis, with the ``patient.view`` audit row (for the page, which
        shows the analysis's stored rendering and so parses no analysis)."""
        self.patient(case_id, what=f"patient.view {via}")
        analysis_id = latest_id(self.store, case_id)
        audit.record(self.store, actor=self.user.username, action="patient.view", target=f"patient:{case_id}",
                     address=self.address, detail={"via": via} if via != "page" else None)
        return analysis_id

    def list_patients(self, **filters: Any) -> tuple[list[PatientRow], int]:
        """:func:`~remission.app.patients.list_patients` restricted to this account's patients."""
        return list_patients(self.store, only=self.scope.only(), **filters)

    def _owned(self, get: Callable[[Store, str], _T], kind: str, object_id: str, what: str) -> _T:
        """The ``kind`` object ``object_id`` (``get``), refused like an unknown id when it is
        unknown or belongs to a patient this account may not see."""
        try:
            obj: _T | None = get(self.store, object_id)
        except NotFound:
            obj = None
        if obj is None or not self.scope.allows(obj.case_id):
            target = f"patient:{obj.case_id}" if obj is not None else f"{kind}:{object_id}"
            raise self._deny(target, f"no {kind} {object_id!r}", what)
        return obj

    def result(self, result_id: str, *, what: str = "result") -> AssayResult:
        return self._owned(get_result, "result", result_id, what)

    def decision(self, decision_id: str, *, what: str = "decision") -> Decision:
        return self._owned(get_decision, "decision", decision_id, what)

    def job(self, job_id: str, *, what: str = "job") -> Job:
        return self._owned(get_job, "job", job_id, what)

    def meeting(self, meeting_id: str) -> tuple[Meeting, int]:
        """The meeting with only the patients (and their decisions) this account may see, and
        the number of patients not shown."""
        m = get_meeting(self.store, meeting_id)
        cases = [c for c in m.cases if self.scope.allows(c)]
        decisions = [d for d in m.decisions if self.scope.allows(d.case_id)]
        return m.model_copy(update={"cases": cases, "decisions": decisions}), len(m.cases) - len(cases)
