"""Ledger databases of their own: a fresh SQLite file or a fresh PostgreSQL schema with only the audit tables.

The demo-city fixtures build from migrations, which do not hold the audit tables yet, so
these tests create them with ``Base.metadata.create_all`` on engines they own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from audit_test_helpers import LedgerDb, create_audit_tables

from xc_testing import PG_BASE_URL, postgres_schema_name, schema_connect_args
from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.signing import Signer


@pytest.fixture
def make_ledger_db(tmp_path: Path) -> Iterator[Callable[[str], LedgerDb]]:
    """``make_ledger_db("sqlite" | "postgres")`` → an empty ledger; PostgreSQL skips when unreachable."""
    with ExitStack() as cleanups:

        def make(backend: str) -> LedgerDb:
            if backend == "sqlite":
                db = LedgerDb("sqlite", f"sqlite:///{tmp_path / f'audit-{uuid.uuid4().hex[:6]}.db'}")
            else:
                schema = cleanups.enter_context(postgres_schema_name("xc_audit"))
                db = LedgerDb("postgres", PG_BASE_URL, schema_connect_args(schema))
            cleanups.callback(db.engine.dispose)  # runs before its schema is dropped
            create_audit_tables(db.engine)
            return db

        yield make


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, make_ledger_db: Callable[[str], LedgerDb]) -> LedgerDb:
    """The same test on a SQLite file and on a PostgreSQL schema."""
    return make_ledger_db(request.param)


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def audit_settings() -> AuditSettings:
    return AuditSettings(batch_size=10_000, merge_delay=0.05, max_merge_delay=60)


@pytest.fixture
def audit_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``audit_env(signing_key_file=...)`` sets ``XC_AUDIT__*`` and re-reads settings (``get_settings`` is cached
    once the application nests ``AuditSettings`` in ``Settings``)."""
    from xingcheng.core.settings import get_settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"XC_AUDIT__{name.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()  # before monkeypatch restores the environment: the next read sees the original
