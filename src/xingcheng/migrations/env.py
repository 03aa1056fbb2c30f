"""Alembic environment: the engine comes from the caller (``xingcheng db upgrade``) or the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from xingcheng.core.db import create_db_engine
from xingcheng.migrations.metadata import target_metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_db_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
