"""Exchange statistics: records delivered per department, district and day, flows between departments, the running total."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from xingcheng.core.db import utcnow
from xingcheng.datahub.exchange.models import Delivery


def total_records(session: Session) -> int:
    """The cumulative counter: every record ever delivered by the exchange."""
    return int(session.scalar(select(func.coalesce(func.sum(Delivery.records), 0))) or 0)


def _grouped(session: Session, column: InstrumentedAttribute[Any], since: date) -> list[dict[str, Any]]:
    rows = session.execute(
        select(column, func.sum(Delivery.records), func.count()).where(Delivery.day >= since)
        .group_by(column).order_by(func.sum(Delivery.records).desc())
    ).all()
    return [{"key": key or "", "records": int(records or 0), "deliveries": int(count)} for key, records, count in rows]


def exchange_stats(session: Session, *, days: int = 30, today: date | None = None) -> dict[str, Any]:
    today = today or utcnow().date()
    since = today - timedelta(days=days - 1)
    totals = session.execute(select(func.coalesce(func.sum(Delivery.records), 0), func.count())).one()
    by_day = session.execute(
        select(Delivery.day, func.sum(Delivery.records)).where(Delivery.day >= since).group_by(Delivery.day)
        .order_by(Delivery.day)
    ).all()
    flows = session.execute(
        select(Delivery.owner_department_code, Delivery.consumer_department_code, func.sum(Delivery.records))
        .where(Delivery.day >= since)
        .group_by(Delivery.owner_department_code, Delivery.consumer_department_code)
        .order_by(func.sum(Delivery.records).desc())
    ).all()
    return {
        "total_records": int(totals[0] or 0), "total_deliveries": int(totals[1] or 0), "since": since,
        "by_consumer": _grouped(session, Delivery.consumer_department_code, since),
        "by_owner": _grouped(session, Delivery.owner_department_code, since),
        "by_district": _grouped(session, Delivery.division_code, since),
        "by_day": [{"day": day, "records": int(records or 0)} for day, records in by_day],
        "flows": [{"source": s, "target": t, "records": int(r or 0)} for s, t, r in flows],
    }


def active_grants(session: Session) -> int:
    """Approved requests whose grant is live now (not revoked, not expired)."""
    from xingcheng.core.grants.models import DataGrant
    from xingcheng.datahub.exchange.models import ShareRequest

    now = utcnow()
    return int(session.scalar(
        select(func.count()).select_from(ShareRequest).join(DataGrant, DataGrant.id == ShareRequest.grant_id)
        .where(DataGrant.revoked_at.is_(None), DataGrant.valid_from <= now, DataGrant.expires_at > now)) or 0)
