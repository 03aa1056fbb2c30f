"""Grant tables on engines of their own (the demo-city migrations do not hold them yet), rolled back per test.

Test modules take these with ``from grants_fixtures import *``. Not a ``conftest.py``: test
modules elsewhere import the root conftest by name, and a second ``conftest`` module shadows it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from grants_helpers import PG_BASE_URL, PG_HOST, PG_PORT, create_tables
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _services import require_tcp
from xingcheng.core.auth import ROLE_PERMISSIONS, Role
from xingcheng.core.db import create_db_engine

__all__ = ["_grant_permissions", "grants_pg", "grants_sqlite", "pg_session", "session"]

# The permissions this package asks the lead to add to ROLE_PERMISSIONS; applied here until then.
PROPOSED = {Role.ADMIN: {"grants:read"}, Role.DATA_STEWARD: {"grants:read", "grants:manage"}}


@pytest.fixture(autouse=True)
def _grant_permissions(monkeypatch: pytest.MonkeyPatch) -> None:
    for role, extra in PROPOSED.items():
        monkeypatch.setitem(ROLE_PERMISSIONS, role, ROLE_PERMISSIONS[role] | extra)


@pytest.fixture(scope="session")
def grants_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("grants") / "grants.db"
    engine = create_db_engine(f"sqlite:///{path}")
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def grants_pg() -> Iterator[Engine]:
    require_tcp("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"xc_grants_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_BASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(PG_BASE_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_tables(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _rolled_back(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def session(grants_sqlite: Engine) -> Iterator[Session]:
    yield from _rolled_back(grants_sqlite)


@pytest.fixture
def pg_session(grants_pg: Engine) -> Iterator[Session]:
    yield from _rolled_back(grants_pg)
