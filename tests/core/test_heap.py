"""core.heap: start-up objects are frozen out of the collector's full passes (only where it is switched on)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from xingcheng.core import heap
from xingcheng.core.settings import Settings, get_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process's objects go back to the collector


def test_settle_freezes_what_lives_and_collects_what_is_garbage(unfrozen: None) -> None:
    kept = [object() for _ in range(1000)]
    cycle: list[object] = []
    cycle.append(cycle)  # unreachable once deleted: garbage only the collector can free
    del cycle
    frozen = heap.settle("test")
    assert frozen > len(kept) and gc.get_freeze_count() > len(kept)
    assert gc.collect() == 0  # the cycle went in settle's collection, not into the permanent generation


def test_the_serving_app_settles_its_heap_at_start_up(unfrozen: None) -> None:
    from xingcheng.app import create_app

    settings = get_settings().model_copy(update={"api": get_settings().api.model_copy(update={"settle_heap": True})})
    with TestClient(create_app(settings=settings, with_ui=False, modules=())) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 0


def test_test_apps_do_not_freeze(unfrozen: None) -> None:
    from xingcheng.app import create_app

    assert Settings().api.settle_heap is False  # tests/conftest.py switches it off through the environment
    with TestClient(create_app(with_ui=False, modules=())) as client:
        assert client.get("/health").status_code == 200
    assert gc.get_freeze_count() == 0
