"""The PostgreSQL observation store: binary COPY into a table partitioned by day (the production profile).

Several processes (``xingcheng iot worker`` × N, the servers) share it. Layout, all in the
connection's search path:

- ``iot_obs_raw`` — ``(datastream_id, phenomenon_time, result, received_at)``, primary key
  ``(datastream_id, phenomenon_time)``, ``PARTITION BY RANGE (phenomenon_time)`` with one partition
  per UTC day (``iot_obs_raw_YYYYMMDD``) created on demand under an advisory lock, so concurrent
  writers never race on ``CREATE TABLE``; retention drops whole partitions.
- ``iot_obs_latest`` — every datastream's newest value (the dashboard cache, shared by all processes).
- ``iot_obs_hourly`` — the 1-hour roll-up (avg/min/max/count) kept after raw rows expire.
- ``iot_obs_meta`` — the roll-up watermark: raw rows before it were rolled up and deleted.

An append writes the Arrow batch with ``COPY ... (FORMAT BINARY)`` (built with numpy, no Python loop
per row) into a temp table, then one statement inserts the first occurrence of each key with
``ON CONFLICT DO NOTHING ... RETURNING`` and reports every other batch index as a duplicate — the
same contract as the DuckDB store. Times are naive UTC ``timestamp``.
"""

from __future__ import annotations

import io
import threading
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped, unused-ignore]
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from xingcheng.iot.store import (
    BATCH_SCHEMA,
    DAY_SCHEMA,
    INTERVALS,
    Bucket,
    Interval,
    Latest,
    ObservationFilter,
    Point,
    _aware,
    _naive_utc,
)

# Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), for binary timestamps.
_PG_EPOCH_US = 946_684_800_000_000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_ROW = np.dtype([
    ("fields", ">i2"),
    ("l0", ">i4"), ("index", ">i8"),
    ("l1", ">i4"), ("datastream_id", ">i8"),
    ("l2", ">i4"), ("phenomenon_time", ">i8"),
    ("l3", ">i4"), ("result", ">f8"),
])
_LOCK_KEY = zlib.crc32(b"xingcheng.iot.store_pg")  # advisory lock: schema set-up and partition creation
_DEADLOCK_RETRIES = 5


def psycopg_conninfo(database_url: str) -> str:
    """The libpq conninfo of a SQLAlchemy URL (``postgresql+psycopg://…?options=…``), query options kept."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the PostgreSQL observation store needs a postgresql:// database URL")
    params: dict[str, Any] = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username,
                              "password": url.password}
    params.update({k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def copy_payload(batch: pa.Table) -> bytes:
    """The batch as a PostgreSQL binary COPY stream of (index, datastream_id, phenomenon_time, result)."""
    rows = np.empty(batch.num_rows, dtype=_ROW)
    rows["fields"] = 4
    rows["l0"] = rows["l1"] = rows["l2"] = rows["l3"] = 8
    rows["index"] = batch.column("index").to_numpy()
    rows["datastream_id"] = batch.column("datastream_id").to_numpy()
    micros = batch.column("phenomenon_time").cast(pa.int64()).to_numpy()
    rows["phenomenon_time"] = micros - _PG_EPOCH_US
    rows["result"] = batch.column("result").to_numpy()
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def partition_name(day: date) -> str:
    return f"iot_obs_raw_{day:%Y%m%d}"


class PostgresObservationStore:
    """The shared backend: one psycopg connection per process behind a lock (like the DuckDB store)."""

    def __init__(self, conninfo: str, *, options: str | None = None) -> None:
        if options:  # else libpq's own sources (the URL, PGOPTIONS) decide
            conninfo = make_conninfo(conninfo, options=options)
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._lock = threading.Lock()
        self._partitions: set[date] = set()
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS iot_obs_raw (datastream_id bigint NOT NULL, "
                "phenomenon_time timestamp NOT NULL, result double precision NOT NULL, "
                "received_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), "
                "PRIMARY KEY (datastream_id, phenomenon_time)) PARTITION BY RANGE (phenomenon_time)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS iot_obs_latest (datastream_id bigint PRIMARY KEY, "
                "phenomenon_time timestamp NOT NULL, result double precision NOT NULL)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS iot_obs_hourly (datastream_id bigint NOT NULL, bucket timestamp NOT NULL, "
                "avg double precision NOT NULL, min double precision NOT NULL, max double precision NOT NULL, "
                "count bigint NOT NULL, PRIMARY KEY (datastream_id, bucket))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS iot_obs_meta (key text PRIMARY KEY, moment timestamp NOT NULL)"
            )
        self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS iot_incoming (idx bigint NOT NULL, datastream_id bigint NOT NULL, "
            "phenomenon_time timestamp NOT NULL, result double precision NOT NULL) ON COMMIT DELETE ROWS"
        )

    # ---- writing ---------------------------------------------------------------------------

    def _ensure_partitions(self, days: list[date]) -> None:
        missing = [d for d in days if d not in self._partitions]
        if not missing:
            return
        with self._conn.transaction():
            # Serialises creators across processes; IF NOT EXISTS makes a late one a no-op.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            for day in missing:
                self._conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF iot_obs_raw FOR VALUES FROM ({}) TO ({})"
                ).format(sql.Identifier(partition_name(day)), sql.Literal(datetime(day.year, day.month, day.day)),
                         sql.Literal(datetime(day.year, day.month, day.day) + timedelta(days=1))))
        self._partitions.update(missing)

    def append(self, batch: pa.Table) -> pa.Array:
        batch = batch.select(BATCH_SCHEMA.names).cast(BATCH_SCHEMA)
        if batch.num_rows == 0:
            return pa.array([], pa.int64())
        days = pc.unique(pc.cast(batch.column("phenomenon_time"), pa.date32())).to_pylist()
        payload = copy_payload(batch)
        with self._lock:
            self._ensure_partitions(sorted(days))
            for attempt in range(_DEADLOCK_RETRIES):
                try:
                    return self._append_locked(payload)
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    if attempt == _DEADLOCK_RETRIES - 1:
                        raise
        raise AssertionError("unreachable")

    def _append_locked(self, payload: bytes) -> pa.Array:
        with self._conn.transaction(), self._conn.cursor() as cur:
            with cur.copy("COPY iot_incoming (idx, datastream_id, phenomenon_time, result) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(payload)
            # Key order everywhere so that concurrent writers take row locks in the same order.
            cur.execute(
                """
                WITH firsts AS (
                    SELECT DISTINCT ON (datastream_id, phenomenon_time) idx, datastream_id, phenomenon_time, result
                    FROM iot_incoming ORDER BY datastream_id, phenomenon_time, idx
                ), inserted AS (
                    INSERT INTO iot_obs_raw (datastream_id, phenomenon_time, result)
                    SELECT datastream_id, phenomenon_time, result FROM firsts ORDER BY datastream_id, phenomenon_time
                    ON CONFLICT DO NOTHING
                    RETURNING datastream_id, phenomenon_time, result
                ), newest AS (
                    INSERT INTO iot_obs_latest (datastream_id, phenomenon_time, result)
                    SELECT DISTINCT ON (datastream_id) datastream_id, phenomenon_time, result FROM inserted
                    ORDER BY datastream_id, phenomenon_time DESC
                    ON CONFLICT (datastream_id) DO UPDATE SET phenomenon_time = excluded.phenomenon_time,
                        result = excluded.result WHERE excluded.phenomenon_time > iot_obs_latest.phenomenon_time
                )  -- a data-modifying CTE runs to completion even though nothing reads it
                SELECT i.idx FROM iot_incoming i WHERE NOT EXISTS (
                    SELECT 1 FROM firsts f JOIN inserted n USING (datastream_id, phenomenon_time) WHERE f.idx = i.idx
                )
                ORDER BY i.idx
                """
            )
            duplicates = [int(row[0]) for row in cur.fetchall()]
        return pa.array(duplicates, pa.int64())

    # ---- reading ---------------------------------------------------------------------------

    def range(self, datastream_id: int, *, start: datetime, end: datetime, limit: int) -> list[Point]:
        rows = self._query(
            "SELECT phenomenon_time, result FROM iot_obs_raw WHERE datastream_id = %s AND phenomenon_time >= %s "
            "AND phenomenon_time < %s ORDER BY phenomenon_time LIMIT %s",
            [datastream_id, _naive_utc(start), _naive_utc(end), limit],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def aggregate(self, datastream_id: int, *, start: datetime, end: datetime, interval: Interval) -> list[Bucket]:
        width = INTERVALS[interval]  # a fixed whitelist, never caller text
        lo, hi = _naive_utc(start), _naive_utc(end)
        watermark = self.rolled_up_until()
        raw_lo = max(lo, watermark) if watermark is not None else lo
        rows: list[tuple[Any, ...]] = []
        if watermark is not None and lo < watermark and interval in ("1h", "1day"):
            # Older than raw retention: the hourly roll-up answers (1 h as is, 1 day re-weighted by count).
            rows += self._query(
                f"SELECT date_bin(INTERVAL '{width}', bucket, TIMESTAMP '2000-01-01') b, "  # noqa: S608 - whitelisted
                "sum(avg * count) / sum(count), min(min), max(max), sum(count) FROM iot_obs_hourly "
                "WHERE datastream_id = %s AND bucket >= %s AND bucket < %s GROUP BY b ORDER BY b",
                [datastream_id, lo, min(hi, watermark)],
            )
        if raw_lo < hi:
            rows += self._query(
                f"SELECT date_bin(INTERVAL '{width}', phenomenon_time, TIMESTAMP '2000-01-01') b, "  # noqa: S608
                "avg(result), min(result), max(result), count(*) FROM iot_obs_raw "
                "WHERE datastream_id = %s AND phenomenon_time >= %s AND phenomenon_time < %s GROUP BY b ORDER BY b",
                [datastream_id, raw_lo, hi],
            )
        return [Bucket(_aware(t), float(a), float(mn), float(mx), int(c)) for t, a, mn, mx, c in rows]

    def latest_n(self, datastream_id: int, *, n: int) -> list[Point]:
        rows = self._query(
            "SELECT phenomenon_time, result FROM iot_obs_raw WHERE datastream_id = %s "
            "ORDER BY phenomenon_time DESC LIMIT %s",
            [datastream_id, n],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def latest(self, datastream_ids: list[int]) -> list[Latest]:
        if not datastream_ids:
            return []
        rows = self._query(
            "SELECT datastream_id, phenomenon_time, result FROM iot_obs_latest WHERE datastream_id = ANY(%s)",
            [datastream_ids],
        )
        found = {int(ds): (t, float(v)) for ds, t, v in rows}
        return [Latest(ds, _aware(found[ds][0]), found[ds][1]) for ds in datastream_ids if ds in found]

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM iot_obs_raw", [])[0][0])

    def query(
        self, wanted: ObservationFilter, *, limit: int, offset: int = 0, descending: bool = True,
    ) -> list[tuple[int, datetime, float]]:
        where, params = wanted.where()
        direction = "DESC" if descending else "ASC"
        rows = self._query(
            f"SELECT datastream_id, phenomenon_time, result FROM iot_obs_raw WHERE {_pg(where)} "  # noqa: S608
            f"ORDER BY phenomenon_time {direction}, datastream_id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [(int(ds), _aware(t), float(v)) for ds, t, v in rows]

    def count_matching(self, wanted: ObservationFilter) -> int:
        where, params = wanted.where()
        return int(self._query(f"SELECT count(*) FROM iot_obs_raw WHERE {_pg(where)}", params)[0][0])  # noqa: S608

    # ---- export and retention --------------------------------------------------------------

    def days(self) -> list[date]:
        """UTC days that hold raw observations."""
        rows = self._query(
            "SELECT DISTINCT phenomenon_time::date FROM iot_obs_raw ORDER BY 1", [],
        )
        return [d for (d,) in rows]

    def read_day(self, day: date) -> pa.Table:
        """One UTC day's raw rows as Arrow (datastream_id, phenomenon_time, result, received_at)."""
        lo = datetime(day.year, day.month, day.day)
        out = io.BytesIO()
        query = sql.SQL(
            "COPY (SELECT datastream_id, phenomenon_time, result, received_at FROM iot_obs_raw "
            "WHERE phenomenon_time >= {} AND phenomenon_time < {} ORDER BY datastream_id, phenomenon_time) "
            "TO STDOUT (FORMAT CSV)"
        ).format(sql.Literal(lo), sql.Literal(lo + timedelta(days=1)))
        with self._lock, self._conn.cursor() as cur, cur.copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
        if out.tell() == 0:
            return DAY_SCHEMA.empty_table()
        out.seek(0)
        return pa_csv.read_csv(
            out, read_options=pa_csv.ReadOptions(column_names=DAY_SCHEMA.names),
            convert_options=pa_csv.ConvertOptions(column_types=dict(zip(DAY_SCHEMA.names, DAY_SCHEMA.types, strict=True))),
        ).cast(DAY_SCHEMA)

    def rolled_up_until(self) -> datetime | None:
        rows = self._query("SELECT moment FROM iot_obs_meta WHERE key = 'rolled_up_until'", [])
        return rows[0][0] if rows else None

    def roll_up_and_drop(self, before: datetime) -> tuple[int, int]:
        """Roll raw rows older than ``before`` (a UTC midnight) up into hours, then drop them; (hours, raw rows)."""
        cutoff = _naive_utc(before)
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cur.execute(
                "INSERT INTO iot_obs_hourly SELECT datastream_id, date_bin(INTERVAL '1 hour', phenomenon_time, "
                "TIMESTAMP '2000-01-01') b, avg(result), min(result), max(result), count(*) FROM iot_obs_raw "
                "WHERE phenomenon_time < %s GROUP BY datastream_id, b "
                "ON CONFLICT (datastream_id, bucket) DO UPDATE SET "
                "avg = (iot_obs_hourly.avg * iot_obs_hourly.count + excluded.avg * excluded.count) "
                "/ (iot_obs_hourly.count + excluded.count), min = least(iot_obs_hourly.min, excluded.min), "
                "max = greatest(iot_obs_hourly.max, excluded.max), count = iot_obs_hourly.count + excluded.count",
                [cutoff],
            )
            hours = cur.rowcount
            cur.execute("SELECT count(*) FROM iot_obs_raw WHERE phenomenon_time < %s", [cutoff])
            dropped = int(cur.fetchone()[0])  # type: ignore[index, unused-ignore]
            # Whole partitions before the cutoff go at once; a partition straddling it loses its old rows.
            cur.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'iot_obs_raw'::regclass"
            )
            for name, _bound in cur.fetchall():
                day = _partition_day(name)
                if day is not None and datetime(day.year, day.month, day.day) + timedelta(days=1) <= cutoff:
                    cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                    self._partitions.discard(day)
            cur.execute("DELETE FROM iot_obs_raw WHERE phenomenon_time < %s", [cutoff])
            cur.execute(
                "INSERT INTO iot_obs_meta VALUES ('rolled_up_until', %s) ON CONFLICT (key) DO UPDATE "
                "SET moment = greatest(iot_obs_meta.moment, excluded.moment)",
                [cutoff],
            )
        return hours, dropped

    def drop_rollup(self, before: datetime) -> int:
        with self._lock, self._conn.cursor() as cur:
            cur.execute("DELETE FROM iot_obs_hourly WHERE bucket < %s", [_naive_utc(before)])
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock, self._conn.cursor() as cur:
            cur.execute(statement.encode(), params)  # str built from whitelisted parts, values bound
            return cur.fetchall()


def _pg(where: str) -> str:
    """``ObservationFilter.where`` uses ``?`` placeholders (DuckDB); psycopg wants ``%s``."""
    return where.replace("?", "%s")


def _partition_day(name: str) -> date | None:
    try:
        return datetime.strptime(name.removeprefix("iot_obs_raw_"), "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None

