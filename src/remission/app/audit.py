"""The audit log: append-only and hash-chained.

Every row stores who (``actor``), when (UTC ``at``), what (``action``, ``target``, ``outcome``,
``detail``) and from where (``address``), plus ``prev_hash`` (the previous row's hash) and
``hash`` = SHA-256 of ``prev_hash`` and the row's canonical JSON. Rows get consecutive sequence
numbers starting at 1. :func:`verify` recomputes the chain: a changed row breaks its own hash,
a deleted row leaves a gap in the sequence and breaks the next row's ``prev_hash``. Deleting the
newest rows leaves a valid shorter chain, so :func:`verify` reports the head hash and the row
count for the operator to record elsewhere (OWASP ASVS 5.0 V16.4.2/16.4.3: protect logs from
change and ship them to a separate system).

Text fields are stored as given (the database is not a terminal); they are JSON-encoded into the
hash and escaped when shown, which is what keeps control characters from forging entries
(ASVS V16.4.1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.store import Store
from remission.store import tables as T

__all__ = ["GENESIS", "AuditEntry", "AuditReport", "append", "entries", "record", "verify"]

#: ``prev_hash`` of the first row
GENESIS = "0" * 64
#: PostgreSQL advisory lock key that serialises appends (SQLite: BEGIN IMMEDIATE does it)
_AUDIT_LOCK = 0x41554454  # "AUDT"


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str
    address: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditReport(BaseModel):
    """What :func:`verify` found."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    rows: int
    head: str
    problems: list[str]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _digest(prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, target: str,
            outcome: str, address: str, detail: str) -> str:
    body = json.dumps([seq, _utc(at).isoformat(timespec="microseconds"), actor, action, target,
                       outcome, address, detail], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(conn: Connection, *, actor: str, action: str, target: str = "", outcome: str = "ok",
           address: str = "", detail: dict[str, Any] | None = None,
           now: dt.datetime | None = None) -> int:
    """Append one row inside the caller's transaction (so the audit row and the change it
    records commit together); returns its sequence number."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:k AS bigint))"), {"k": _AUDIT_LOCK})
    last = conn.execute(sa.select(T.audit_log.c.seq, T.audit_log.c.hash)
                        .order_by(T.audit_log.c.seq.desc()).limit(1)).first()
    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    at = _utc(now or dt.datetime.now(dt.UTC))
    detail_text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
    actor, action, target, outcome, address = actor[:80], action[:60], target[:400], outcome[:20], address[:100]
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target,
           "outcome": outcome, "address": address, "detail": detail_text}
    h = _digest(prev, seq, at, actor, action, target, outcome, address, detail_text)
    conn.execute(T.audit_log.insert().values(**row, prev_hash=prev, hash=h))
    return seq


def record(store: Store, **fields: Any) -> int:
    """Append one row in its own transaction (see :func:`append` for the fields)."""
    return int(store.write(lambda conn: append(conn, **fields)))


def entries(store: Store, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest rows first."""
    a = T.audit_log.c
    q = sa.select(T.audit_log).order_by(a.seq.desc()).limit(limit)
    if action:
        q = q.where(a.action == action)
    rows = store.read(lambda conn: conn.execute(q).all())
    return [AuditEntry(seq=r.seq, at=_utc(r.at), actor=r.actor, action=r.action, target=r.target,
                       outcome=r.outcome, address=r.address, detail=json.loads(r.detail),
                       prev_hash=r.prev_hash, hash=r.hash) for r in rows]


def verify(store: Store) -> AuditReport:
    """Recompute the whole chain; every broken link is one line in ``problems``."""
    rows = store.read(lambda conn: conn.execute(
        sa.select(T.audit_log).order_by(T.audit_log.c.seq)).all())
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for r in rows:
        if r.seq != expected_seq:
            problems.append(f"row {expected_seq}" + (f" to {r.seq - 1}" if r.seq - 1 > expected_seq else "")
                            + " missing (deleted)")
        if r.prev_hash != prev:
            problems.append(f"row {r.seq}: prev_hash does not match the previous row's hash")
        h = _digest(r.prev_hash, r.seq, r.at, r.actor, r.action, r.target, r.outcome, r.address, r.detail)
        if h != r.hash:
            problems.append(f"row {r.seq}: contents changed (hash mismatch)")
        prev, expected_seq = r.hash, r.seq + 1
    return AuditReport(ok=not problems, rows=len(rows), head=prev, problems=problems)
