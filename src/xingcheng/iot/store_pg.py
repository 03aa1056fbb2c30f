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
    LATEST_SCHEMA,
    POSTGRES,
    Latest,
    SqlReads,
    _aware,
    _naive_utc,
    named_params,
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
# One row of ``COPY (SELECT datastream_id, phenomenon_time, result …) TO STDOUT (FORMAT BINARY)``.
_LATEST_ROW = np.dtype([
    ("fields", ">i2"),
    ("l0", ">i4"), ("datastream_id", ">i8"),
    ("l1", ">i4"), ("phenomenon_time", ">i8"),
    ("l2", ">i4"), ("result", ">f8"),
])
_COPY_OUT_HEADER = len(_COPY_HEADER)
# Up to this many wanted ids a bound ``= ANY(...)`` answers; beyond, one binary COPY of the whole table
# filtered in Arrow is cheaper than sending the list.
_LATEST_ANY_LIMIT = 10_000
# Arrow → PostgreSQL column types for the temp tables ``sql_table`` loads.
_PG_TYPES = {pa.int64(): "bigint", pa.int32(): "integer", pa.float64(): "double precision", pa.string(): "text",
             pa.large_string(): "text", pa.bool_(): "boolean", pa.timestamp("us"): "timestamp"}
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


class PostgresObservationStore(SqlReads):
    """The shared backend: one psycopg connection per process behind a lock (like the DuckDB store)."""

    dialect = POSTGRES

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

    def latest(self, datastream_ids: list[int]) -> list[Latest]:
        if not datastream_ids:
            return []
        rows = self._query(
            "SELECT datastream_id, phenomenon_time, result FROM iot_obs_latest WHERE datastream_id = ANY(?)",
            [datastream_ids],
        )
        found = {int(ds): (t, float(v)) for ds, t, v in rows}
        return [Latest(ds, _aware(found[ds][0]), found[ds][1]) for ds in datastream_ids if ds in found]

    def latest_table(self, datastream_ids: pa.Array | None = None) -> pa.Table:
        wanted = None if datastream_ids is None else pa.array(datastream_ids, pa.int64())
        if wanted is not None and len(wanted) <= _LATEST_ANY_LIMIT:
            rows = self._query(
                "SELECT datastream_id, phenomenon_time, result FROM iot_obs_latest WHERE datastream_id = ANY(?) "
                "ORDER BY datastream_id", [wanted.to_pylist()],
            )
            columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
            naive = LATEST_SCHEMA.set(1, pa.field("phenomenon_time", pa.timestamp("us")))
            return pa.table([pa.array(c, f.type) for c, f in zip(columns, naive, strict=True)],
                            schema=naive).cast(LATEST_SCHEMA)
        out = io.BytesIO()
        # The whole table in its heap order (a sequential scan); sorting in Arrow beats an index-ordered scan.
        with self._lock, self._conn.cursor() as cur, cur.copy(
            "COPY iot_obs_latest (datastream_id, phenomenon_time, result) TO STDOUT (FORMAT BINARY)"
        ) as copy:
            for chunk in copy:
                out.write(chunk)
        table = latest_from_copy(out.getbuffer())
        if wanted is not None:
            table = table.filter(pc.is_in(table.column("datastream_id"), value_set=wanted))
        return table.sort_by("datastream_id")

    def sql_table(self, statement: str, params: dict[str, Any], tables: dict[str, pa.Table],
                  schema: pa.Schema | None = None) -> pa.Table:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            for name, table in tables.items():  # temp tables of this transaction, loaded by one CSV COPY each
                definition = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_PG_TYPES[f.type])) for f in table.schema
                )
                cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(name), definition))
                payload = io.BytesIO()
                pa_csv.write_csv(table, payload, write_options=pa_csv.WriteOptions(include_header=False))
                with cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT CSV)").format(sql.Identifier(name))) as copy:
                    copy.write(payload.getbuffer())
            cur.execute(named_params(statement, "postgres").encode(), params)
            names = [column.name for column in cur.description or []]
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        if schema is not None:
            return pa.table([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
        return pa.table({n: pa.array(c) if rows else pa.array([], pa.null()) for n, c in zip(names, columns, strict=True)})

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

    def roll_up_and_drop(self, before: datetime) -> tuple[int, int]:
        """Roll raw rows older than ``before`` (a UTC midnight) up into hours, then drop them; (hours, raw rows)."""
        cutoff = _naive_utc(before)
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cur.execute(
                f"INSERT INTO iot_obs_hourly SELECT datastream_id, {POSTGRES.bucket('1h', 'phenomenon_time')} b, "  # noqa: S608 - constants only
                "avg(result), min(result), max(result), count(*) FROM iot_obs_raw "
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
        """``statement`` is written with ``?`` placeholders (the shared reads' style); psycopg wants ``%s``."""
        with self._lock, self._conn.cursor() as cur:
            cur.execute(statement.replace("?", "%s").encode(), params)  # whitelisted parts, values bound
            return cur.fetchall()


def latest_from_copy(payload: memoryview | bytes) -> pa.Table:
    """A binary COPY of (datastream_id, phenomenon_time, result) as ``LATEST_SCHEMA``, decoded by numpy."""
    body = len(payload) - _COPY_OUT_HEADER - len(_COPY_TRAILER)
    if body <= 0:
        return LATEST_SCHEMA.empty_table()
    if body % _LATEST_ROW.itemsize:
        raise ValueError("unexpected binary COPY layout for the latest values")
    rows = np.frombuffer(payload, dtype=_LATEST_ROW, count=body // _LATEST_ROW.itemsize, offset=_COPY_OUT_HEADER)
    micros = rows["phenomenon_time"].astype(np.int64) + _PG_EPOCH_US
    return pa.table([
        pa.array(rows["datastream_id"].astype(np.int64)),
        pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        pa.array(rows["result"].astype(np.float64)),
    ], schema=LATEST_SCHEMA)


def _partition_day(name: str) -> date | None:
    try:
        return datetime.strptime(name.removeprefix("iot_obs_raw_"), "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None

