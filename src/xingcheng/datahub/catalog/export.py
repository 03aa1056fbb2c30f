"""Stored rows written out as CSV, JSON or Parquet, streamed batch by batch (never the whole table in memory).

Used for open-data downloads and other bulk exports of a dataset's current schema version. The part
list comes from ``catalog_batch`` (as for every read); the caller decides who may export what.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.errors import Unavailable
from xingcheng.datahub.catalog.models import Dataset, DatasetBatch
from xingcheng.datahub.catalog.storage import ParquetLake, RowStore, arrow_schema, default_store

BATCH_ROWS = 65_536
EXPORT_FORMATS = ("csv", "json", "parquet")


def stored_parts(session: Session, dataset: Dataset) -> list[tuple[str, int]]:
    """(part location, row count) of the dataset's current version, in upload order."""
    rows = session.execute(
        select(DatasetBatch.part, DatasetBatch.rows_accepted)
        .where(DatasetBatch.dataset_id == dataset.id, DatasetBatch.schema_version == dataset.schema_version,
               DatasetBatch.part.is_not(None)).order_by(DatasetBatch.id)
    ).all()
    return [(str(part), int(count)) for part, count in rows]


def part_paths(parts: Sequence[tuple[str, int]], store: RowStore | None = None) -> list[Path]:
    """Local file paths of the parts (the embedded Parquet lake); raises when a part is missing."""
    lake = store or default_store()
    if not isinstance(lake, ParquetLake):
        raise Unavailable("this row store keeps no local Parquet files")
    paths = [lake.root / location for location, _ in parts]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise Unavailable(f"part file {missing[0]} is missing from the lake")
    return paths


def iter_batches(parts: Sequence[tuple[str, int]], fields: Sequence[dict[str, Any]], *, store: RowStore | None = None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The rows as record batches of the schema's Arrow types, part after part."""
    schema = arrow_schema(fields)
    lake = store or default_store()
    if isinstance(lake, ParquetLake):
        for path in part_paths(parts, lake):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=schema.names):
                yield pa.RecordBatch.from_arrays([batch.column(n).cast(schema.field(n).type) for n in schema.names],
                                                 schema=schema)
        return
    total = sum(n for _, n in parts)  # another store: page through its read()
    for offset in range(0, total, batch_rows):
        yield from lake.read(parts, schema, offset=offset, limit=batch_rows).to_batches()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_chunks(batches: Iterator[pa.RecordBatch], fields: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (spreadsheet programs then read Chinese correctly) and one header row."""
    schema = arrow_schema(fields)
    buffer = io.BytesIO()
    header = ",".join(_csv_cell(f["name"]) for f in fields) + "\n"
    yield "\ufeff".encode() + header.encode()
    options = pacsv.WriteOptions(include_header=False)
    for batch in batches:
        if not batch.num_rows:
            continue
        buffer.seek(0)
        buffer.truncate()
        pacsv.write_csv(pa.Table.from_batches([batch], schema=schema), buffer, write_options=options)
        yield buffer.getvalue()


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


def json_chunks(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """One JSON array of row objects, written a batch at a time."""
    yield b"["
    first = True
    for batch in batches:
        rows = batch.to_pylist()
        if not rows:
            continue
        text = ",".join(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False, allow_nan=False)
                        for row in rows)
        yield (text if first else "," + text).encode()
        first = False
    yield b"]\n"


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def parquet_chunks(batches: Iterator[pa.RecordBatch], fields: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    """A Parquet file (zstd), one row group per batch, streamed as it is written."""
    sink = _Drain()
    writer = pq.ParquetWriter(sink, arrow_schema(fields), compression="zstd")
    try:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch)
                yield sink.take()
    finally:
        writer.close()
    yield sink.take()


def export_chunks(session: Session, dataset: Dataset, fields: Sequence[dict[str, Any]], fmt: str, *,
                  store: RowStore | None = None) -> Iterator[bytes]:
    """The dataset's current rows in ``fmt`` (csv | json | parquet). The part list is read now, the files lazily."""
    parts = stored_parts(session, dataset)
    if isinstance(store or default_store(), ParquetLake):
        part_paths(parts, store)  # fail before the first byte is sent, not halfway through
    batches = iter_batches(parts, fields, store=store)
    if fmt == "csv":
        return csv_chunks(batches, fields)
    if fmt == "json":
        return json_chunks(batches)
    if fmt == "parquet":
        return parquet_chunks(batches, fields)
    raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
