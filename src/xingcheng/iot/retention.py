"""Retention and roll-up: raw observations kept ``raw_retention_days``, hourly aggregates ``aggregate_retention_days``.

Before raw rows expire they are rolled up into 1-hour buckets (avg/min/max/count) in the store's
roll-up table, in the same transaction as the delete, so nothing is lost between the two. Cut-offs
fall on UTC midnights (whole day partitions in PostgreSQL). Aggregate queries at 1 h and 1 day read
the roll-up for the part of their range older than the raw watermark; finer intervals cover only the
raw period. ``xingcheng iot retention`` runs it once; ``serve`` runs it daily.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from xingcheng.core.settings import get_settings
from xingcheng.iot.store import ObservationStore


@dataclass(frozen=True)
class RetentionReport:
    raw_before: str
    rollup_before: str
    hours_rolled_up: int
    raw_deleted: int
    rollup_deleted: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _midnight(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def apply_retention(
    store: ObservationStore, *, now: datetime | None = None,
    raw_days: int | None = None, aggregate_days: int | None = None,
) -> RetentionReport:
    """Roll up and delete raw rows older than ``raw_days`` full days, then roll-ups older than ``aggregate_days``."""
    settings = get_settings().iot
    raw_days = raw_days if raw_days is not None else settings.raw_retention_days
    aggregate_days = aggregate_days if aggregate_days is not None else settings.aggregate_retention_days
    if raw_days < 1 or aggregate_days < raw_days:
        raise ValueError("retention needs 1 <= raw_retention_days <= aggregate_retention_days")
    started = time.perf_counter()
    today = _midnight(now or datetime.now(UTC))
    raw_before = today - timedelta(days=raw_days)
    rollup_before = today - timedelta(days=aggregate_days)
    hours, raw = store.roll_up_and_drop(raw_before)
    dropped = store.drop_rollup(rollup_before)
    return RetentionReport(raw_before.isoformat(), rollup_before.isoformat(), hours, raw, dropped,
                           round(time.perf_counter() - started, 3))
