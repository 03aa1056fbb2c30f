"""Figures over citizen requests: volumes, hotspots, handling time, on-time rate, satisfaction, repeats."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.db import utcnow
from xingcheng.core.identity.models import Department, Division
from xingcheng.governance.requests import sla
from xingcheng.governance.requests.categories import get_category
from xingcheng.governance.requests.models import CitizenRequest
from xingcheng.governance.requests.schemas import OPEN_STATUSES

HOTSPOT_CELL_DEG = 0.01  # ≈ 1 km cells
HOTSPOT_LIMIT = 20


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86_400


def summary(session: Session, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """Everything the console's analytics page and the cockpit show, over the last ``days`` days."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    rows = session.execute(
        select(
            CitizenRequest.status, CitizenRequest.category_code, CitizenRequest.division_code,
            CitizenRequest.department_code, CitizenRequest.created_at, CitizenRequest.replied_at, CitizenRequest.due_at,
            CitizenRequest.satisfaction, CitizenRequest.reopen_count, CitizenRequest.duplicate_count,
            CitizenRequest.transfer_count, CitizenRequest.route_method, CitizenRequest.lon, CitizenRequest.lat,
        ).where(CitizenRequest.created_at >= since)
    ).all()
    division_names = dict(session.execute(select(Division.code, Division.name)).all())
    department_names = dict(session.execute(select(Department.code, Department.short_name)).all())
    by_status: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_district: Counter[str] = Counter()
    by_department: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    weekly: dict[str, list[Any]] = defaultdict(list)
    handling: list[float] = []
    on_time = replied_with_due = 0
    ratings: list[int] = []
    repeats = transfers = counted = auto = 0
    cells: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in rows:
        by_status[row.status] += 1
        if row.status == "merged":
            continue  # a merged duplicate is counted in its original's duplicate_count
        counted += 1
        by_category[row.category_code] += 1
        by_district[row.division_code or "unknown"] += 1
        if row.department_code:
            by_department[row.department_code] += 1
        local_day = row.created_at.astimezone(sla.BEIJING).date()
        by_day[local_day.isoformat()] += 1
        week = local_day - timedelta(days=local_day.weekday())
        weekly[week.isoformat()].append(row)
        if row.replied_at is not None:
            handling.append(_days(row.replied_at - row.created_at))
            if row.due_at is not None:
                replied_with_due += 1
                on_time += row.replied_at <= row.due_at
        if row.satisfaction is not None:
            ratings.append(row.satisfaction)
        repeats += bool(row.reopen_count or row.duplicate_count)
        transfers += row.transfer_count
        auto += row.route_method == "auto"
        if row.lon is not None and row.lat is not None:
            cells[(int(row.lon // HOTSPOT_CELL_DEG), int(row.lat // HOTSPOT_CELL_DEG))].append(row)
    hotspots = []
    for members in sorted(cells.values(), key=len, reverse=True)[:HOTSPOT_LIMIT]:
        top = Counter(m.category_code for m in members).most_common(1)[0][0]
        divisions = Counter(m.division_code for m in members).most_common(1)[0][0]
        category = get_category(top)
        hotspots.append({
            "lon": round(sum(m.lon for m in members) / len(members), 5),
            "lat": round(sum(m.lat for m in members) / len(members), 5),
            "count": len(members) + sum(m.duplicate_count for m in members), "division_code": divisions,
            "top_category": top, "top_category_name": category.name if category else top,
        })
    trend = []
    for week, members in sorted(weekly.items()):
        replied = [m for m in members if m.replied_at is not None]
        due = [m for m in replied if m.due_at is not None]
        trend.append({
            "week": week, "requests": len(members),
            "avg_handling_days": (
                round(sum(_days(m.replied_at - m.created_at) for m in replied) / len(replied), 2) if replied else None
            ),
            "on_time_rate": _rate(sum(m.replied_at <= m.due_at for m in due), len(due)),
        })
    open_total = session.scalar(select(func.count()).where(CitizenRequest.status.in_(OPEN_STATUSES))) or 0
    overdue = session.scalar(
        select(func.count()).where(CitizenRequest.status.in_(OPEN_STATUSES), CitizenRequest.due_at < now)
    ) or 0
    queue = session.scalar(select(func.count()).where(CitizenRequest.status == "dispatch")) or 0

    def items(counter: Counter[str], names: dict[str, str]) -> list[dict[str, Any]]:
        return [{"key": k, "name": names.get(k, k), "count": v} for k, v in counter.most_common()]

    category_names = {code: (get_category(code).name if get_category(code) else code) for code in by_category}  # type: ignore[union-attr]
    return {
        "days": days, "total": counted, "open": int(open_total), "dispatch_queue": int(queue), "overdue": int(overdue),
        "by_status": dict(by_status), "by_category": items(by_category, category_names),
        "by_district": items(by_district, {**division_names, "unknown": "未定位"}),
        "by_department": items(by_department, department_names),
        "by_day": [{"day": d, "count": c} for d, c in sorted(by_day.items())], "weekly": trend, "hotspots": hotspots,
        "avg_handling_days": round(sum(handling) / len(handling), 2) if handling else None,
        "on_time_rate": _rate(on_time, replied_with_due),
        "satisfaction_avg": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "satisfied_rate": _rate(sum(r >= 4 for r in ratings), len(ratings)),
        "repeat_rate": _rate(repeats, counted), "transfers_per_request": round(transfers / counted, 3) if counted else None,
        "auto_routed_rate": _rate(auto, counted),
    }


# ---- cockpit cards (one query each, cheap) ----------------------------------------------------------

def open_requests(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(CitizenRequest.status.in_(OPEN_STATUSES))) or 0)


def avg_handling_days(session: Session) -> str:
    since = utcnow() - timedelta(days=30)
    rows = session.execute(
        select(CitizenRequest.created_at, CitizenRequest.replied_at).where(
            CitizenRequest.replied_at.is_not(None), CitizenRequest.created_at >= since
        )
    ).all()
    if not rows:
        return "—"
    return f"{sum(_days(r.replied_at - r.created_at) for r in rows) / len(rows):.1f}"


def satisfaction_percent(session: Session) -> str:
    since = utcnow() - timedelta(days=30)
    ratings = session.scalars(
        select(CitizenRequest.satisfaction).where(CitizenRequest.satisfaction.is_not(None), CitizenRequest.closed_at >= since)
    ).all()
    if not ratings:
        return "—"
    return f"{100 * sum(r >= 4 for r in ratings if r is not None) / len(ratings):.0f}"
