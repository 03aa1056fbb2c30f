"""Reads of the sensor registry and of stored observations (range, aggregates, latest), audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Invalid, NotFound
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import AggregateBucket, DatastreamRead, LatestValue, ObservationPoint
from xingcheng.iot.store import Interval, ObservationStore

MAX_RAW_SPAN = timedelta(days=31)
MAX_AGGREGATE_BUCKETS = 50_000


def list_things(
    session: Session, *, page: PageParams, kind: str | None = None, division_code: str | None = None,
    department_code: str | None = None, q: str | None = None,
) -> tuple[list[Thing], int]:
    statement: Select[Thing] = select(Thing).order_by(Thing.id)
    if kind:
        statement = statement.where(Thing.kind == kind)
    if division_code:
        statement = statement.where(Thing.division_code == division_code)
    if department_code:
        statement = statement.where(Thing.department_code == department_code)
    if q:
        statement = statement.where(Thing.name.contains(q) | (Thing.key == q))
    return paginate(session, statement, page)


def _datastream_query() -> Select[Datastream, str, str]:
    return (
        select(Datastream, Thing.key, ObservedProperty.name)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
    )


def _read(row: Any) -> DatastreamRead:
    stream, thing_key, prop = row
    return DatastreamRead(
        id=stream.id, key=stream.key, thing_key=thing_key, property=prop, unit=stream.unit,
        expected_interval_s=stream.expected_interval_s, valid_min=stream.valid_min, valid_max=stream.valid_max,
        value_type=stream.value_type,
    )


def list_datastreams(
    session: Session, *, page: PageParams, thing_key: str | None = None, property: str | None = None,
    kind: str | None = None, division_code: str | None = None, department_code: str | None = None,
) -> tuple[list[DatastreamRead], int]:
    statement = _datastream_query().order_by(Datastream.id)
    for column, value in ((Thing.key, thing_key), (ObservedProperty.name, property), (Thing.kind, kind),
                          (Thing.division_code, division_code), (Thing.department_code, department_code)):
        if value:
            statement = statement.where(column == value)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = session.execute(statement.limit(page.limit).offset(page.offset)).all()
    return [_read(r) for r in rows], int(total)


def get_datastream_or_raise(session: Session, *, datastream_id: int) -> DatastreamRead:
    row = session.execute(_datastream_query().where(Datastream.id == datastream_id)).first()
    if row is None:
        raise NotFound(f"no datastream with id {datastream_id}")
    return _read(row)


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    # A query time without an offset is read as UTC, the store's clock.
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:
        raise Invalid("start and end must lie between 1970 and 2200") from exc


def _window(start: datetime | None, end: datetime | None, default: timedelta) -> tuple[datetime, datetime]:
    end = _utc(end) if end else datetime.now(UTC)
    if not EARLIEST <= end <= LATEST or (start is not None and not EARLIEST <= _utc(start) <= LATEST):
        raise Invalid("start and end must lie between 1970 and 2200")
    start = _utc(start) if start else end - default
    if start >= end:
        raise Invalid("start must be before end")
    return start, end


def read_observations(
    session: Session, *, store: ObservationStore, reader: Principal, datastream_id: int,
    start: datetime | None = None, end: datetime | None = None, limit: int = 1000,
) -> list[ObservationPoint]:
    """Raw observations of one datastream in ``[start, end)`` (default: the last day), oldest first."""
    stream = get_datastream_or_raise(session, datastream_id=datastream_id)
    start, end = _window(start, end, timedelta(days=1))
    if end - start > MAX_RAW_SPAN:
        raise Invalid("raw reads span at most 31 days; use aggregates for longer periods")
    points = store.range(datastream_id, start=start, end=end, limit=limit)
    audit.record(session, actor=reader, action="iot.observations.read", subject=f"datastream:{stream.key}",
                 details={"start": start.isoformat(), "end": end.isoformat(), "returned": len(points)})
    return [ObservationPoint(phenomenon_time=p.time, result=p.value) for p in points]


def aggregate_observations(
    session: Session, *, store: ObservationStore, reader: Principal, datastream_id: int, interval: Interval,
    start: datetime | None = None, end: datetime | None = None,
) -> list[AggregateBucket]:
    """avg/min/max/count per ``interval`` bucket of one datastream (default: the last 7 days)."""
    stream = get_datastream_or_raise(session, datastream_id=datastream_id)
    start, end = _window(start, end, timedelta(days=7))
    width = {"1min": 60, "15min": 900, "1h": 3600, "1day": 86400}[interval]
    if (end - start).total_seconds() / width > MAX_AGGREGATE_BUCKETS:
        raise Invalid(f"that window holds more than {MAX_AGGREGATE_BUCKETS} {interval} buckets; widen the interval")
    buckets = store.aggregate(datastream_id, start=start, end=end, interval=interval)
    audit.record(session, actor=reader, action="iot.observations.aggregate", subject=f"datastream:{stream.key}",
                 details={"interval": interval, "start": start.isoformat(), "end": end.isoformat()})
    return [AggregateBucket(start=b.time, avg=b.avg, min=b.min, max=b.max, count=b.count) for b in buckets]


def latest_observations(
    session: Session, *, store: ObservationStore, datastream_id: int, n: int,
) -> list[ObservationPoint]:
    get_datastream_or_raise(session, datastream_id=datastream_id)
    return [ObservationPoint(phenomenon_time=p.time, result=p.value) for p in store.latest_n(datastream_id, n=n)]


def latest_values(
    session: Session, *, store: ObservationStore, page: PageParams, thing_key: str | None = None,
    kind: str | None = None, division_code: str | None = None, property: str | None = None,
) -> tuple[list[LatestValue], int]:
    """The cached newest value of each datastream in the filtered page (for dashboards)."""
    streams, total = list_datastreams(session, page=page, thing_key=thing_key, kind=kind, division_code=division_code,
                                      property=property)
    keys = {s.id: s.key for s in streams}
    latest = store.latest(list(keys))
    items = [LatestValue(datastream_id=v.datastream_id, datastream=keys[v.datastream_id], phenomenon_time=v.time,
                         result=v.value) for v in latest]
    return items, total


def count_things(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Thing)) or 0)


def datastream_ids_by_key(session: Session, keys: list[str]) -> dict[str, int]:
    return dict(session.execute(select(Datastream.key, Datastream.id).where(Datastream.key.in_(keys))).all())
