"""Helpers shared by test modules (a unique name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _services import require_tcp
from xingcheng.core.db import create_db_engine

DEMO_PASSWORDS = {
    "admin": "Admin@2026", "steward": "Steward@2026", "clerk": "Clerk@2026",
    "operator": "Operator@2026", "citizen": "Citizen@2026", "enterprise": "Enterprise@2026",
}


def login(test_client, username: str, password: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Bearer headers for a demo user."""
    response = test_client.post(
        "/api/v1/auth/token", data={"username": username, "password": password or DEMO_PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# ---- databases of a test's own ---------------------------------------------------------------

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_BASE_URL = os.environ.get("XC_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test")


def schema_connect_args(schema: str) -> dict[str, str]:
    """psycopg connect arguments that put a session in ``schema``."""
    return {"options": f"-csearch_path={schema}"}


@contextmanager
def postgres_schema_name(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema's name, dropped afterwards (fails under CI=true when unreachable)."""
    require_tcp("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_BASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def postgres_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema, dropped afterwards."""
    with postgres_schema_name(prefix) as schema:
        engine = create_db_engine(PG_BASE_URL, connect_args=schema_connect_args(schema))
        try:
            yield engine
        finally:
            engine.dispose()


def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back at the end.

    Services flush and the edge commits; a commit here only releases a savepoint.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def session_dependency(session: Session) -> Callable[[], Iterator[Session]]:
    """A stand-in for ``core.deps.get_session`` that runs requests in the test's own session."""

    def override() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    return override


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
