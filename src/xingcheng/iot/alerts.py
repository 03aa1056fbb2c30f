"""Alerts: one service function every module raises through, and the open → acknowledged → resolved → closed lifecycle.

A live alert (open or acknowledged) is unique per ``dedup_key`` — a partial unique index in the
database, so two processes raising the same thing at once still make one alert; the loser's raise
becomes another occurrence. Every transition is audited, published on ``xc/events/iot/alert``
after commit (payload ``iot.schemas.AlertEvent``), and a new alert notifies its department.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.errors import Conflict, Forbidden, NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.iot.models import Alert, Thing
from xingcheng.iot.schemas import AlertEvent, AlertRaise, AlertStats

LIVE = ("open", "acknowledged")
EVENT_NAMES = {"open": "opened", "acknowledged": "acknowledged", "resolved": "resolved", "closed": "closed"}
VERBS = {"acknowledged": "acknowledge", "resolved": "resolve", "closed": "close"}
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
SEVERITY_LABEL = {"info": "提示", "warning": "预警", "critical": "紧急"}
# Which status each action may start from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "acknowledged": ("open",),
    "resolved": ("open", "acknowledged"),
    "closed": ("open", "acknowledged", "resolved"),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _publish(session: Session, alert: Alert) -> None:
    payload = AlertEvent(
        alert_id=alert.id, status=alert.status, source=alert.source, kind=alert.kind,
        severity=alert.severity, title=alert.title, dedup_key=alert.dedup_key, thing_key=alert.thing_key,
        datastream_key=alert.datastream_key, division_code=alert.division_code, department_code=alert.department_code,
        value=alert.value, opened_at=alert.opened_at,
    )
    publish_after_commit(session, event_topic("iot", "alert"), Event(
        type=f"xingcheng.iot.alert.{EVENT_NAMES[alert.status]}", source="/iot/alerts", subject=f"iot_alert:{alert.id}",
        data=payload.model_dump(mode="json"),
    ))


def _live(session: Session, dedup_key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.dedup_key == dedup_key, Alert.status.in_(LIVE)))


def _fill_from_thing(session: Session, data: AlertRaise) -> dict[str, Any]:
    """Department, area and position default to the thing's, so a raiser only has to name the device."""
    fields: dict[str, Any] = {"department_code": data.department_code, "division_code": data.division_code,
                              "lon": data.lon, "lat": data.lat}
    if data.thing_key and None in fields.values():
        thing = session.scalar(select(Thing).where(Thing.key == data.thing_key))
        if thing is not None:
            fields["department_code"] = fields["department_code"] or thing.department_code
            fields["division_code"] = fields["division_code"] or thing.division_code
            fields["lon"] = fields["lon"] if fields["lon"] is not None else thing.lon
            fields["lat"] = fields["lat"] if fields["lat"] is not None else thing.lat
    return fields


def raise_alert(
    session: Session, data: AlertRaise, *, rule_id: int | None = None, actor: Principal = SYSTEM,
) -> tuple[Alert, bool]:
    """Open an alert, or count another occurrence of the live one with the same ``dedup_key``.

    Returns ``(alert, created)``. Only a new alert notifies and publishes ``opened``; a repeat
    may raise the severity (never lowers it).
    """
    seen = _aware(data.observed_at) if data.observed_at else _now()
    existing = _live(session, data.dedup_key)
    if existing is None:
        alert = Alert(
            dedup_key=data.dedup_key, source=data.source, rule_id=rule_id, kind=data.kind, severity=data.severity,
            title=data.title, thing_key=data.thing_key, datastream_key=data.datastream_key, value=data.value,
            details=data.details, status="open", occurrences=1, opened_at=seen, last_seen_at=seen,
            **_fill_from_thing(session, data),
        )
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:  # another transaction opened it first: this raise is one more occurrence
            existing = _live(session, data.dedup_key)
            if existing is None:
                raise
        else:
            audit.record(session, actor=actor, action="iot.alert.open", subject=f"iot_alert:{alert.id}",
                         details={"dedup_key": alert.dedup_key, "source": alert.source, "severity": alert.severity})
            _publish(session, alert)
            if alert.department_code:
                notify(session, source="iot.alerts", data=NotificationCreate(
                    recipient_kind="department", recipient_key=alert.department_code,
                    title=f"【{SEVERITY_LABEL.get(alert.severity, '预警')}】{alert.title}",
                    body=f"设备 {alert.thing_key or '-'}，数值 {alert.value if alert.value is not None else '-'}，"
                         f"发生于 {alert.opened_at.astimezone().strftime('%Y-%m-%d %H:%M')}",
                    link=f"/console/iot/alerts?alert={alert.id}", channels=["in_app", "event"],
                ))
            return alert, True
    existing.occurrences += 1
    existing.last_seen_at = max(_aware(existing.last_seen_at), seen)
    if data.value is not None:
        existing.value = data.value
    if SEVERITY_RANK.get(data.severity, 0) > SEVERITY_RANK.get(existing.severity, 0):
        existing.severity = data.severity
    session.flush()
    return existing, False


def get_alert_or_raise(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    return alert


def _may_handle(actor: Principal, alert: Alert) -> None:
    # Department staff handle their own department's alerts; the operations centre and stewards any.
    if actor.kind == "system" or "department_staff" not in actor.roles or actor.roles & {"admin", "operator", "data_steward"}:
        return
    if alert.department_code != actor.department_code:
        raise Forbidden(f"this alert belongs to department '{alert.department_code}', not yours")


def transition(
    session: Session, *, alert_id: int, to: str, actor: Principal, note: str = "", at: datetime | None = None,
) -> Alert:
    """Move an alert along its lifecycle; a move its status does not allow is a 409."""
    alert = get_alert_or_raise(session, alert_id)
    _may_handle(actor, alert)
    if alert.status not in TRANSITIONS[to]:
        raise Conflict(f"alert {alert_id} is {alert.status}; it cannot become {to}")
    moment = at or _now()
    if to == "acknowledged":
        alert.acknowledged_at, alert.acknowledged_by = moment, actor.name[:64]
    elif to == "resolved":
        alert.resolved_at, alert.resolved_by = moment, actor.name[:64]
    else:
        alert.closed_at = moment
    alert.status = to
    if note:
        alert.note = note[:500]
    session.flush()
    audit.record(session, actor=actor, action=f"iot.alert.{VERBS[to]}",
                 subject=f"iot_alert:{alert.id}", details={"note": note[:200]} if note else {})
    _publish(session, alert)
    return alert


def resolve_by_key(session: Session, *, dedup_key: str, at: datetime, reason: str) -> Alert | None:
    """The condition cleared (a rule's hysteresis): resolve the live alert for this key, if any."""
    alert = _live(session, dedup_key)
    if alert is None:
        return None
    return transition(session, alert_id=alert.id, to="resolved", actor=SYSTEM, note=reason, at=at)


def list_alerts(
    session: Session, *, page: PageParams, status: str | None = None, division_code: str | None = None,
    department_code: str | None = None, severity: str | None = None, source: str | None = None,
    thing_key: str | None = None,
) -> tuple[list[Alert], int]:
    statement = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc())
    if status == "live":
        statement = statement.where(Alert.status.in_(LIVE))
    elif status:
        statement = statement.where(Alert.status == status)
    for column, value in ((Alert.division_code, division_code), (Alert.department_code, department_code),
                          (Alert.severity, severity), (Alert.source, source), (Alert.thing_key, thing_key)):
        if value:
            statement = statement.where(column == value)
    return paginate(session, statement, page)


def _median_seconds(pairs: list[tuple[datetime, datetime | None]]) -> float | None:
    spans = [(_aware(b) - _aware(a)).total_seconds() for a, b in pairs if b is not None]
    return round(statistics.median(spans), 1) if spans else None


def alert_stats(session: Session) -> AlertStats:
    """Live alerts by area and severity, and median response times (the seed's 8-minute response)."""
    live = session.execute(
        select(Alert.status, Alert.division_code, Alert.severity, func.count()).where(Alert.status.in_(LIVE))
        .group_by(Alert.status, Alert.division_code, Alert.severity)
    ).all()
    by_division: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    counts = {"open": 0, "acknowledged": 0}
    for status, division, severity, n in live:
        counts[status] += n
        by_division[division or "unknown"] = by_division.get(division or "unknown", 0) + n
        by_severity[severity] = by_severity.get(severity, 0) + n
    recent = session.execute(
        select(Alert.opened_at, Alert.acknowledged_at, Alert.resolved_at).order_by(Alert.id.desc()).limit(5000)
    ).all()
    return AlertStats(
        open=counts["open"], acknowledged=counts["acknowledged"], by_division=by_division, by_severity=by_severity,
        median_ack_seconds=_median_seconds([(o, a) for o, a, _ in recent]),
        median_resolve_seconds=_median_seconds([(o, r) for o, _, r in recent]),
    )


def count_live(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Alert).where(Alert.status.in_(LIVE))) or 0)
