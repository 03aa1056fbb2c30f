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

The reads both backends answer the same way (range, aggregates per datastream and per group of
datastreams, latest N, filtered queries, the data horizon) are written once in ``SqlReads`` over a
``Dialect`` that names each backend's tables, placeholder and time bucketing. Bulk reads hand out
Arrow tables (``latest_table``, ``sql_table``) so "all of the city" never becomes Python objects.
"""

from __future__ import annotations

import re
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
INTERVAL_SECONDS: dict[str, int] = {"1min": 60, "15min": 900, "1h": 3600, "1day": 86400}

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

# Every datastream's newest value, as ``latest_table`` hands it out (times are UTC).
LATEST_SCHEMA = pa.schema([
    ("datastream_id", pa.int64()),
    ("phenomenon_time", pa.timestamp("us", tz="UTC")),
    ("result", pa.float64()),
])

# ``aggregate_groups``: the caller's datastream → group mapping in, buckets per group out.
GROUPS_SCHEMA = pa.schema([("datastream_id", pa.int64()), ("group_key", pa.string())])
GROUP_BUCKETS_SCHEMA = pa.schema([
    ("group_key", pa.string()),
    ("bucket", pa.timestamp("us", tz="UTC")),
    ("avg", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("count", pa.int64()),
    ("datastreams", pa.int64()),
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

    dialect: Dialect

    def append(self, batch: pa.Table) -> pa.Array:
        """Store the new rows of a ``BATCH_SCHEMA`` table; return the ``index`` values that were duplicates."""
        ...

    def range(self, datastream_id: int, *, start: datetime, end: datetime, limit: int) -> list[Point]: ...

    def aggregate(self, datastream_id: int, *, start: datetime, end: datetime, interval: Interval) -> list[Bucket]: ...

    def aggregate_groups(self, groups: pa.Table, *, start: datetime, end: datetime, interval: Interval) -> pa.Table:
        """avg/min/max/count per bucket over each group of datastreams (``GROUPS_SCHEMA`` in,
        ``GROUP_BUCKETS_SCHEMA`` out, ordered by group and bucket)."""
        ...

    def latest_n(self, datastream_id: int, *, n: int) -> list[Point]: ...

    def latest(self, datastream_ids: list[int]) -> list[Latest]: ...

    def latest_table(self, datastream_ids: pa.Array | None = None) -> pa.Table:
        """The newest value of every datastream (or of those in ``datastream_ids``) as ``LATEST_SCHEMA``,
        ordered by datastream id: the bulk path for dashboards, no Python object per row."""
        ...

    def newest_time(self, *, since: datetime | None = None, before: datetime | None = None) -> datetime | None:
        """The newest stored phenomenon time in ``[since, before)`` (naive UTC), or None."""
        ...

    def sql_table(self, statement: str, params: dict[str, Any], tables: dict[str, pa.Table],
                  schema: pa.Schema | None = None) -> pa.Table:
        """Run a read-only statement in this store's dialect (``$name`` parameters) with ``tables``
        visible under their names; the result as Arrow (typed by ``schema`` when given)."""
        ...

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


# ---- what both backends share: SQL per dialect, bucket arithmetic, result shaping --------------

@dataclass(frozen=True)
class Dialect:
    """How one backend spells the shared reads: its table names, placeholder and time bucketing."""

    name: Literal["duckdb", "postgres"]
    raw: str
    hourly: str
    latest: str

    def bucket(self, interval: Interval, column: str) -> str:
        """The SQL expression of ``column``'s bucket start; buckets are aligned to UTC midnight in both."""
        width = INTERVALS[interval]  # a fixed whitelist, never caller text, goes into the SQL
        if self.name == "duckdb":
            return f"time_bucket(INTERVAL '{width}', {column})"
        return f"date_bin(INTERVAL '{width}', {column}, TIMESTAMP '2000-01-01')"


DUCKDB = Dialect("duckdb", raw="observation", hourly="observation_hourly", latest="latest_value")
POSTGRES = Dialect("postgres", raw="iot_obs_raw", hourly="iot_obs_hourly", latest="iot_obs_latest")


def split_at_watermark(
    start: datetime, end: datetime, interval: Interval, watermark: datetime | None,
) -> tuple[tuple[datetime, datetime] | None, tuple[datetime, datetime] | None]:
    """(roll-up part, raw part) of a naive-UTC ``[start, end)``: before the retention watermark only the
    hourly roll-up holds data, and only 1 h and 1 day buckets can be built from it."""
    raw_lo = max(start, watermark) if watermark is not None else start
    rolled = ((start, min(end, watermark)) if watermark is not None and start < watermark
              and interval in ("1h", "1day") else None)
    return rolled, ((raw_lo, end) if raw_lo < end else None)


def named_params(statement: str, style: Literal["duckdb", "postgres"]) -> str:
    """``$name`` placeholders (DuckDB's own) as the dialect wants them (psycopg: ``%(name)s``)."""
    return statement if style == "duckdb" else re.sub(r"\$([a-z_][a-z0-9_]*)", r"%(\1)s", statement)


class SqlReads:
    """The reads written once for both backends; each supplies ``dialect``, ``_query`` (``?`` placeholders)
    and ``sql_table``."""

    dialect: Dialect  # each backend sets its own at class level

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def sql_table(self, statement: str, params: dict[str, Any], tables: dict[str, pa.Table],
                  schema: pa.Schema | None = None) -> pa.Table:
        raise NotImplementedError

    def range(self, datastream_id: int, *, start: datetime, end: datetime, limit: int) -> list[Point]:
        rows = self._query(
            f"SELECT phenomenon_time, result FROM {self.dialect.raw} WHERE datastream_id = ? "  # noqa: S608 - table names are constants
            "AND phenomenon_time >= ? AND phenomenon_time < ? ORDER BY phenomenon_time LIMIT ?",
            [datastream_id, _naive_utc(start), _naive_utc(end), limit],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def aggregate(self, datastream_id: int, *, start: datetime, end: datetime, interval: Interval) -> list[Bucket]:
        d = self.dialect
        rolled, raw = split_at_watermark(_naive_utc(start), _naive_utc(end), interval, self.rolled_up_until())
        rows: list[tuple[Any, ...]] = []
        if rolled is not None:  # 1 h as is, 1 day re-weighted by count
            rows += self._query(
                f"SELECT {d.bucket(interval, 'bucket')} AS b, sum(avg * count) / sum(count), min(min), max(max), "  # noqa: S608
                f"CAST(sum(count) AS BIGINT) FROM {d.hourly} WHERE datastream_id = ? AND bucket >= ? AND bucket < ? "
                "GROUP BY b ORDER BY b",
                [datastream_id, *rolled],
            )
        if raw is not None:
            rows += self._query(
                f"SELECT {d.bucket(interval, 'phenomenon_time')} AS b, avg(result), min(result), max(result), "  # noqa: S608
                f"count(*) FROM {d.raw} WHERE datastream_id = ? AND phenomenon_time >= ? AND phenomenon_time < ? "
                "GROUP BY b ORDER BY b",
                [datastream_id, *raw],
            )
        return [Bucket(_aware(t), float(a), float(mn), float(mx), int(c)) for t, a, mn, mx, c in rows]

    def aggregate_groups(self, groups: pa.Table, *, start: datetime, end: datetime, interval: Interval) -> pa.Table:
        d = self.dialect
        groups = groups.select(GROUPS_SCHEMA.names).cast(GROUPS_SCHEMA)
        rolled, raw = split_at_watermark(_naive_utc(start), _naive_utc(end), interval, self.rolled_up_until())
        parts: list[str] = []
        params: dict[str, Any] = {}
        if rolled is not None:
            parts.append(
                f"SELECT g.group_key, {d.bucket(interval, 'h.bucket')} AS bucket, "  # noqa: S608 - constants only
                "sum(h.avg * h.count) / sum(h.count) AS avg, min(h.min) AS min, max(h.max) AS max, "
                "CAST(sum(h.count) AS BIGINT) AS count, count(DISTINCT h.datastream_id) AS datastreams "
                f"FROM {d.hourly} h JOIN agg_groups g ON g.datastream_id = h.datastream_id "
                "WHERE h.bucket >= $rolled_lo AND h.bucket < $rolled_hi GROUP BY 1, 2"
            )
            params |= {"rolled_lo": rolled[0], "rolled_hi": rolled[1]}
        if raw is not None:
            parts.append(
                f"SELECT g.group_key, {d.bucket(interval, 'o.phenomenon_time')} AS bucket, "  # noqa: S608
                "avg(o.result) AS avg, min(o.result) AS min, max(o.result) AS max, count(*) AS count, "
                f"count(DISTINCT o.datastream_id) AS datastreams FROM {d.raw} o "
                "JOIN agg_groups g ON g.datastream_id = o.datastream_id "
                "WHERE o.phenomenon_time >= $raw_lo AND o.phenomenon_time < $raw_hi GROUP BY 1, 2"
            )
            params |= {"raw_lo": raw[0], "raw_hi": raw[1]}
        if not parts or groups.num_rows == 0:
            return GROUP_BUCKETS_SCHEMA.empty_table()
        statement = " UNION ALL ".join(f"({part})" for part in parts) + " ORDER BY 1, 2"
        naive = GROUP_BUCKETS_SCHEMA.set(1, pa.field("bucket", pa.timestamp("us")))
        return self.sql_table(statement, params, {"agg_groups": groups}, naive).cast(GROUP_BUCKETS_SCHEMA)

    def latest_n(self, datastream_id: int, *, n: int) -> list[Point]:
        rows = self._query(
            f"SELECT phenomenon_time, result FROM {self.dialect.raw} WHERE datastream_id = ? "  # noqa: S608
            "ORDER BY phenomenon_time DESC LIMIT ?",
            [datastream_id, n],
        )
        return [Point(_aware(t), float(v)) for t, v in rows]

    def newest_time(self, *, since: datetime | None = None, before: datetime | None = None) -> datetime | None:
        if since is None and before is None:
            # The latest-value table holds each datastream's newest reading: its maximum is the store's.
            rows = self._query(f"SELECT max(phenomenon_time) FROM {self.dialect.latest}", [])  # noqa: S608
        else:
            clauses, params = ["TRUE"], list[Any]()
            for op, moment in ((">=", since), ("<", before)):
                if moment is not None:
                    clauses.append(f"phenomenon_time {op} ?")
                    params.append(_naive_utc(moment))
            rows = self._query(
                f"SELECT max(phenomenon_time) FROM {self.dialect.raw} WHERE {' AND '.join(clauses)}", params,  # noqa: S608
            )
        value = rows[0][0] if rows else None
        return value if isinstance(value, datetime) else None

    def count(self) -> int:
        return int(self._query(f"SELECT count(*) FROM {self.dialect.raw}", [])[0][0])  # noqa: S608

    def query(
        self, wanted: ObservationFilter, *, limit: int, offset: int = 0, descending: bool = True,
    ) -> list[tuple[int, datetime, float]]:
        where, params = wanted.where()
        direction = "DESC" if descending else "ASC"
        rows = self._query(
            f"SELECT datastream_id, phenomenon_time, result FROM {self.dialect.raw} WHERE {where} "  # noqa: S608 - whitelisted
            f"ORDER BY phenomenon_time {direction}, datastream_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [(int(ds), _aware(t), float(v)) for ds, t, v in rows]

    def count_matching(self, wanted: ObservationFilter) -> int:
        where, params = wanted.where()
        return int(self._query(f"SELECT count(*) FROM {self.dialect.raw} WHERE {where}", params)[0][0])  # noqa: S608

    def days(self) -> list[date]:
        rows = self._query(f"SELECT DISTINCT CAST(phenomenon_time AS DATE) FROM {self.dialect.raw} ORDER BY 1", [])  # noqa: S608
        return [d for (d,) in rows]

    def rolled_up_until(self) -> datetime | None:
        table = "store_meta" if self.dialect.name == "duckdb" else "iot_obs_meta"
        rows = self._query(f"SELECT moment FROM {table} WHERE key = 'rolled_up_until'", [])  # noqa: S608
        return rows[0][0] if rows else None


# ---- the embedded backend ----------------------------------------------------------------------

class DuckDBObservationStore(SqlReads):
    """The embedded backend: one DuckDB file, appended in Arrow batches, one connection behind a lock."""

    dialect = DUCKDB

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

    def latest(self, datastream_ids: list[int]) -> list[Latest]:
        found = ((ds, self._latest.get(ds)) for ds in datastream_ids)
        return [Latest(ds, _aware(hit[0]), hit[1]) for ds, hit in found if hit is not None]

    def latest_table(self, datastream_ids: pa.Array | None = None) -> pa.Table:
        statement = "SELECT datastream_id, phenomenon_time, result FROM latest_value"
        tables = {}
        if datastream_ids is not None:
            statement += " SEMI JOIN wanted USING (datastream_id)"
            tables["wanted"] = pa.table({"datastream_id": pa.array(datastream_ids, pa.int64())})
        naive = LATEST_SCHEMA.set(1, pa.field("phenomenon_time", pa.timestamp("us")))
        return self.sql_table(statement + " ORDER BY datastream_id", {}, tables, naive).cast(LATEST_SCHEMA)

    def sql_table(self, statement: str, params: dict[str, Any], tables: dict[str, pa.Table],
                  schema: pa.Schema | None = None) -> pa.Table:
        with self._lock:  # the one connection: registrations are visible to this statement only
            for name, table in tables.items():
                self._conn.register(name, table)
            try:
                result = self._conn.sql(statement, params=params or None).to_arrow_table()
            finally:
                for name in tables:
                    self._conn.unregister(name)
        return result.cast(schema) if schema is not None else result  # type: ignore[union-attr, unused-ignore]

    def read_day(self, day: date) -> pa.Table:
        lo = datetime(day.year, day.month, day.day)
        with self._lock:
            table = self._conn.sql(
                "SELECT datastream_id, phenomenon_time, result, received_at FROM observation "
                "WHERE phenomenon_time >= $1 AND phenomenon_time < $2 ORDER BY datastream_id, phenomenon_time",
                params=[lo, lo + timedelta(days=1)],
            ).to_arrow_table()
        return table.cast(DAY_SCHEMA)  # type: ignore[union-attr, unused-ignore]

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
