"""Data quality of the sensing network, per datastream and per department, for one day (Beijing time).

Figures (all computed by SQL over the observation store, one pass per day, never a Python loop over
observations):

- completeness: received ÷ expected. A datastream is expected every ``expected_interval_s`` from the
  later of the day's start and its first observation ever, until the earlier of the day's end, now,
  and the newest observation in the store (the "data horizon": a report on a store that lags is not
  blamed on the sensors). Received is capped at expected per datastream.
- validity: stored values inside the datastream's valid range and of its type, ÷ (received + items
  the ingest rejected for the department's devices that day, read from the ingest audit entries).
- timeliness: latency = received_at − phenomenon_time; share received within
  ``max(TIMELY_SECONDS, expected interval)``, and the median and 95th percentile latency.
- duplicates: items the ingest reported as duplicates (audit entries), per department.
- stuck (flatline): a float datastream whose longest run of identical consecutive values lasts
  at least ``max(STUCK_SECONDS, 5 × interval)``.
- silent: nothing received, or nothing for the last three expected intervals of the window.

Only active things are expected to report (maintenance/retired ones are out of the report).
``save_report`` keeps one row per (day, department) in ``iot_quality_report`` as the history; ``serve``
saves the previous day's report every morning (``iot.runtime``), staff can (re)save any day on demand.

The per-datastream SQL is written once in the SQL both backends speak (``extract(epoch …)``,
``percentile_cont … WITHIN GROUP``, ``FILTER``) and runs inside the store — DuckDB or PostgreSQL —
with the registry's figures passed in as an Arrow table (``ObservationStore.sql_table``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from pydantic import Field
from sqlalchemy import Date, Float, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.audit.service import record
from xingcheng.core.auth import Principal
from xingcheng.core.db import Base, UtcDateTime, utcnow
from xingcheng.core.errors import Invalid
from xingcheng.core.identity.models import Department
from xingcheng.core.schemas import Schema
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.service import registry_table
from xingcheng.iot.store import ObservationFilter, ObservationStore

CITY_TZ = ZoneInfo("Asia/Shanghai")
TIMELY_SECONDS = 60.0
STUCK_SECONDS = 3600
SILENT_INTERVALS = 3
TARGET = 0.98  # the city's goal for completeness and validity
MAX_STREAM_ROWS = 200
INGEST_ACTION = "iot.observations.ingest"


class QualityReportRow(Base):
    """One day's quality figures for one department's datastreams: the report history."""

    __tablename__ = "iot_quality_report"
    __table_args__ = (UniqueConstraint("day", "department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    department_code: Mapped[str] = mapped_column(String(32))
    datastreams: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer)
    valid: Mapped[int] = mapped_column(Integer)
    timely: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    stuck: Mapped[int] = mapped_column(Integer)
    silent: Mapped[int] = mapped_column(Integer)
    completeness: Mapped[float | None] = mapped_column(Float, default=None)
    validity: Mapped[float | None] = mapped_column(Float, default=None)
    timeliness: Mapped[float | None] = mapped_column(Float, default=None)
    latency_p95_s: Mapped[float | None] = mapped_column(Float, default=None)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)


class QualityFigures(Schema):
    datastreams: int
    expected: int
    received: int
    valid: int
    timely: int
    rejected: int
    duplicates: int
    stuck: int
    silent: int
    completeness: float | None = Field(description="received (capped per datastream) ÷ expected")
    validity: float | None = Field(description="valid stored ÷ (received + rejected at ingest)")
    timeliness: float | None = Field(description="received within max(60 s, interval) ÷ received")
    latency_p95_s: float | None = None


class DepartmentQuality(QualityFigures):
    department_code: str
    department_name: str


class DatastreamQuality(Schema):
    datastream_id: int
    key: str
    thing_key: str
    thing_name: str
    property: str
    department_code: str
    division_code: str
    expected: int
    received: int
    valid: int
    completeness: float | None
    validity: float | None
    timeliness: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    flat_seconds: float
    stuck: bool
    silent: bool
    last_seen: datetime | None


class HistoryPoint(Schema):
    day: date
    department_code: str
    completeness: float | None
    validity: float | None
    timeliness: float | None
    stuck: int
    silent: int


class QualityReport(Schema):
    day: date
    department_code: str | None
    window_start: datetime
    window_end: datetime
    target: float = TARGET
    summary: QualityFigures
    departments: list[DepartmentQuality]
    problems: list[DatastreamQuality] = Field(description=f"the worst datastreams (at most {MAX_STREAM_ROWS})")
    problem_total: int
    history: list[HistoryPoint] = []


@dataclass(frozen=True)
class Window:
    day: date
    lo: datetime  # naive UTC, the day's start in Beijing time
    hi: datetime
    now: datetime


def day_window(day: date, now: datetime | None = None) -> Window:
    if not 2000 <= day.year <= 2100:
        raise Invalid("the report day must fall between 2000 and 2100")
    lo = datetime.combine(day, time(0), CITY_TZ).astimezone(UTC).replace(tzinfo=None)
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return Window(day, lo, lo + timedelta(days=1), moment)


def today() -> date:
    return datetime.now(CITY_TZ).date()


META_SCHEMA = pa.schema([
    ("datastream_id", pa.int64()), ("key", pa.string()), ("thing_key", pa.string()), ("thing_name", pa.string()),
    ("property", pa.string()), ("department_code", pa.string()), ("division_code", pa.string()),
    ("interval_s", pa.int64()), ("valid_min", pa.float64()), ("valid_max", pa.float64()), ("value_type", pa.string()),
])
# What the store's SQL needs of the registry; the descriptive columns are joined back in Arrow.
SQL_META = ("datastream_id", "interval_s", "valid_min", "valid_max", "value_type")


def _meta(session: Session, department_code: str | None) -> pa.Table:
    query = (
        select(Datastream.id, Datastream.key, Thing.key, Thing.name, ObservedProperty.name, Thing.department_code,
               Thing.division_code, Datastream.expected_interval_s, Datastream.valid_min, Datastream.valid_max,
               Datastream.value_type)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Thing.status == "active")
    )
    if department_code:
        query = query.where(Thing.department_code == department_code)
    return registry_table(session, query, META_SCHEMA)


def _epoch(expression: str) -> str:
    """Seconds since the epoch as a double in both dialects (PostgreSQL's ``extract`` gives numeric)."""
    return f"CAST(extract(epoch FROM {expression}) AS float8)"


def stream_sql(raw: str) -> str:
    """Per datastream, over the stored observations of the window, in SQL that DuckDB and PostgreSQL both run.

    ``raw`` is the store's raw table; ``quality_meta`` holds ``SQL_META`` of the datastreams judged.
    Parameters: lo, hi (the day), end (the report's end), timely seconds, stuck seconds, silent intervals.
    """
    latency = f"{_epoch('d.received_at')} - {_epoch('d.phenomenon_time')}"
    return f"""
WITH day_obs AS (
    SELECT o.datastream_id, o.phenomenon_time, o.result, o.received_at FROM {raw} o
    WHERE o.phenomenon_time >= $lo AND o.phenomenon_time < $hi
      AND o.datastream_id IN (SELECT datastream_id FROM quality_meta)
), lagged AS (
    SELECT *, lag(result) OVER (PARTITION BY datastream_id ORDER BY phenomenon_time) AS prev FROM day_obs
), runs AS (
    SELECT datastream_id, phenomenon_time,
           sum(CASE WHEN prev IS NOT NULL AND result = prev THEN 0 ELSE 1 END)
               OVER (PARTITION BY datastream_id ORDER BY phenomenon_time) AS run
    FROM lagged
), flat AS (
    SELECT datastream_id, max(span) AS flat_s FROM (
        SELECT datastream_id, run, {_epoch("max(phenomenon_time)")} - {_epoch("min(phenomenon_time)")} AS span
        FROM runs GROUP BY datastream_id, run
    ) run_spans GROUP BY datastream_id
), first_ever AS (
    SELECT o.datastream_id, min(o.phenomenon_time) AS first_t FROM {raw} o
    WHERE o.phenomenon_time < $hi AND o.datastream_id IN (SELECT datastream_id FROM quality_meta)
    GROUP BY o.datastream_id
), per AS (
    SELECT d.datastream_id, count(*) AS received, max(d.phenomenon_time) AS last_t,
           count(*) FILTER (WHERE d.result >= coalesce(m.valid_min, CAST('-infinity' AS float8))
                            AND d.result <= coalesce(m.valid_max, CAST('infinity' AS float8))
                            AND (m.value_type = 'float' OR d.result = round(d.result))
                            AND (m.value_type <> 'bool' OR d.result IN (0, 1))) AS valid,
           count(*) FILTER (WHERE {latency} <= greatest($timely, m.interval_s)) AS timely,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY {latency}) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY {latency}) AS p95
    FROM day_obs d JOIN quality_meta m ON m.datastream_id = d.datastream_id GROUP BY d.datastream_id
), spans AS (
    SELECT m.*, f.first_t, greatest($lo, coalesce(f.first_t, $lo)) AS start_t
    FROM quality_meta m LEFT JOIN first_ever f ON f.datastream_id = m.datastream_id
)
SELECT s.datastream_id,
       CASE WHEN $end < s.start_t THEN 0
            ELSE CAST(floor(({_epoch("$end")} - {_epoch("s.start_t")}) / s.interval_s) AS BIGINT)
                 + CASE WHEN s.first_t >= $lo THEN 1 ELSE 0 END END AS expected,
       coalesce(p.received, 0) AS received, coalesce(p.valid, 0) AS valid, coalesce(p.timely, 0) AS timely,
       p.p50, p.p95, coalesce(fl.flat_s, 0) AS flat_s,
       (s.value_type = 'float' AND coalesce(fl.flat_s, 0) >= greatest($stuck, 5 * s.interval_s)) AS stuck,
       ({_epoch("$end")} >= {_epoch("s.start_t")} + s.interval_s * $silent AND
        (p.last_t IS NULL OR {_epoch("p.last_t")} < {_epoch("$end")} - s.interval_s * $silent)) AS silent,
       p.last_t
FROM spans s LEFT JOIN per p ON p.datastream_id = s.datastream_id
     LEFT JOIN flat fl ON fl.datastream_id = s.datastream_id
"""  # noqa: S608 - the table name is a dialect constant, values are bound


FIGURES_SCHEMA = pa.schema([
    ("datastream_id", pa.int64()), ("expected", pa.int64()), ("received", pa.int64()), ("valid", pa.int64()),
    ("timely", pa.int64()), ("p50", pa.float64()), ("p95", pa.float64()), ("flat_s", pa.float64()),
    ("stuck", pa.bool_()), ("silent", pa.bool_()), ("last_t", pa.timestamp("us")),
])


def data_horizon(store: ObservationStore, before: datetime | None = None,
                 since: datetime | None = None) -> datetime | None:
    """The newest stored phenomenon time (naive UTC), optionally within ``[since, before)``."""
    return store.newest_time(since=since, before=before)


def latest_data_day(store: ObservationStore) -> date:
    """The Beijing day of the newest observation (today when the store is empty)."""
    horizon = data_horizon(store)
    return horizon.replace(tzinfo=UTC).astimezone(CITY_TZ).date() if horizon else today()


def stream_figures(session: Session, store: ObservationStore, window: Window,
                   department_code: str | None = None) -> pa.Table:
    """One row per active datastream (of ``department_code``) with its figures for the window."""
    meta = _meta(session, department_code)
    end = min(window.hi, window.now)
    horizon = data_horizon(store, since=window.lo, before=window.hi)
    if horizon is not None:
        end = min(end, horizon)  # the store's data reaches only so far: judge up to there
    params = {"lo": window.lo, "hi": window.hi, "end": end, "timely": TIMELY_SECONDS,
              "stuck": STUCK_SECONDS, "silent": SILENT_INTERVALS}
    figures = store.sql_table(stream_sql(store.dialect.raw), params, {"quality_meta": meta.select(SQL_META)},
                              FIGURES_SCHEMA)
    return figures.join(meta.drop_columns(list(SQL_META[1:])), "datastream_id").combine_chunks()


def _ingest_counts(session: Session, window: Window) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """(rejected, duplicate) per device thing key from the day's ingest audit entries, and the total."""
    start, stop = window.lo.replace(tzinfo=UTC), window.hi.replace(tzinfo=UTC)
    rows = session.execute(
        select(AuditEntry.subject, AuditEntry.details)
        .where(AuditEntry.action == INGEST_ACTION, AuditEntry.recorded_at >= start, AuditEntry.recorded_at < stop)
    ).all()
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for subject, details in rows:  # one row per ingested batch, not per observation
        if not isinstance(details, dict):
            continue
        rejected, duplicate = int(details.get("rejected") or 0), int(details.get("duplicate") or 0)
        total[0] += rejected
        total[1] += duplicate
        if subject.startswith("device:"):
            per[subject.removeprefix("device:")][0] += rejected
            per[subject.removeprefix("device:")][1] += duplicate
    return {k: (v[0], v[1]) for k, v in per.items()}, (total[0], total[1])


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def _figures(streams: list[dict[str, Any]], rejected: int, duplicates: int) -> dict[str, Any]:
    expected = sum(s["expected"] for s in streams)
    received = sum(s["received"] for s in streams)
    counted = sum(min(s["received"], s["expected"]) for s in streams)
    valid = sum(s["valid"] for s in streams)
    timely = sum(s["timely"] for s in streams)
    p95s = [s["p95"] for s in streams if s["p95"] is not None]
    return {
        "datastreams": len(streams), "expected": expected, "received": received, "valid": valid, "timely": timely,
        "rejected": rejected, "duplicates": duplicates, "stuck": sum(bool(s["stuck"]) for s in streams),
        "silent": sum(bool(s["silent"]) for s in streams), "completeness": _ratio(counted, expected),
        "validity": _ratio(valid, received + rejected), "timeliness": _ratio(timely, received),
        "latency_p95_s": round(max(p95s), 3) if p95s else None,
    }


def _problem_score(s: dict[str, Any]) -> float:
    completeness = min(s["received"], s["expected"]) / s["expected"] if s["expected"] else 1.0
    validity = s["valid"] / s["received"] if s["received"] else 1.0
    return (2.0 if s["silent"] else 0.0) + (1.0 if s["stuck"] else 0.0) + (1 - completeness) + (1 - validity)


def compute_report(session: Session, *, store: ObservationStore, day: date, department_code: str | None = None,
                   now: datetime | None = None, with_history: bool = True) -> QualityReport:
    """The day's report: city summary, per department, and the worst datastreams."""
    window = day_window(day, now)
    table = stream_figures(session, store, window, department_code)
    streams = table.to_pylist()
    per_device, totals = _ingest_counts(session, window)
    thing_department = {s["thing_key"]: s["department_code"] for s in streams}
    by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in streams:
        by_department[s["department_code"]].append(s)
    counts_by_department: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for thing_key, (rejected, duplicate) in per_device.items():
        code = thing_department.get(thing_key)
        if code is not None:
            counts_by_department[code][0] += rejected
            counts_by_department[code][1] += duplicate
    names = dict(session.execute(select(Department.code, Department.name)).all())
    departments = [
        DepartmentQuality(department_code=code, department_name=names.get(code, code),
                          **_figures(rows, *counts_by_department[code]))
        for code, rows in sorted(by_department.items())
    ]
    summary_counts = tuple(counts_by_department[department_code]) if department_code else totals
    flagged = [s for s in streams if s["silent"] or s["stuck"] or s["received"] < s["expected"]
               or s["valid"] < s["received"]]
    flagged.sort(key=lambda s: (-_problem_score(s), s["key"]))
    problems = [
        DatastreamQuality(
            datastream_id=s["datastream_id"], key=s["key"], thing_key=s["thing_key"], thing_name=s["thing_name"],
            property=s["property"], department_code=s["department_code"], division_code=s["division_code"],
            expected=s["expected"], received=s["received"], valid=s["valid"],
            completeness=_ratio(min(s["received"], s["expected"]), s["expected"]),
            validity=_ratio(s["valid"], s["received"]), timeliness=_ratio(s["timely"], s["received"]),
            latency_p50_s=s["p50"], latency_p95_s=s["p95"], flat_seconds=float(s["flat_s"]),
            stuck=bool(s["stuck"]), silent=bool(s["silent"]),
            last_seen=s["last_t"].replace(tzinfo=UTC) if s["last_t"] else None,
        )
        for s in flagged[:MAX_STREAM_ROWS]
    ]
    end = min(window.hi, window.now)
    return QualityReport(
        day=day, department_code=department_code, window_start=window.lo.replace(tzinfo=UTC),
        window_end=end.replace(tzinfo=UTC), summary=QualityFigures(**_figures(streams, *summary_counts)),
        departments=departments, problems=problems, problem_total=len(flagged),
        history=history(session, department_code=department_code) if with_history else [],
    )


def save_report(session: Session, report: QualityReport, *, actor: Principal) -> int:
    """Keep the report's department rows (and the city row ``*``) as the day's history; replaces earlier runs."""
    rows: list[tuple[str, QualityFigures]] = [(d.department_code, d) for d in report.departments]
    if report.department_code is None:
        rows.append(("*", report.summary))
    codes = [code for code, _ in rows]
    session.execute(delete(QualityReportRow).where(QualityReportRow.day == report.day,
                                                   QualityReportRow.department_code.in_(codes)))
    fields = QualityFigures.model_fields
    for code, figures in rows:
        session.add(QualityReportRow(day=report.day, department_code=code,
                                     **{name: getattr(figures, name) for name in fields}))
    session.flush()
    record(session, actor=actor, action="iot.quality.report", subject=f"iot:quality:{report.day.isoformat()}",
           details={"departments": len(report.departments), "completeness": report.summary.completeness,
                    "validity": report.summary.validity})
    return len(rows)


def save_daily_report(session: Session, *, store: ObservationStore, day: date, actor: Principal,
                      now: datetime | None = None) -> QualityReport:
    """Compute the whole city's report for ``day`` and keep it (the daily job and the on-demand path)."""
    report = compute_report(session, store=store, day=day, now=now, with_history=False)
    save_report(session, report, actor=actor)
    return report


def is_saved(session: Session, day: date) -> bool:
    """Whether the city row of ``day``'s report is in the history."""
    return session.scalar(select(QualityReportRow.id).where(QualityReportRow.day == day,
                                                           QualityReportRow.department_code == "*")) is not None


def history(session: Session, *, department_code: str | None = None, days: int = 30) -> list[HistoryPoint]:
    """Stored daily figures, oldest first: the city row, or one department's."""
    rows = session.scalars(
        select(QualityReportRow).where(QualityReportRow.department_code == (department_code or "*"))
        .order_by(QualityReportRow.day.desc()).limit(days)
    ).all()
    return [HistoryPoint.model_validate(row) for row in reversed(rows)]


# ---- live figures (cockpit, device map) ------------------------------------------------------

LIVENESS_STREAMS = pa.schema([("datastream_id", pa.int64()), ("thing_id", pa.int64()), ("interval_s", pa.int64())])


def stream_liveness(session: Session, store: ObservationStore, *, now: datetime | None = None) -> pa.Table:
    """Per active thing: whether any of its datastreams reported within ``SILENT_INTERVALS`` × its interval
    of ``now``. Vectorised over the store's bulk latest values: 800k datastreams stay Arrow columns."""
    streams = registry_table(
        session,
        select(Datastream.id, Datastream.thing_id, Datastream.expected_interval_s)
        .join(Thing, Thing.id == Datastream.thing_id).where(Thing.status == "active"),
        LIVENESS_STREAMS,
    )
    seen = streams.join(store.latest_table(), "datastream_id", join_type="left outer")
    moment = pa.scalar((now or datetime.now(UTC)).astimezone(UTC), pa.timestamp("us", tz="UTC"))
    age_us = pc.cast(pc.subtract(moment, seen.column("phenomenon_time")), pa.int64())
    limit_us = pc.multiply(seen.column("interval_s"), SILENT_INTERVALS * 1_000_000)
    fresh = pc.fill_null(pc.less_equal(age_us, limit_us), False)
    per_thing = (pa.table({"thing_id": seen.column("thing_id"), "live": fresh})
                 .group_by("thing_id").aggregate([("live", "any")]))
    return pa.table({"thing_id": per_thing.column("thing_id"), "live": per_thing.column("live_any")})


def live_sensor_count(session: Session, store: ObservationStore, *, now: datetime | None = None) -> int:
    """Active things that reported recently (within three expected intervals)."""
    table = stream_liveness(session, store, now=now)
    return int(pc.sum(pc.cast(table.column("live"), pa.int64())).as_py() or 0)


def observations_today(store: ObservationStore, *, now: datetime | None = None) -> int:
    """Observations stored for today (Beijing time)."""
    moment = now or datetime.now(UTC)
    window = day_window(moment.astimezone(CITY_TZ).date(), moment)
    wanted = ObservationFilter(time_conditions=(("ge", window.lo.replace(tzinfo=UTC)), ("lt", window.hi.replace(tzinfo=UTC))))
    return store.count_matching(wanted)
