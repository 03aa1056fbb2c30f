"""Data-quality report: seeded gaps, a stuck sensor, a silent one, out-of-range values and late arrivals are found,
on the DuckDB and on the PostgreSQL observation store; the daily report is saved and kept as history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select

from xingcheng.core.auth import SYSTEM
from xingcheng.core.identity.models import Department
from xingcheng.iot import ingest, quality, runtime
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.store import ObservationStore, request_store
from xingcheng.iot.worker import device_principal

DAY = date(2026, 7, 1)
LO = datetime(2026, 6, 30, 16, 0)  # 2026-07-01 00:00 Beijing, naive UTC
DEPT = "xc-qtest"
STEP = 300
POINTS = 288  # one day at 5 minutes


def _setup(session, prefix: str = "q") -> dict[str, Datastream]:  # type: ignore[no-untyped-def]
    session.add(Department(code=DEPT, name="质量测试局", short_name="质测", kind="bureau", division_code="430102"))
    prop = session.scalar(select(ObservedProperty).where(ObservedProperty.name == "pm25"))
    occupied = session.scalar(select(ObservedProperty).where(ObservedProperty.name == "occupied"))
    assert prop is not None and occupied is not None
    streams: dict[str, Datastream] = {}
    for name in ("full", "gap", "stuck", "silent", "never", "parked", "maint"):
        thing = Thing(key=f"{prefix}-{name}", name=f"测试{name}", kind="air_quality_station", department_code=DEPT,
                      division_code="430102", lon=112.98, lat=28.2,
                      status="maintenance" if name == "maint" else "active")
        session.add(thing)
        session.flush()
        is_bool = name == "parked"
        ds = Datastream(key=f"{thing.key}/{'occupied' if is_bool else 'pm25'}", thing_id=thing.id,
                        observed_property_id=(occupied if is_bool else prop).id, unit="1" if is_bool else "ug/m3",
                        expected_interval_s=STEP, valid_min=0.0, valid_max=1.0 if is_bool else 500.0,
                        value_type="bool" if is_bool else "float")
        session.add(ds)
        streams[name] = ds
    session.flush()
    return streams


def _rows(ds: Datastream, steps: range, value=lambda i: 30.0 + (i % 7)) -> list[tuple[int, datetime, float]]:  # type: ignore[no-untyped-def]
    return [(ds.id, LO + timedelta(seconds=i * STEP), float(value(i))) for i in steps]


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """(registry session, observation store): SQLite + DuckDB, or PostgreSQL for both."""
    if request.param == "duckdb":
        return request.getfixturevalue("db"), request.getfixturevalue("iot_store")
    return request.getfixturevalue("pg_db"), request.getfixturevalue("pg_store")


def _received_after(store: ObservationStore, seconds: int, datastream_id: int | None = None) -> None:
    """Pretend the stored observations arrived ``seconds`` after they were taken."""
    table = store.dialect.raw
    where = f" WHERE datastream_id = {int(datastream_id)}" if datastream_id is not None else ""
    if store.dialect.name == "duckdb":
        store._conn.execute(f"UPDATE {table} SET received_at = phenomenon_time + INTERVAL {seconds} SECOND{where}")  # type: ignore[attr-defined]
    else:
        store._conn.execute(f"UPDATE {table} SET received_at = phenomenon_time + interval '{seconds} seconds'{where}")  # type: ignore[attr-defined]


def _append(store, rows: list[tuple[int, datetime, float]]) -> None:  # type: ignore[no-untyped-def]
    ids, times, values = zip(*rows, strict=True)
    store.append(pa.table({"index": pa.array(range(len(rows)), pa.int64()), "datastream_id": pa.array(ids, pa.int64()),
                           "phenomenon_time": pa.array(times, pa.timestamp("us")),
                           "result": pa.array(values, pa.float64())}))


def test_report_finds_seeded_gaps_stuck_silent_invalid_and_late_data(backend):
    db, iot_store = backend
    s = _setup(db)
    full = _rows(s["full"], range(POINTS))
    full[10] = (full[10][0], full[10][1], 900.0)  # stored before the range was tightened: invalid now
    full[11] = (full[11][0], full[11][1], -1.0)
    rows = full
    rows += _rows(s["gap"], [i for i in range(POINTS) if not 120 <= i < 144])  # two hours missing
    rows += _rows(s["stuck"], range(POINTS), lambda i: 41.5 if 100 <= i < 136 else 30.0 + (i % 5))  # 3 h flat
    rows += _rows(s["silent"], range(72))  # stopped after six hours
    rows += _rows(s["parked"], range(POINTS), lambda i: 1.0)  # a parked car: flat, but not a stuck sensor
    rows += _rows(s["maint"], range(5))  # a thing in maintenance is not judged
    _append(iot_store, rows)
    # Arrival times: five seconds late, except the gap stream which arrived ten minutes late.
    _received_after(iot_store, 5)
    _received_after(iot_store, 600, s["gap"].id)

    report = quality.compute_report(db, store=iot_store, day=DAY, department_code=DEPT,
                                    now=datetime(2026, 7, 3, tzinfo=UTC))
    by_key = {p.key: p for p in report.problems}
    summary = report.summary
    assert summary.datastreams == 6  # the maintenance thing is out
    # Expected: 288 for every stream whose first reading is the day's start; 287 slots for the one never heard.
    assert summary.expected == 5 * POINTS + 287
    assert summary.received == POINTS + (POINTS - 24) + POINTS + 72 + POINTS
    assert summary.valid == summary.received - 2
    assert summary.stuck == 1 and summary.silent == 2
    assert summary.timely == summary.received - (POINTS - 24)
    assert summary.completeness == round((summary.received) / summary.expected, 6)

    gap = by_key["q-gap/pm25"]
    assert (gap.expected, gap.received, gap.completeness, gap.silent, gap.stuck) == (288, 264, round(264 / 288, 6),
                                                                                     False, False)
    assert gap.timeliness == 0.0 and gap.latency_p50_s == 600.0
    stuck = by_key["q-stuck/pm25"]
    assert stuck.stuck and stuck.flat_seconds == 35 * STEP and stuck.completeness == 1.0
    silent = by_key["q-silent/pm25"]
    assert silent.silent and silent.received == 72 and silent.last_seen == (LO + timedelta(seconds=71 * STEP)).replace(tzinfo=UTC)
    assert by_key["q-never/pm25"].silent and by_key["q-never/pm25"].received == 0
    assert by_key["q-full/pm25"].valid == 286 and not by_key["q-full/pm25"].stuck
    assert "q-parked/occupied" not in by_key  # complete, valid, a flat bool is normal
    assert by_key["q-never/pm25"] == report.problems[0] or report.problems[0].silent  # silent first
    [dept] = report.departments
    assert dept.department_name == "质量测试局" and dept.expected == summary.expected


def test_ingest_rejections_and_duplicates_count_against_the_department(backend):
    db, iot_store = backend
    s = _setup(db, prefix="r")
    now = datetime.now(UTC).replace(microsecond=0)
    good = {"datastream": s["full"].key, "phenomenon_time": (now - timedelta(minutes=10)).isoformat(), "result": 31.0}
    bad = {"datastream": s["full"].key, "phenomenon_time": (now - timedelta(minutes=5)).isoformat(), "result": 9000.0}
    report = ingest.ingest(db, store=iot_store, principal=device_principal("r-full"), items=[good, good, bad])
    assert (report.accepted, report.duplicate, report.rejected) == (1, 1, 1)
    q = quality.compute_report(db, store=iot_store, day=quality.today(), department_code=DEPT)
    assert (q.summary.rejected, q.summary.duplicates, q.summary.received, q.summary.valid) == (1, 1, 1, 1)
    assert q.summary.validity == 0.5


def test_history_is_kept_per_day_and_replaced_on_rerun(db, iot_store):
    s = _setup(db, prefix="h")
    _append(iot_store, _rows(s["full"], range(POINTS)) + _rows(s["gap"], range(POINTS // 2)))
    for _ in range(2):
        report = quality.compute_report(db, store=iot_store, day=DAY, department_code=None,
                                        now=datetime(2026, 7, 3, tzinfo=UTC))
        quality.save_report(db, report, actor=SYSTEM)
    rows = db.scalars(select(quality.QualityReportRow).where(quality.QualityReportRow.day == DAY)).all()
    assert sorted(r.department_code for r in rows).count(DEPT) == 1
    mine = next(r for r in rows if r.department_code == DEPT)
    assert mine.received == POINTS + POINTS // 2
    assert [h.day for h in quality.history(db)][-1] == DAY


def test_quality_api_answers_and_saves(client, auth, api_store):
    answer = client.get("/api/v1/iot/quality", params={"date": "2026-06-30"}, headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["day"] == "2026-06-30" and body["summary"]["datastreams"] > 0
    assert client.get("/api/v1/iot/quality", params={"date": "1900-01-01"}, headers=auth("admin")).status_code == 422
    saved = client.post("/api/v1/iot/quality/reports", params={"date": "2026-06-30"}, headers=auth("admin"))
    assert saved.status_code == 201, saved.text
    assert saved.json()["history"][-1]["day"] == "2026-06-30"
    assert client.post("/api/v1/iot/quality/reports", headers=auth("citizen")).status_code == 403


def test_the_daily_report_is_saved_once_and_shows_in_the_history(backend):
    db, iot_store = backend
    s = _setup(db, prefix="d")
    _append(iot_store, _rows(s["full"], range(POINTS)) + _rows(s["gap"], range(POINTS // 2)))
    assert not quality.is_saved(db, DAY)
    report = quality.save_daily_report(db, store=iot_store, day=DAY, actor=SYSTEM, now=datetime(2026, 7, 3, tzinfo=UTC))
    assert quality.is_saved(db, DAY)
    city = db.scalar(select(quality.QualityReportRow).where(quality.QualityReportRow.day == DAY,
                                                            quality.QualityReportRow.department_code == "*"))
    assert city is not None and city.received == report.summary.received == POINTS + POINTS // 2
    mine = quality.history(db, department_code=DEPT)[-1]
    assert mine.day == DAY and mine.completeness == next(d.completeness for d in report.departments
                                                         if d.department_code == DEPT)


def test_the_daily_job_runs_at_half_past_midnight_beijing_time():
    before = datetime(2026, 7, 1, 0, 10, tzinfo=quality.CITY_TZ)
    assert runtime.seconds_until_quality_report(before) == 20 * 60
    after = datetime(2026, 7, 1, 0, 30, tzinfo=quality.CITY_TZ)  # due now: the next one is tomorrow's
    assert runtime.seconds_until_quality_report(after) == 24 * 3600
    assert runtime.seconds_until_quality_report(datetime(2026, 6, 30, 16, 40, tzinfo=UTC)) == 23 * 3600 + 50 * 60


def test_liveness_counts_things_that_reported_within_three_intervals(backend):
    db, iot_store = backend
    s = _setup(db, prefix="l")
    now = LO + timedelta(hours=6)
    _append(iot_store, [(s["full"].id, now - timedelta(seconds=STEP), 30.0),
                        (s["gap"].id, now - timedelta(seconds=3 * STEP + 1), 30.0)])
    table = quality.stream_liveness(db, iot_store, now=now.replace(tzinfo=UTC))
    live = dict(zip(table.column("thing_id").to_pylist(), table.column("live").to_pylist(), strict=True))
    assert live[s["full"].thing_id] is True
    assert live[s["gap"].thing_id] is False  # just past three intervals
    assert live[s["never"].thing_id] is False
    assert s["maint"].thing_id not in live  # only active things are judged


@pytest.mark.postgres
def test_quality_api_answers_on_the_postgresql_store(api_app, pg_store, client, auth, any_db):
    api_app.dependency_overrides[request_store] = lambda: pg_store
    try:
        answer = client.get("/api/v1/iot/quality", params={"date": "2026-06-30"}, headers=auth("admin"))
        assert answer.status_code == 200, answer.text  # was 503: the report needed DuckDB
        saved = client.post("/api/v1/iot/quality/reports", params={"date": "2026-06-30"}, headers=auth("admin"))
        assert saved.status_code == 201, saved.text
        assert saved.json()["history"][-1]["day"] == "2026-06-30"
    finally:
        api_app.dependency_overrides.pop(request_store, None)
