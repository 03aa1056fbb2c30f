"""Build the demo city: one transaction, steps ordered by ``depends_on``, deterministic from the seed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from xingcheng.core.audit.sequencer import sequence_pending
from xingcheng.core.db import Database
from xingcheng.core.errors import Conflict
from xingcheng.core.identity.models import Division
from xingcheng.core.registry import DemoContext, Module, Scale, order_demo_steps


@dataclass(frozen=True)
class StepTiming:
    name: str
    seconds: float


def city_is_loaded(database: Database) -> bool:
    with database.session_scope() as session:
        return bool(session.scalar(select(func.count()).select_from(Division)))


def load_demo(
    database: Database,
    modules: Sequence[Module],
    *,
    seed: int = 42,
    scale: Scale = "small",
    progress: Callable[[str, int, int], None] | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> list[StepTiming]:
    """Runs every module's demo step into an empty database; refuses a database that has a city."""
    if city_is_loaded(database):
        raise Conflict("the database already holds a city; use a fresh data directory (XC_DATA_DIR) to reload")
    steps = order_demo_steps(modules)
    context = DemoContext(seed=seed, scale=scale)
    if progress is not None:
        context.progress = progress
    timings: list[StepTiming] = []
    with database.session_scope() as session:
        for index, step in enumerate(steps):
            if on_step is not None:
                on_step(step.name, index, len(steps))
            started = time.perf_counter()
            step.run(session, context)
            session.flush()
            timings.append(StepTiming(step.name, time.perf_counter() - started))
    # Whatever the steps audited gets its leaf index now, not when a server next runs.
    sequence_pending(database)
    return timings
