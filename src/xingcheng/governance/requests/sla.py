"""SLA clocks in working days (Beijing time, Monday–Friday), warnings before the deadline, escalation after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
WARN_BEFORE = timedelta(hours=24)  # a department is warned a day before its deadline
ESCALATE_EVERY_WORKING_DAYS = 2  # one more escalation level per two working days overdue
MAX_ESCALATION = 3  # 1 department head, 2 operations centre, 3 city leadership (督办)
AUTO_CLOSE_AFTER = timedelta(days=7)  # a reply the citizen neither confirms nor reopens


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` working days (weekends skipped, time of day kept)."""
    local = start.astimezone(BEIJING)
    # A request filed at the weekend starts its clock on Monday morning.
    while local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local.astimezone(UTC)


def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days from ``start`` to ``end`` (0 when ``end`` is not later)."""
    if end <= start:
        return 0
    count = 0
    day = start.astimezone(BEIJING)
    stop = end.astimezone(BEIJING)
    while True:
        day += timedelta(days=1)
        if day > stop:
            return count
        if day.weekday() < 5:
            count += 1


def escalation_level(due_at: datetime, now: datetime) -> int:
    """0 before the deadline; 1 once overdue, +1 per two further working days, at most 3."""
    if now <= due_at:
        return 0
    return min(MAX_ESCALATION, 1 + working_days_between(due_at, now) // ESCALATE_EVERY_WORKING_DAYS)
