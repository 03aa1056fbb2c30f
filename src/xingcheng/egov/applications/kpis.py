"""Service KPIs from the application records: 网上可办率, 最多跑一次, 零跑动, processing times per item and
department, on-time rate, 好差评 and satisfaction. Nothing is typed in; every figure is a query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.identity.models import Department
from xingcheng.egov.applications.models import Application, ApplicationRating
from xingcheng.egov.services.models import ServiceItem

FINISHED = ("approved", "rejected")


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _stats(rows: Sequence[tuple[datetime, datetime | None, datetime]]) -> dict[str, Any]:
    """(submitted, completed, due) of finished applications → count, average, p50, p90, on-time share."""
    done = [(s, c, d) for s, c, d in rows if c is not None]
    if not done:
        return {"count": 0, "avg_hours": None, "p50_hours": None, "p90_hours": None, "on_time_rate": None}
    hours = np.array([_hours(s, c) for s, c, _d in done])
    on_time = sum(1 for _s, c, d in done if c <= d)
    return {"count": len(done), "avg_hours": round(float(hours.mean()), 2),
            "p50_hours": round(float(np.percentile(hours, 50)), 2), "p90_hours": round(float(np.percentile(hours, 90)), 2),
            "on_time_rate": round(on_time / len(done), 4)}


def _groups(rows: Iterable[Any], key_index: int) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row[key_index]].append(row)
    return groups


def compute(session: Session) -> dict[str, Any]:
    rows = session.execute(select(Application.item_code, Application.department_code, Application.status,
                                  Application.visits, Application.submitted_at, Application.completed_at,
                                  Application.due_at, Application.materials_required,
                                  Application.materials_provided, Application.item_name)).all()
    ratings = session.execute(select(ApplicationRating.item_code, ApplicationRating.department_code,
                                     ApplicationRating.score)).all()
    items_total = session.scalar(select(func.count()).select_from(ServiceItem)) or 0
    items_online = session.scalar(select(func.count()).where(ServiceItem.online.is_(True))) or 0
    departments = dict(session.execute(select(Department.code, Department.short_name)).all())
    finished = [r for r in rows if r[2] in FINISHED]
    visits_by_item: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        visits_by_item[r[0]].append(r[3])
    scores = [r[2] for r in ratings]
    rating_groups = {0: _groups(ratings, 0), 1: _groups(ratings, 1)}

    def group_kpis(index: int, names: dict[str, str]) -> list[dict[str, Any]]:
        result = []
        for key, members in sorted(_groups(rows, index).items()):
            group_scores = [r[2] for r in rating_groups[index].get(key, [])]
            stats = _stats([(r[4], r[5], r[6]) for r in members if r[2] in FINISHED])
            result.append({"key": key, "name": names.get(key, key), "applications": len(members), **stats,
                           "rating_avg": round(sum(group_scores) / len(group_scores), 2) if group_scores else None,
                           "ratings": len(group_scores)})
        return result

    return {
        "applications": len(rows), "finished": len(finished),
        "online_share": round(int(items_online or 0) / int(items_total), 4) if items_total else 0.0,
        "at_most_one_visit_share": round(sum(1 for r in rows if r[3] <= 1) / len(rows), 4) if rows else 0.0,
        "zero_visit_items": sum(1 for visits in visits_by_item.values() if max(visits) == 0),
        "processing": _stats([(r[4], r[5], r[6]) for r in finished]),
        "rating_avg": round(sum(scores) / len(scores), 2) if scores else None, "ratings": len(scores),
        "satisfaction": round(sum(1 for s in scores if s >= 4) / len(scores), 4) if scores else None,
        "materials_required": sum(r[7] for r in rows), "materials_provided": sum(r[8] for r in rows),
        "by_item": group_kpis(0, {r[0]: r[9] for r in rows}),
        "by_department": group_kpis(1, departments),
    }


def satisfaction_percent(session: Session) -> float:
    """Cockpit card: share of 好评 (4–5 stars) among all ratings."""
    total, good = session.execute(select(func.count(), func.count().filter(ApplicationRating.score >= 4))).one()
    return round(100 * int(good) / int(total), 1) if total else 0.0


def on_time_percent(session: Session) -> float:
    """Cockpit card: finished applications completed by their promised date."""
    rows = session.execute(select(Application.completed_at, Application.due_at)
                           .where(Application.status.in_(FINISHED))).all()
    return round(100 * sum(1 for c, d in rows if c is not None and c <= d) / len(rows), 1) if rows else 0.0


def finished_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Application.status.in_(FINISHED))) or 0)
