"""Export observations to the Hive-partitioned Parquet lake: ``<data_dir>/lake/observations/date=…/property=…/``.

Spark, Trino and DuckDB read history at any scale from there
(``read_parquet('lake/observations/**/*.parquet', hive_partitioning=true)``). One UTC day is the unit
of work: its rows are read from the store, labelled with their observed property from the registry,
written into a fresh directory beside the lake and swapped in for ``date=<day>`` — so re-exporting a day
replaces it (idempotent) and readers never see half a day. Files hold ``datastream_id``,
``phenomenon_time`` (UTC), ``result`` and ``received_at``; ``date`` and ``property`` come from the path.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.dataset as ds  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.settings import get_settings
from xingcheng.iot.models import Datastream, ObservedProperty
from xingcheng.iot.store import ObservationStore

UNKNOWN_PROPERTY = "unknown"  # rows of a datastream no longer in the registry


@dataclass
class ExportReport:
    days: int = 0
    rows: int = 0
    files: int = 0
    seconds: float = 0.0
    root: str = ""
    per_day: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lake_root() -> Path:
    return get_settings().ensure_data_dir() / "lake" / "observations"


def property_names(session: Session) -> tuple[pa.Array, pa.Array]:
    """(datastream ids, property names) of the whole registry, as Arrow arrays for a vectorised lookup."""
    rows = session.execute(
        select(Datastream.id, ObservedProperty.name)
        .join(ObservedProperty, Datastream.observed_property_id == ObservedProperty.id)
    ).all()
    return pa.array([r[0] for r in rows], pa.int64()), pa.array([r[1] for r in rows], pa.string())


def export_observations(
    session: Session, store: ObservationStore, *, root: Path | None = None,
    since: date | None = None, until: date | None = None,
) -> ExportReport:
    """Write each stored day in ``[since, until]`` (inclusive) to the lake, replacing what was there."""
    started = time.perf_counter()
    root = root or lake_root()
    root.mkdir(parents=True, exist_ok=True)
    report = ExportReport(root=str(root))
    ids, names = property_names(session)
    for day in store.days():
        if (since and day < since) or (until and day > until):
            continue
        table = store.read_day(day)
        if table.num_rows == 0:
            continue
        positions = pc.index_in(table.column("datastream_id"), value_set=ids)
        labels = pc.fill_null(pc.take(names, positions), UNKNOWN_PROPERTY)
        files = _write_day(root, day, table.append_column("property", labels))
        report.days += 1
        report.rows += table.num_rows
        report.files += files
        report.per_day[day.isoformat()] = table.num_rows
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _write_day(root: Path, day: date, table: pa.Table) -> int:
    staging = root / f".staging-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
    target = root / f"date={day.isoformat()}"
    try:
        ds.write_dataset(
            table, staging, format="parquet", partitioning=ds.partitioning(pa.schema([("property", pa.string())]),
                                                                           flavor="hive"),
            basename_template="part-{i}.parquet", existing_data_behavior="error",
            file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
            max_rows_per_file=5_000_000, max_rows_per_group=1_000_000,
        )
        files = sum(1 for _ in staging.rglob("*.parquet"))
        retired = root / f".retired-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
        if target.exists():
            target.rename(retired)  # two renames: the day is briefly absent, never half-written
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
        return files
    finally:
        shutil.rmtree(staging, ignore_errors=True)
