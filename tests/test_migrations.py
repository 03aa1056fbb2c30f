"""The migrations build exactly the schema the models declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from xingcheng.core.migrate import is_current
from xingcheng.migrations.metadata import target_metadata


def _drift(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target_metadata))


def test_sqlite_schema_matches_models(sqlite_engine):
    assert is_current(sqlite_engine)
    assert _drift(sqlite_engine) == []


def test_postgres_schema_matches_models(pg_engine):
    assert is_current(pg_engine)
    assert _drift(pg_engine) == []
