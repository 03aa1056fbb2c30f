"""IoT fixtures: a private observation store per test, wired into the API in place of the process's store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xc_testing import PG_BASE_URL, postgres_schema_name, schema_connect_args
from xingcheng.iot.store import DuckDBObservationStore, ObservationStore, request_store
from xingcheng.iot.store_pg import PostgresObservationStore, psycopg_conninfo


@pytest.fixture
def iot_store(tmp_path) -> Iterator[DuckDBObservationStore]:  # type: ignore[no-untyped-def]
    store = DuckDBObservationStore(tmp_path / "observations.duckdb")
    yield store
    store.close()


@pytest.fixture
def pg_store() -> Iterator[PostgresObservationStore]:
    """A private PostgreSQL observation store (its own schema, dropped afterwards)."""
    with postgres_schema_name("iotstore") as schema:
        store = PostgresObservationStore(psycopg_conninfo(PG_BASE_URL), options=schema_connect_args(schema)["options"])
        yield store
        store.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> ObservationStore:
    """The same test on the DuckDB store and on the PostgreSQL store."""
    return request.getfixturevalue("iot_store" if request.param == "duckdb" else "pg_store")  # type: ignore[no-any-return]


@pytest.fixture
def api_store(api_app, iot_store: DuckDBObservationStore) -> Iterator[DuckDBObservationStore]:  # type: ignore[no-untyped-def]
    """The test's store behind the API (the process store would outlive the rolled-back registry rows)."""
    api_app.dependency_overrides[request_store] = lambda: iot_store
    yield iot_store
    api_app.dependency_overrides.pop(request_store, None)
