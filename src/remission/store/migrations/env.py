"""Alembic environment of the ``remission`` store.

Run programmatically by :class:`remission.store.Store` (no ``alembic.ini`` needed): the store
passes an open connection, already inside its transaction and holding the migration lock, in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from remission.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or use remission.store.Store(url)")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
