"""Shared fixtures: the small demo city built once per test run, per-test rollback, API clients by role.

The demo city is built once (a template SQLite file; the first xdist worker builds it under a
file lock, the others copy it). Each test runs inside an outer transaction that is rolled back,
so tests never see each other's writes. PostgreSQL fixtures give each worker its own schema.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

# Settings are read from the environment: point the data dir somewhere disposable before import.
# Always a throwaway directory of this process's own (xdist workers inherit the master's
# environment, and the DuckDB observation store admits one process per file).
_TEST_DATA_DIR = Path(f"/tmp/xc-test-data-{os.getpid()}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
os.environ["XC_DATA_DIR"] = str(_TEST_DATA_DIR)
os.environ.setdefault("XC_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
# Test apps run their lifespan against the (unmigrated) default data dir: no background sequencer
# there. Tests of the sequencer start their own.
os.environ.setdefault("XC_AUDIT__SEQUENCER_ENABLED", "false")
os.environ.setdefault("XC_API__SETTLE_HEAP", "false")  # see core.heap: test apps are short-lived

from xc_testing import login, postgres_schema, rolled_back_session, session_dependency  # noqa: E402
from xingcheng.core.db import Database, create_db_engine, get_database  # noqa: E402
from xingcheng.core.settings import get_settings  # noqa: E402

DEMO_SEED = 42


def build_city(engine: Engine) -> None:
    """Migrate and load the small demo city into ``engine`` (files go to this process's data dir)."""
    from xingcheng.core.migrate import upgrade
    from xingcheng.demo.runner import load_demo
    from xingcheng.modules import MODULES

    upgrade(engine)
    load_demo(Database(engine), MODULES, seed=DEMO_SEED, scale="small")
    # Release what the demo opened for the process (the DuckDB store), so files can be copied.
    for module in MODULES:
        if module.on_shutdown is not None:
            module.on_shutdown()


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The small demo city as a data directory (SQLite file, Parquet lake, observation store, keys),
    built once for all workers under a file lock."""
    shared = tmp_path_factory.getbasetemp().parent if worker_id != "master" else tmp_path_factory.getbasetemp()
    template = shared / "xc-template"
    with (shared / "xc-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = shared / "xc-template.building"
            building.mkdir()
            engine = create_db_engine(f"sqlite:///{building / 'xingcheng.db'}")
            build_city(engine)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            # The demo wrote its files into this worker's data dir: they belong to the template.
            for item in _TEST_DATA_DIR.iterdir():
                if item.name != "xingcheng.db" and not item.name.startswith("xingcheng.db-"):
                    copy = shutil.copytree if item.is_dir() else shutil.copy2
                    copy(item, building / item.name)
            building.rename(template)
    return template


@pytest.fixture(scope="session")
def sqlite_engine(template_dir: Path) -> Iterator[Engine]:
    """This worker's own copy of the demo city, in its own data dir."""
    shutil.copytree(template_dir, _TEST_DATA_DIR, dirs_exist_ok=True)
    engine = create_db_engine(f"sqlite:///{_TEST_DATA_DIR / 'xingcheng.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(worker_id: str, template_dir: Path) -> Iterator[Engine]:
    """This worker's own PostgreSQL schema holding the small demo city."""
    # Encrypted columns are sealed with the keys in this worker's data dir, and ``sqlite_engine``
    # later copies the template's keys over them: take the template's keys first, so the PG city is
    # sealed with the keys every later fixture keeps (only keys/, the rest stays as it was).
    if (template_dir / "keys").is_dir():
        shutil.copytree(template_dir / "keys", _TEST_DATA_DIR / "keys", dirs_exist_ok=True)
    with postgres_schema(f"xc_{worker_id}") as engine:
        build_city(engine)
        yield engine


@pytest.fixture
def db(sqlite_engine: Engine) -> Iterator[Session]:
    """A session on the demo city (SQLite); everything it writes is rolled back after the test."""
    yield from rolled_back_session(sqlite_engine)


@pytest.fixture
def pg_db(pg_engine: Engine) -> Iterator[Session]:
    """A session on the demo city (PostgreSQL); everything it writes is rolled back after the test."""
    yield from rolled_back_session(pg_engine)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The same test on SQLite and on PostgreSQL."""
    name = "db" if request.param == "sqlite" else "pg_db"
    yield request.getfixturevalue(name)


@pytest.fixture(scope="session")
def api_app():  # type: ignore[no-untyped-def]
    """The FastAPI app without the web UI (the UI has its own browser tests)."""
    from xingcheng.app import create_app

    return create_app(with_ui=False)


def _client_for(app, session: Session):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from xingcheng.core.deps import get_session

    app.dependency_overrides[get_session] = session_dependency(session)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(api_app, any_db: Session) -> Iterator:  # type: ignore[no-untyped-def]
    """An HTTP client whose requests run in the test's rolled-back session, on SQLite and on PostgreSQL."""
    with _client_for(api_app, any_db) as test_client:
        yield test_client
    api_app.dependency_overrides.clear()


@pytest.fixture
def sqlite_client(api_app, db: Session) -> Iterator:  # type: ignore[no-untyped-def]
    """An HTTP client on SQLite only (for tests whose subject is not the database)."""
    with _client_for(api_app, db) as test_client:
        yield test_client
    api_app.dependency_overrides.clear()


# Access tokens are stateless JWTs for demo accounts that every test database holds with the
# same ids, so one login per user and backend serves the whole run (Argon2 is slow on purpose).
_TOKENS: dict[tuple[str, str], dict[str, str]] = {}


@pytest.fixture
def auth(client, any_db: Session):  # type: ignore[no-untyped-def]
    """``auth("admin")`` → bearer headers for that demo user."""
    backend = any_db.get_bind().engine.url.get_backend_name()

    def headers(username: str) -> dict[str, str]:
        if (backend, username) not in _TOKENS:
            _TOKENS[(backend, username)] = login(client, username)
        return _TOKENS[(backend, username)]

    return headers


@pytest.fixture(autouse=True, scope="session")
def _isolated_settings() -> Iterator[None]:
    get_settings.cache_clear()
    get_database.cache_clear()
    _TEST_DATA_DIR.mkdir(parents=True, exist_ok=True)
    yield
