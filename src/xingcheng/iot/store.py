"""The observation store: one interface, the embedded DuckDB backend, and the process's single instance.

DuckDB allows one writing process, so the serving process opens the file once (``open_store`` in
the app lifespan) and every request goes through that instance; without it, each request borrows
the file for its own duration (``request_store``). A process that cannot get the file within a few
seconds gets one clear line telling it to use the server's API. The PostgreSQL backend
(binary COPY into a table partitioned by day) implements the same ``ObservationStore`` protocol.

Rows are ``(datastream_id, phenomenon_time, result, received_at)``; times are UTC microseconds
(stored as naive TIMESTAMP, UTC by convention); booleans and integers are stored as DOUBLE.
Idempotency is on ``(datastream_id, phenomenon_time)``: an append anti-joins the batch against
what is stored under the store's lock, so a retried batch adds nothing and reports duplicates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from xingcheng.core.errors import Unavailable
from xingcheng.core.settings import get_settings

Interval = Literal["1min", "15min", "1h", "1day"]
INTERVALS: dict[str, str] = {"1min": "1 minute", "15min": "15 minutes", "1h": "1 hour", "1day": "1 day"}

# The batch every backend accepts: ``index`` is the caller's item number, reported back for duplicates.
BATCH_SCHEMA = pa.schema([
    ("index", pa.int64()),
    ("datastream_id", pa.int64()),
    ("phenomenon_time", pa.timestamp("us")),
    ("result", pa.float64()),
])

# One day's raw rows as the export and the backends hand them out.
DAY_SCHEMA = pa.schema([
    ("datastream_id", pa.int64()),
    ("phenomenon_time", pa.timestamp("us")),
    ("result", pa.float64()),
    ("received_at", pa.timestamp("us")),
])


@dataclass(frozen=True)
class Point:
    time: datetime
    value: float


@dataclass(frozen=True)
class Bucket:
    time: datetime
    avg: float
    min: float
    max: float
    count: int


@dataclass(frozen=True)
class Latest:
    datastream_id: int
    time: datetime
    value: float


_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True)
class ObservationFilter:
    """Which observations a SensorThings-style query wants; comparisons are whitelisted, values bound."""

    datastream_id: int | None = None
    time_eq: datetime | None = None
    time_conditions: tuple[tuple[str, datetime], ...] = ()
    result_conditions: tuple[tuple[str, float], ...] = ()

    def narrowed_time(self, op: str, moment: datetime) -> ObservationFilter:
        return ObservationFilter(self.datastream_id, self.time_eq, (*self.time_conditions, (op, moment)),
                                 self.result_conditions)

    def narrowed_result(self, op: str, value: float) -> ObservationFilter:
        return ObservationFilter(self.datastream_id, self.time_eq, self.time_conditions,
                                 (*self.result_conditions, (op, value)))

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], list[Any]()
        if self.datastream_id is not None:
            clauses.append("datastream_id = ?")
            params.append(self.datastream_id)
        if self.time_eq is not None:
            clauses.append("phenomenon_time = ?")
            params.append(_naive_utc(self.time_eq))
        for op, moment in self.time_conditions:
            clauses.append(f"phenomenon_time {_OPS[op]} ?")
            params.append(_naive_utc(moment))
        for op, value in self.result_conditions:
            clauses.append(f"result {_OPS[op]} ?")
            params.append(value)
        return " AND ".join(clauses), params


class ObservationStore(Protocol):
    """What ingest and the read API need from a time-series backend."""

    def append(self, batch: pa.Table) -> pa.Array:
        """Store the new rows of a ``BATCH_SCHEMA`` table; return the ``index`` values that were duplicates."""
        ...

    def range(self, datastream_id: int, *, start: datetime, end: datetime, limit: int) -> list[Point]: ...

    def aggregate(self, datastream_id: int, *, start: datetime, end: datetime, interval: Interval) -> list[Bucket]: ...

    def latest_n(self, datastream_id: int, *, n: int) -> list[Point]: ...

    def latest(self, datastream_ids: list[int]) -> list[Latest]: ...

    def count(self) -> int: ...

    def query(
        self, wanted: ObservationFilter, *, limit: int, offset: int = 0, descending: bool = True,
    ) -> list[tuple[int, datetime, float]]:
        """(datastream id, time, value) rows matching ``wanted``, newest first unless ``descending`` is False."""
        ...

    def count_matching(self, wanted: ObservationFilter) -> int: ...

    def days(self) -> list[date]:
        """UTC days that hold raw observations (the export walks these)."""
        ...

    def read_day(self, day: date) -> pa.Table:
        """One UTC day's raw rows, ``DAY_SCHEMA``."""
        ...

    def rolled_up_until(self) -> datetime | None:
        """Naive UTC moment before which raw rows were rolled up into hours and deleted (None: never)."""
        ...

    def roll_up_and_drop(self, before: datetime) -> tuple[int, int]:
        """Roll raw rows older than ``before`` into the hourly table, then delete them: (hour rows, raw rows)."""
        ...

    def drop_rollup(self, before: datetime) -> int:
        """Delete hourly roll-ups older than ``before``; how many."""
        ...

    def close(self) -> None: ...


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class DuckDBObservationStore:
    """The embedded backend: one DuckDB file, appended in Arrow batches, one connection behind a lock."""

    def __init__(self, path: Path | str, *, wait_seconds: float = 0.0) -> None:
        self.path = str(path)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                self._conn = duckdb.connect(self.path)
                break
            except duckdb.IOException as exc:
                if time.monotonic() < deadline:  # a short-lived holder (a demo load) lets go within moments
                    time.sleep(0.05)
                    continue
                # Another process (the running server) holds the write lock: say so in one line.
                raise Unavailable(
                    f"the observation store {self.path} is held by another process; "
                    "run this inside `xingcheng serve` or go through the server's API"
                ) from exc
        self._lock = threading.Lock()
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS observation (datastream_id BIGINT NOT NULL, phenomenon_time TIMESTAMP NOT NULL, "
            "result DOUBLE NOT NULL, received_at TIMESTAMP NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS latest_value (datastream_id BIGINT PRIMARY KEY, phenomenon_time TIMESTAMP NOT NULL, "
            "result DOUBLE NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS observation_hourly (datastream_id BIGINT NOT NULL, bucket TIMESTAMP NOT NULL, "
            "avg DOUBLE NOT NULL, min DOUBLE NOT NULL, max DOUBLE NOT NULL, count BIGINT NOT NULL, "
            "PRIMARY KEY (datastream_id, bucket))"
        )
        self._conn.execute("CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, moment TIMESTAMP NOT NULL)")
        # The dashboard cache: every datastream's newest value, kept in memory beside its table.
        self._latest: dict[int, tuple[datetime, float]] = {
            int(ds): (t, float(v)) for ds, t, v in self._conn.execute("SELECT * FROM latest_value").fetchall()
        }

    def append(self, batch: pa.Table) -> pa.Array:
        batch = batch.select(BATCH_SCHEMA.names).cast(BATCH_SCHEMA)
        if batch.num_rows == 0:
            return pa.array([], pa.int64())
        with self._lock:
            conn = self._conn
            conn.register("incoming", batch)
            try:
                conn.execute("BEGIN")
                # First occurrence of each key in the batch, minus keys already stored. The time window
                # lets DuckDB skip row groups by their min/max instead of scanning the whole table.
                conn.execute(
                    """
                    CREATE OR REPLACE TEMP TABLE fresh AS
                    WITH firsts AS (
                        SELECT * FROM incoming
                        QUALIFY row_number() OVER (PARTITION BY datastream_id, phenomenon_time ORDER BY "index") = 1
                    ), window_ AS (SELECT min(phenomenon_time) lo, max(phenomenon_time) hi FROM incoming)
                    SELECT f.* FROM firsts f ANTI JOIN (
                        SELECT o.datastream_id, o.phenomenon_time FROM observation o, window_ w
                        WHERE o.phenomenon_time BETWEEN w.lo AND w.hi
                    ) s ON f.datastream_id = s.datastream_id AND f.phenomenon_time = s.phenomenon_time
                    """
                )
                conn.execute(
                    "INSERT INTO observation SELECT datastream_id, phenomenon_time, result, now()::TIMESTAMP "
                    "FROM fresh ORDER BY phenomenon_time, datastream_id"
                )
                newest = conn.execute(
                    """
                    INSERT INTO latest_value
                    SELECT datastream_id, max(phenomenon_time), arg_max(result, phenomenon_time) FROM fresh GROUP BY 1
                    ON CONFLICT (datastream_id) DO UPDATE SET phenomenon_time = excluded.phenomenon_time,
                        result = excluded.result WHERE excluded.phenomenon_time > latest_value.phenomenon_time
                    RETURNING datastream_id, phenomenon_time, result
                    """
                ).fetchall()
                duplicates = conn.sql(
                    'SELECT "index" FROM incoming ANTI JOIN fresh USING ("index") ORDER BY "index"'
                ).to_arrow_table()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                conn.unregister("incoming")
            for ds, t, v in newest:
                self._latest[int(ds)] = (t, float(v))
        return duplicates.column("index").combine_chunks()

    def range(self, datastream_id: int, *, start: datetime, end: datetime, limit: int) -> list[Point]:
        rows = self._query(
            "SELECT phenomenon_time, result FROM observation WHERE datastream_id = ? AND phenomenon_time >= ? "
            "AND phenomenon_time < ? ORDER BY phenomenon_time LIMIT ?",
            [datastream_id, _naive_utc(start), _naive_utc(end), limit],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def aggregate(self, datastream_id: int, *, start: datetime, end: datetime, interval: Interval) -> list[Bucket]:
        width = INTERVALS[interval]  # a fixed whitelist, never caller text, goes into the SQL
        lo, hi = _naive_utc(start), _naive_utc(end)
        watermark = self.rolled_up_until()
        raw_lo = max(lo, watermark) if watermark is not None else lo
        rows: list[tuple[Any, ...]] = []
        if watermark is not None and lo < watermark and interval in ("1h", "1day"):
            # Older than raw retention: the hourly roll-up answers (1 h as is, 1 day re-weighted by count).
            rows += self._query(
                f"SELECT time_bucket(INTERVAL '{width}', bucket) AS b, sum(avg * count) / sum(count), min(min), "  # noqa: S608
                "max(max), sum(count) FROM observation_hourly WHERE datastream_id = ? AND bucket >= ? AND bucket < ? "
                "GROUP BY b ORDER BY b",
                [datastream_id, lo, min(hi, watermark)],
            )
        if raw_lo < hi:
            rows += self._query(
                f"SELECT time_bucket(INTERVAL '{width}', phenomenon_time) AS bucket, avg(result), min(result), "  # noqa: S608
                "max(result), count(*) FROM observation WHERE datastream_id = ? AND phenomenon_time >= ? "
                "AND phenomenon_time < ? GROUP BY bucket ORDER BY bucket",
                [datastream_id, raw_lo, hi],
            )
        return [Bucket(_aware(t), float(a), float(mn), float(mx), int(c)) for t, a, mn, mx, c in rows]

    def latest_n(self, datastream_id: int, *, n: int) -> list[Point]:
        rows = self._query(
            "SELECT phenomenon_time, result FROM observation WHERE datastream_id = ? ORDER BY phenomenon_time DESC LIMIT ?",
            [datastream_id, n],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def latest(self, datastream_ids: list[int]) -> list[Latest]:
        found = ((ds, self._latest.get(ds)) for ds in datastream_ids)
        return [Latest(ds, _aware(hit[0]), hit[1]) for ds, hit in found if hit is not None]

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM observation", [])[0][0])

    def query(
        self, wanted: ObservationFilter, *, limit: int, offset: int = 0, descending: bool = True,
    ) -> list[tuple[int, datetime, float]]:
        where, params = wanted.where()
        direction = "DESC" if descending else "ASC"
        rows = self._query(
            f"SELECT datastream_id, phenomenon_time, result FROM observation WHERE {where} "  # noqa: S608 - whitelisted
            f"ORDER BY phenomenon_time {direction}, datastream_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [(int(ds), _aware(t), float(v)) for ds, t, v in rows]

    def count_matching(self, wanted: ObservationFilter) -> int:
        where, params = wanted.where()
        return int(self._query(f"SELECT count(*) FROM observation WHERE {where}", params)[0][0])  # noqa: S608

    def days(self) -> list[date]:
        rows = self._query("SELECT DISTINCT phenomenon_time::DATE FROM observation ORDER BY 1", [])
        return [d for (d,) in rows]

    def read_day(self, day: date) -> pa.Table:
        lo = datetime(day.year, day.month, day.day)
        with self._lock:
            table = self._conn.sql(
                "SELECT datastream_id, phenomenon_time, result, received_at FROM observation "
                "WHERE phenomenon_time >= $1 AND phenomenon_time < $2 ORDER BY datastream_id, phenomenon_time",
                params=[lo, lo + timedelta(days=1)],
            ).to_arrow_table()
        return table.cast(DAY_SCHEMA)  # type: ignore[union-attr, unused-ignore]

    def rolled_up_until(self) -> datetime | None:
        rows = self._query("SELECT moment FROM store_meta WHERE key = 'rolled_up_until'", [])
        return rows[0][0] if rows else None

    def roll_up_and_drop(self, before: datetime) -> tuple[int, int]:
        cutoff = _naive_utc(before)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                hours = conn.execute(
                    """
                    INSERT INTO observation_hourly
                    SELECT datastream_id, time_bucket(INTERVAL '1 hour', phenomenon_time) AS b, avg(result), min(result),
                           max(result), count(*) FROM observation WHERE phenomenon_time < ? GROUP BY datastream_id, b
                    ON CONFLICT (datastream_id, bucket) DO UPDATE SET
                        avg = (observation_hourly.avg * observation_hourly.count + excluded.avg * excluded.count)
                              / (observation_hourly.count + excluded.count),
                        min = least(observation_hourly.min, excluded.min),
                        max = greatest(observation_hourly.max, excluded.max),
                        count = observation_hourly.count + excluded.count
                    RETURNING 1
                    """,
                    [cutoff],
                ).fetchall()
                dropped = conn.execute("DELETE FROM observation WHERE phenomenon_time < ? RETURNING 1", [cutoff]).fetchall()
                conn.execute(
                    "INSERT INTO store_meta VALUES ('rolled_up_until', ?) ON CONFLICT (key) DO UPDATE "
                    "SET moment = greatest(store_meta.moment, excluded.moment)",
                    [cutoff],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(hours), len(dropped)

    def drop_rollup(self, before: datetime) -> int:
        rows = self._query("DELETE FROM observation_hourly WHERE bucket < ? RETURNING 1", [_naive_utc(before)])
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()


# ---- the process's one store ----------------------------------------------------------------

_store: ObservationStore | None = None
_store_lock = threading.Lock()
OPEN_WAIT_SECONDS = 3.0


@contextmanager
def borrowed_store() -> Iterator[ObservationStore]:
    """The process's store when it is open (inside ``serve``), else the file opened just for this block.

    For one-off writers such as ``demo load``: they must not keep the file locked once done.
    """
    if _store is not None:
        yield _store
        return
    store = _open_configured()
    try:
        yield store
    finally:
        store.close()


def _open_configured(path: Path | None = None) -> ObservationStore:
    """The backend ``XC_IOT__STORE`` names: the DuckDB file (default) or PostgreSQL at ``XC_DATABASE_URL``."""
    settings = get_settings()
    if settings.iot.store == "postgres":
        from xingcheng.iot.store_pg import PostgresObservationStore, psycopg_conninfo  # only when configured

        url = settings.database_url or ""
        if not url.startswith("postgresql"):
            raise Unavailable("XC_IOT__STORE=postgres needs XC_DATABASE_URL to name a PostgreSQL database")
        return PostgresObservationStore(psycopg_conninfo(url))
    return DuckDBObservationStore(path or store_path(), wait_seconds=OPEN_WAIT_SECONDS)


def store_path() -> Path:
    return get_settings().ensure_data_dir() / "observations.duckdb"


def open_store(path: Path | None = None) -> ObservationStore:
    """Open the process's store (idempotent); the app lifespan calls this at start-up."""
    global _store
    with _store_lock:
        if _store is None:
            _store = _open_configured(path)
        return _store


def get_store() -> ObservationStore:
    """The store for this process, opened on first use when the lifespan did not open it."""
    return _store if _store is not None else open_store()


def request_store() -> Iterator[ObservationStore]:
    """The store for one request (a FastAPI dependency): the process store when the lifespan opened it,
    else the file opened for this request only, so processes that have not been made the store's owner
    (test workers, a second server) never keep the file locked between requests."""
    with borrowed_store() as store:
        yield store


def close_store() -> None:
    """Close the process's store (app shutdown); the next ``get_store`` opens it again."""
    global _store
    with _store_lock:
        if _store is not None:
            _store.close()
            _store = None
