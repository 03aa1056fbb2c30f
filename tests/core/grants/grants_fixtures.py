"""Grant tables on engines of their own (the demo-city migrations do not hold them yet), rolled back per test.

Test modules take these with ``from grants_fixtures import *``. Not a ``conftest.py``: test
modules elsewhere import the root conftest by name, and a second ``conftest`` module shadows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from grants_helpers import create_tables
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from xc_testing import postgres_schema, rolled_back_session
from xingcheng.core.db import create_db_engine

__all__ = ["grants_pg", "grants_sqlite", "pg_session", "session"]


@pytest.fixture(scope="session")
def grants_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("grants") / "grants.db"
    engine = create_db_engine(f"sqlite:///{path}")
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def grants_pg() -> Iterator[Engine]:
    with postgres_schema("xc_grants") as engine:
        create_tables(engine)
        yield engine


@pytest.fixture
def session(grants_sqlite: Engine) -> Iterator[Session]:
    yield from rolled_back_session(grants_sqlite)


@pytest.fixture
def pg_session(grants_pg: Engine) -> Iterator[Session]:
    yield from rolled_back_session(grants_pg)
