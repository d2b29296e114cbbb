"""The store: one class, :class:`Store`, over SQLite or PostgreSQL with the same code.

Guarantees (each tested on both back-ends, see ``tests/store``):

- **migrated on open**: the schema is brought to the newest Alembic revision shipped in
  ``remission/store/migrations``; two processes opening a new store at once are safe (SQLite:
  the migration runs inside ``BEGIN IMMEDIATE``; PostgreSQL: under an advisory lock, with
  transactional DDL).
- **one transaction per import**: :meth:`Store.save_analysis` writes the case, its samples,
  the analysis, its MRD rows and its inputs in one transaction; on any failure nothing is
  written and a :class:`~remission.errors.StoreError` is raised.
- **idempotent by content**: the key is SHA-256 of (case hash, parameters, remission
  version); saving the same content twice keeps one copy and returns ``created=False``.
- **concurrent writers lose nothing**: SQLite runs in WAL mode with a busy timeout and retries
  on ``database is locked``; PostgreSQL serialises writers of one case with an advisory lock
  and resolves a lost unique-key race by returning the row the other writer stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection, Engine

from remission.domain import CaseAnalysis, MrdResult
from remission.errors import StoreError
from remission.store import tables as T

__all__ = ["AnalysisSummary", "SaveResult", "Store", "content_key", "fault_hook"]

#: Test hook: when set, called with a stage name between the inserts of
#: :meth:`Store.save_analysis` (``"case"``, ``"samples"``, ``"analysis"``, ``"mrd"``,
#: ``"inputs"``); raising from it simulates a failure in the middle of an import.
fault_hook: Callable[[str], None] | None = None

_MIGRATION_LOCK = 0x52454D49  # "REMI": PostgreSQL advisory lock key for schema migrations
_RETRIES = 8
_SQLITE_BUSY_TIMEOUT_S = 30.0


def _checkpoint(stage: str) -> None:
    if fault_hook is not None:
        fault_hook(stage)


class SaveResult(BaseModel):
    """What :meth:`Store.save_analysis` did."""

    model_config = ConfigDict(frozen=True)

    analysis_id: str
    case_id: str
    created: bool


class AnalysisSummary(BaseModel):
    """One row of :meth:`Store.list_analyses`."""

    model_config = ConfigDict(frozen=True)

    analysis_id: str
    case_id: str
    analysed_at: dt.datetime
    remission_version: str
    knowledge_base_version: str | None = None
    sections: list[str]
    failed_sections: list[str] = []

    @property
    def partial(self) -> bool:
        """At least one engine failed: a partial analysis, kept by an explicit --allow-partial."""
        return bool(self.failed_sections)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_key(analysis: CaseAnalysis) -> str:
    """The idempotency key of an analysis: SHA-256 of case hash + parameters + version."""
    payload = _canonical({
        "case_sha256": analysis.case_sha256,
        "parameters": analysis.provenance.parameters,
        "remission_version": analysis.provenance.remission_version,
    })
    return hashlib.sha256(payload.encode()).hexdigest()


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` → ``postgresql+psycopg://`` (the installed driver)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _safe_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _reason(exc: BaseException) -> str:
    """The first line of the database's own message (driver errors are wrapped by SQLAlchemy)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _is_locked(exc: BaseException) -> bool:
    msg = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class Store:
    """The analysis store. Use as a context manager::

        with Store("sqlite:///remission.db") as st:
            saved = st.save_analysis(analysis)
            st.list_analyses()

    ``url`` is any SQLAlchemy URL; tested with ``sqlite:///FILE`` and
    ``postgresql+psycopg://USER@HOST:PORT/DB``.
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self._engine: Engine | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> Store:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("the store is not open (use `with Store(url) as st:`)")
        return self._engine

    def open(self) -> None:
        try:
            url = sa.make_url(self.url)
        except Exception as exc:
            raise StoreError(f"store URL {self.url!r} is not a database URL: {exc}") from None
        try:
            if url.get_backend_name() == "sqlite":
                db = url.database
                if db and db != ":memory:" and not db.startswith("file:"):
                    parent = Path(db).expanduser().resolve().parent
                    if not parent.is_dir():
                        raise StoreError(f"store {_safe_url(self.url)}: folder {parent} does not exist")
                engine = sa.create_engine(
                    url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S}
                )
                _sqlite_events(engine, in_memory=db in (None, "", ":memory:"))
            else:
                engine = sa.create_engine(url, pool_pre_ping=True)
        except StoreError:
            raise
        except Exception as exc:  # unknown dialect, missing driver
            raise StoreError(f"store {_safe_url(self.url)}: {_reason(exc)}") from None
        self._engine = engine
        try:
            self._retry(self._migrate)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        """A connection for reading (SQLite: a deferred ``BEGIN``, so readers never queue)."""
        with self.engine.connect() as conn:
            conn.execution_options(remission_readonly=True)
            yield conn

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (one transaction); retry when SQLite is locked or PostgreSQL reports a
        serialisation failure/deadlock; map every database error to :class:`StoreError`."""
        delay = 0.05
        for attempt in range(_RETRIES):
            try:
                return fn()
            except sa.exc.OperationalError as exc:
                pgcode = getattr(getattr(exc, "orig", None), "sqlstate", None)
                transient = _is_locked(exc) or pgcode in ("40001", "40P01")
                if not transient or attempt == _RETRIES - 1:
                    raise StoreError(f"store {_safe_url(self.url)}: {_reason(exc)}") from None
            except sa.exc.DBAPIError as exc:
                pgcode = getattr(getattr(exc, "orig", None), "sqlstate", None)
                if pgcode not in ("40001", "40P01") or attempt == _RETRIES - 1:
                    raise StoreError(f"store {_safe_url(self.url)}: {_reason(exc)}") from None
            except sa.exc.SQLAlchemyError as exc:
                raise StoreError(f"store {_safe_url(self.url)}: {_reason(exc)}") from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
        raise StoreError(f"store {_safe_url(self.url)}: gave up after {_RETRIES} attempts")  # pragma: no cover

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        # fast path: already at head (no lock taken)
        with self._reader() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                conn.rollback()
                return
            conn.rollback()
        with self._tx() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:k AS bigint))"),
                             {"k": _MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self._reader() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # -- writing -----------------------------------------------------------------------------------
    def save_analysis(self, analysis: CaseAnalysis, *,
                      check: Callable[[Connection], None] | None = None) -> SaveResult:
        """Save one analysis (its case, samples, MRD values and inputs) in one transaction.

        Idempotent: the same case content analysed with the same parameters and the same
        remission version is stored once; a second save returns ``created=False`` and the id
        of the stored copy. ``check(conn)`` runs first in the transaction, while writers of this
        case wait (SQLite: the write lock; PostgreSQL: the case's advisory lock); an exception
        it raises aborts the save (e.g. the inputs the analysis was made from have changed).
        """
        key = content_key(analysis)

        def attempt() -> SaveResult:
            try:
                with self._tx() as conn:
                    return self._save(conn, analysis, key, check)
            except sa.exc.IntegrityError:
                # another writer stored the same content between our check and our insert
                existing = self._find_key(key)
                if existing is not None:
                    return SaveResult(analysis_id=existing, case_id=analysis.case_id, created=False)
                raise

        result: SaveResult = self._retry(attempt)
        return result

    def _find_key(self, key: str) -> str | None:
        with self._reader() as conn:
            row = conn.execute(sa.select(T.analyses.c.analysis_id)
                               .where(T.analyses.c.content_key == key)).first()
            conn.rollback()
        return None if row is None else str(row[0])

    def _save(self, conn: Connection, analysis: CaseAnalysis, key: str,
              check: Callable[[Connection], None] | None = None) -> SaveResult:
        case_id = analysis.case_id
        if conn.dialect.name == "postgresql":
            # writers of one case go one after the other (released at commit/rollback)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:a AS integer), CAST(:b AS integer))"),
                         {"a": _MIGRATION_LOCK, "b": zlib.crc32(case_id.encode()) - (1 << 31)})
        if check is not None:
            check(conn)
        row = conn.execute(sa.select(T.analyses.c.analysis_id)
                           .where(T.analyses.c.content_key == key)).first()
        if row is not None:
            return SaveResult(analysis_id=str(row[0]), case_id=case_id, created=False)

        now = dt.datetime.now(dt.UTC)
        case_json = analysis.case.model_dump_json(by_alias=True)
        # the case row keeps the latest version of the case (by analysis time)
        current = conn.execute(sa.select(T.cases.c.updated_at)
                               .where(T.cases.c.case_id == case_id)).first()
        analysed_at = _utc(analysis.provenance.analysed_at)
        newest = current is None or _utc(current[0]) <= analysed_at
        if current is None:
            conn.execute(T.cases.insert().values(case_id=case_id, case_json=case_json,
                                                 updated_at=analysed_at))
        elif newest:
            conn.execute(T.cases.update().where(T.cases.c.case_id == case_id)
                         .values(case_json=case_json, updated_at=analysed_at))
        _checkpoint("case")

        if newest:
            conn.execute(T.samples.delete().where(T.samples.c.case_id == case_id))
            rows = [{"case_id": case_id, "sample_id": s.id, "date": s.date, "material": s.material,
                     "assay": s.assay, "role": s.role, "files_json": json.dumps(list(s.files)),
                     "parameters_json": _canonical(s.parameters)} for s in analysis.case.samples]
            if rows:
                conn.execute(T.samples.insert(), rows)
        _checkpoint("samples")

        analysis_id = key[:16]
        conn.execute(T.analyses.insert().values(
            analysis_id=analysis_id,
            case_id=case_id,
            content_key=key,
            case_sha256=analysis.case_sha256,
            analysed_at=analysed_at,
            stored_at=now,
            remission_version=analysis.provenance.remission_version,
            knowledge_base_version=analysis.provenance.knowledge_base_version,
            # names of the sections; a failed engine's name ends in "!" (a partial analysis)
            sections=json.dumps([s.name + ("!" if s.name in analysis.failed_steps else "")
                                 for s in analysis.sections]),
            analysis_json=analysis.model_dump_json(by_alias=True),
        ))
        _checkpoint("analysis")

        mrd_rows = [{
            "analysis_id": analysis_id, "case_id": case_id, "seq": i, "sample_id": m.sample_id,
            "date": m.date, "method": m.method, "status": m.status, "value": m.value,
            "lod": m.lod, "loq": m.loq, "marker": m.marker, "material": m.material,
            "timepoint": m.timepoint, "source": m.source, "details_json": _canonical(m.details),
        } for i, m in enumerate(analysis.mrd)]
        if mrd_rows:
            conn.execute(T.mrd_results.insert(), mrd_rows)
        _checkpoint("mrd")

        input_rows = {i.path: i.sha256 for i in analysis.provenance.inputs}
        if input_rows:
            conn.execute(T.inputs.insert(), [{"analysis_id": analysis_id, "path": p, "sha256": h}
                                             for p, h in input_rows.items()])
        _checkpoint("inputs")
        return SaveResult(analysis_id=analysis_id, case_id=case_id, created=True)

    def write(self, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn(conn)`` in one write transaction (retried when SQLite is busy or PostgreSQL
        reports a serialisation failure; database errors become :class:`StoreError`).
        Used by the application layer for its own tables (users, audit log, board)."""
        def attempt() -> Any:
            with self._tx() as conn:
                return fn(conn)

        return self._retry(attempt)

    def read(self, fn: Callable[[Connection], Any]) -> Any:
        """Run ``fn(conn)`` on a read-only connection (see :meth:`write`)."""
        return self._read(fn)

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        def attempt() -> Any:
            with self._reader() as conn:
                try:
                    return fn(conn)
                finally:
                    conn.rollback()

        return self._retry(attempt)

    def list_analyses(self, case_id: str | None = None) -> list[AnalysisSummary]:
        """Every stored analysis (optionally of one case), oldest first."""
        a = T.analyses.c
        q = sa.select(a.analysis_id, a.case_id, a.analysed_at, a.remission_version,
                      a.knowledge_base_version, a.sections).order_by(a.analysed_at, a.analysis_id)
        if case_id is not None:
            q = q.where(a.case_id == case_id)
        rows = self._read(lambda conn: conn.execute(q).all())
        out = []
        for r in rows:
            names = json.loads(r.sections)
            out.append(AnalysisSummary(
                analysis_id=r.analysis_id, case_id=r.case_id, analysed_at=_utc(r.analysed_at),
                remission_version=r.remission_version, knowledge_base_version=r.knowledge_base_version,
                sections=[n.rstrip("!") for n in names],
                failed_sections=[n.rstrip("!") for n in names if n.endswith("!")]))
        return out

    def resolve_id(self, analysis_id: str) -> str:
        """The full id of a stored analysis from its id or a unique prefix (>= 6 characters)."""
        a = T.analyses.c

        def find(conn: Connection) -> list[str]:
            exact = conn.execute(sa.select(a.analysis_id).where(a.analysis_id == analysis_id)).first()
            if exact is not None:
                return [str(exact[0])]
            if len(analysis_id) < 6 or not analysis_id.isalnum():
                return []
            rows = conn.execute(sa.select(a.analysis_id)
                                .where(a.analysis_id.startswith(analysis_id, autoescape=True))
                                .limit(2)).all()
            return [str(r[0]) for r in rows]

        found = self._read(find)
        if not found:
            raise StoreError(f"no analysis with id {analysis_id!r} in store {_safe_url(self.url)}")
        if len(found) > 1:
            raise StoreError(f"analysis id prefix {analysis_id!r} is ambiguous; give more characters")
        return found[0]

    def get_analysis(self, analysis_id: str) -> CaseAnalysis:
        """The stored :class:`~remission.domain.CaseAnalysis`, exactly as it was saved."""
        full = self.resolve_id(analysis_id)
        row = self._read(lambda conn: conn.execute(
            sa.select(T.analyses.c.analysis_json).where(T.analyses.c.analysis_id == full)).first())
        if row is None:  # pragma: no cover - deleted between the two reads
            raise StoreError(f"no analysis with id {analysis_id!r} in store {_safe_url(self.url)}")
        return CaseAnalysis.model_validate_json(row[0])

    def mrd_results(self, case_id: str | None = None, method: str | None = None, *,
                    analysis_id: str | None = None, latest: bool = True) -> list[MrdResult]:
        """MRD values as :class:`~remission.domain.MrdResult`, by date.

        By default from the latest analysis of each case (``latest=False``: from every
        analysis; ``analysis_id``: from that one analysis only).
        """
        m, a = T.mrd_results.c, T.analyses.c
        q = sa.select(T.mrd_results)
        if case_id is not None:
            q = q.where(m.case_id == case_id)
        if method is not None:
            q = q.where(m.method == method)
        if analysis_id is not None:
            q = q.where(m.analysis_id == self.resolve_id(analysis_id))
        elif latest:
            newest = (sa.select(a.case_id, sa.func.max(a.analysed_at).label("at"))
                      .group_by(a.case_id).subquery())
            latest_ids = (sa.select(sa.func.max(a.analysis_id))
                          .join(newest, sa.and_(a.case_id == newest.c.case_id,
                                                a.analysed_at == newest.c.at))
                          .group_by(a.case_id))
            q = q.where(m.analysis_id.in_(latest_ids))
        q = q.order_by(m.case_id, m.date, m.analysis_id, m.seq)
        rows = self._read(lambda conn: conn.execute(q).all())
        return [MrdResult(method=r.method, status=r.status, value=r.value, lod=r.lod, loq=r.loq,
                          sample_id=r.sample_id, date=r.date, material=r.material, marker=r.marker,
                          timepoint=r.timepoint, source=r.source,
                          details=json.loads(r.details_json)) for r in rows]

    def counts(self) -> dict[str, int]:
        """Row count of every table (used by tests and ``store list --json``)."""
        def count(conn: Connection) -> dict[str, int]:
            return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                    for t in (T.cases, T.samples, T.analyses, T.mrd_results, T.inputs)}

        out: dict[str, int] = self._read(count)
        return out

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted (tests compare dumps before and after a failure)."""
        def rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
            return {t.name: sorted((tuple(r) for r in conn.execute(sa.select(t)).all()), key=repr)
                    for t in (T.cases, T.samples, T.analyses, T.mrd_results, T.inputs)}

        out: dict[str, list[tuple[Any, ...]]] = self._read(rows)
        return out


def _sqlite_events(engine: Engine, *, in_memory: bool) -> None:
    """SQLite: real transactions (``BEGIN IMMEDIATE``, so DDL is transactional and writers
    queue on the busy timeout instead of failing on lock upgrade), WAL, foreign keys."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below control transactions
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if not in_memory:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("remission_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
