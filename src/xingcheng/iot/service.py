"""Reads of the sensor registry and of stored observations (range, aggregates per datastream and per area,
latest values one page or the whole city at a time), audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Invalid, NotFound
from xingcheng.core.identity.models import Division
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import (
    AggregateBucket,
    AreaAggregates,
    AreaBucket,
    AreaSeries,
    DatastreamRead,
    LatestValue,
    ObservationPoint,
)
from xingcheng.iot.store import GROUPS_SCHEMA, INTERVAL_SECONDS, Interval, ObservationStore

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


def registry_table(session: Session, statement: Executable, schema: pa.Schema) -> pa.Table:
    """A registry query's rows as Arrow columns typed by ``schema`` (bulk reads: Core rows, no ORM processing,
    which costs about half the time at 800k rows)."""
    session.flush()  # what the ORM would autoflush before a query of its own
    rows = session.connection().execute(statement).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


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
    _check_buckets(start, end, interval)
    buckets = store.aggregate(datastream_id, start=start, end=end, interval=interval)
    audit.record(session, actor=reader, action="iot.observations.aggregate", subject=f"datastream:{stream.key}",
                 details={"interval": interval, "start": start.isoformat(), "end": end.isoformat()})
    return [AggregateBucket(start=b.time, avg=b.avg, min=b.min, max=b.max, count=b.count) for b in buckets]


def _check_buckets(start: datetime, end: datetime, interval: Interval) -> None:
    if (end - start).total_seconds() / INTERVAL_SECONDS[interval] > MAX_AGGREGATE_BUCKETS:
        raise Invalid(f"that window holds more than {MAX_AGGREGATE_BUCKETS} {interval} buckets; widen the interval")


def area_codes(session: Session, division_code: str) -> list[str]:
    """``division_code`` and every division under it (the city's code covers its districts)."""
    tree = session.execute(select(Division.code, Division.parent_code)).all()
    if division_code not in {code for code, _ in tree}:
        raise NotFound(f"no division with code {division_code}")
    children: dict[str | None, list[str]] = {}
    for code, parent in tree:
        children.setdefault(parent, []).append(code)
    found, todo = [], [division_code]
    while todo:
        code = todo.pop()
        found.append(code)
        todo.extend(children.get(code, []))
    return sorted(found)


def area_aggregates(
    session: Session, *, store: ObservationStore, reader: Principal, division_code: str, interval: Interval,
    start: datetime | None = None, end: datetime | None = None, kind: str | None = None, property: str | None = None,
) -> AreaAggregates:
    """avg/min/max/count per bucket over the datastreams of an area (a division and the divisions under it),
    one series per observed property (values of different properties are never averaged together)."""
    codes = area_codes(session, division_code)
    start, end = _window(start, end, timedelta(days=7))
    _check_buckets(start, end, interval)
    statement = (
        select(Datastream.id, ObservedProperty.name)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Thing.division_code.in_(codes))
    )
    if kind:
        statement = statement.where(Thing.kind == kind)
    if property:
        statement = statement.where(ObservedProperty.name == property)
    groups = registry_table(session, statement, GROUPS_SCHEMA)
    table = store.aggregate_groups(groups, start=start, end=end, interval=interval)
    registered = groups.group_by("group_key").aggregate([("datastream_id", "count")])
    sizes = dict(zip(registered.column("group_key").to_pylist(), registered.column("datastream_id_count").to_pylist(),
                     strict=True))
    units = dict(session.execute(select(ObservedProperty.name, ObservedProperty.unit)
                                 .where(ObservedProperty.name.in_(list(sizes)))).all())
    buckets: dict[str, list[AreaBucket]] = {name: [] for name in sizes}
    for row in table.to_pylist():  # buckets, not observations: a few thousand rows at most
        buckets[row["group_key"]].append(AreaBucket(start=row["bucket"], avg=row["avg"], min=row["min"],
                                                    max=row["max"], count=row["count"], datastreams=row["datastreams"]))
    audit.record(session, actor=reader, action="iot.observations.aggregate", subject=f"division:{division_code}",
                 details={"interval": interval, "start": start.isoformat(), "end": end.isoformat(), "kind": kind,
                          "property": property, "datastreams": groups.num_rows})
    return AreaAggregates(
        division_code=division_code, kind=kind, interval=interval, start=start, end=end,
        series=[AreaSeries(property=name, unit=units.get(name, ""), datastreams=sizes[name], buckets=buckets[name])
                for name in sorted(sizes)],
    )


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


LATEST_KEYS = pa.schema([("datastream_id", pa.int64()), ("datastream", pa.string())])
BULK_LATEST_SCHEMA = pa.schema([
    ("datastream_id", pa.int64()), ("datastream", pa.string()),
    ("phenomenon_time", pa.timestamp("us", tz="UTC")), ("result", pa.float64()),
])


def latest_table(
    session: Session, *, store: ObservationStore, thing_key: str | None = None, kind: str | None = None,
    division_code: str | None = None, property: str | None = None,
) -> pa.Table:
    """Every matching datastream's newest value as one Arrow table (``BULK_LATEST_SCHEMA``, by datastream id):
    the bulk path for dashboards and exports, no Python object per datastream."""
    statement = select(Datastream.id, Datastream.key)
    filtered = any((thing_key, kind, division_code, property))
    if thing_key or kind or division_code:
        statement = statement.join(Thing, Thing.id == Datastream.thing_id)
    if property:
        statement = statement.join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
    for column, value in ((Thing.key, thing_key), (ObservedProperty.name, property), (Thing.kind, kind),
                          (Thing.division_code, division_code)):
        if value:
            statement = statement.where(column == value)
    keys = registry_table(session, statement, LATEST_KEYS)
    # Unfiltered: the whole latest table without a semi-join; the join below drops unregistered ids.
    values = store.latest_table(keys.column("datastream_id") if filtered else None)
    joined = values.join(keys, "datastream_id", join_type="inner")
    return joined.select(BULK_LATEST_SCHEMA.names).sort_by("datastream_id").cast(BULK_LATEST_SCHEMA)


def count_things(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Thing)) or 0)


def datastream_ids_by_key(session: Session, keys: list[str]) -> dict[str, int]:
    return dict(session.execute(select(Datastream.key, Datastream.id).where(Datastream.key.in_(keys))).all())
