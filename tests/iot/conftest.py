"""IoT fixtures: a private observation store per test, wired into the API in place of the process's store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xingcheng.iot.store import DuckDBObservationStore, request_store


@pytest.fixture
def iot_store(tmp_path) -> Iterator[DuckDBObservationStore]:  # type: ignore[no-untyped-def]
    store = DuckDBObservationStore(tmp_path / "observations.duckdb")
    yield store
    store.close()


@pytest.fixture
def api_store(api_app, iot_store: DuckDBObservationStore) -> Iterator[DuckDBObservationStore]:  # type: ignore[no-untyped-def]
    """The test's store behind the API (the process store would outlive the rolled-back registry rows)."""
    api_app.dependency_overrides[request_store] = lambda: iot_store
    yield iot_store
    api_app.dependency_overrides.pop(request_store, None)
