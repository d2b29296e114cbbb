"""Migrations match the table definitions; SQLite writers wait for a lock instead of failing;
the content key depends on exactly case hash, parameters and version."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.domain import CaseAnalysis
from remission.store import Store, content_key
from remission.store.tables import metadata

from .conftest import make_case


def test_migrations_match_table_definitions(store_url):
    """Alembic's autogenerate finds no difference between the migrated schema and tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with Store(store_url) as s, s.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(store_url):
    from alembic import command
    from alembic.config import Config

    import remission.store.core as core

    with Store(store_url) as s:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(core.__file__).parent / "migrations"))
        with s.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert s.schema_revision() is None
    with Store(store_url) as s:  # reopening migrates to head again
        assert s.schema_revision() == "0006"


def test_sqlite_writer_waits_for_a_held_lock(tmp_path, analysis_of):
    """Another connection holds the write lock for 1 s: the save waits (busy timeout) and
    succeeds instead of failing with 'database is locked'."""
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    with Store(url):
        pass
    held = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(1.0)
        con.execute("COMMIT")
        con.close()

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    start = time.monotonic()
    with Store(url) as s:
        assert s.save_analysis(analysis_of(make_case("P1"))).created
    waited = time.monotonic() - start
    t.join()
    assert waited >= 0.5  # it did wait for the other writer's lock


@functools.cache
def _base() -> CaseAnalysis:
    """One real analysis (built on first use, not at import)."""
    from remission.pipeline import analyze_case

    return analyze_case(make_case("P1"), Path("."))


_json = st.recursive(st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
                     lambda kids: st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=6)


@settings(max_examples=40, deadline=None)
@given(p1=st.dictionaries(st.text(min_size=1, max_size=5), _json, max_size=3),
       p2=st.dictionaries(st.text(min_size=1, max_size=5), _json, max_size=3))
def test_content_key_is_equal_iff_parameters_equal(p1, p2):
    # the property varies only what the key may depend on (and the analysis time)
    base = _base()
    a1, a2 = (base.model_copy(update={"provenance": base.provenance.model_copy(
        update={"parameters": p, "analysed_at": base.provenance.analysed_at + dt.timedelta(seconds=i)})})
        for i, p in enumerate((p1, p2)))
    # JSON equality (True and 1 are equal in Python but not as stored parameters)
    same = json.dumps(p1, sort_keys=True) == json.dumps(p2, sort_keys=True)
    assert (content_key(a1) == content_key(a2)) == same


def test_content_key_changes_with_version_and_case(analysis_of):
    a = analysis_of(make_case("P1"))
    other_version = a.model_copy(update={"provenance": a.provenance.model_copy(
        update={"remission_version": "9.9.9"})})
    other_case = analysis_of(make_case("P2"))
    keys = {content_key(a), content_key(other_version), content_key(other_case)}
    assert len(keys) == 3


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_plain_postgres_urls_use_psycopg(url):
    from remission.store.core import normalise_url

    assert normalise_url(url) == "postgresql+psycopg://u@h/db"
