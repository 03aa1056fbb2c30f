"""Streaming reads of a dataset's stored rows with a resumable cursor over ``catalog_batch`` parts.

A :class:`Cursor` ``<batch id>.<row>`` says "every row of the batches before ``batch id`` and the
first ``row`` rows of that batch have been delivered". Batches only ever append, so the rows after
a cursor are exactly the rows that arrived since it was handed out. Reading streams each Parquet
part record batch by record batch (row groups before the cursor are skipped unread), so memory
stays bounded by the page size whatever the dataset's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.errors import Unavailable
from xingcheng.datahub.catalog.models import DatasetBatch

CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, order=True)
class Cursor:
    batch_id: int = 0
    row: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """``""``/``None`` is the start; otherwise ``<batch id>.<row>`` (``ValueError`` when malformed)."""
        if not text:
            return cls()
        match = _CURSOR.match(text)
        if match is None:
            raise ValueError(f"cursor {text!r} is not of the form <batch id>.<row>, e.g. 12.5000")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.batch_id}.{self.row}"


@dataclass(frozen=True)
class Part:
    batch_id: int
    location: str  # relative to the lake root
    rows: int


def parts_from(session: Session, *, dataset_id: int, schema_version: int, cursor: Cursor) -> list[Part]:
    """The stored parts of a dataset version that hold rows at or after ``cursor``, in batch order."""
    rows = session.execute(
        select(DatasetBatch.id, DatasetBatch.part, DatasetBatch.rows_accepted)
        .where(DatasetBatch.dataset_id == dataset_id, DatasetBatch.schema_version == schema_version,
               DatasetBatch.part.is_not(None), DatasetBatch.id >= cursor.batch_id)
        .order_by(DatasetBatch.id)
    ).all()
    return [Part(int(i), str(p), int(n)) for i, p, n in rows if not (i == cursor.batch_id and n <= cursor.row)]


def end_cursor(parts: Sequence[Part], cursor: Cursor) -> Cursor:
    """The cursor after every row of ``parts`` (``cursor`` itself when there are none)."""
    return Cursor(parts[-1].batch_id, parts[-1].rows) if parts else cursor


def iter_batches(root: Path, parts: Sequence[Part], schema: pa.Schema, cursor: Cursor, *, max_rows: int,
                 columns: Sequence[str] | None = None) -> Iterator[tuple[pa.RecordBatch, Cursor]]:
    """Record batches of at most ``max_rows`` rows after ``cursor``, each with the cursor just past it.

    ``columns`` reads only those columns (the others are never decoded); ``schema`` gives their types.
    """
    wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    for part in parts:
        if part.batch_id < cursor.batch_id:
            continue
        skip = cursor.row if part.batch_id == cursor.batch_id else 0
        if skip >= part.rows:
            continue
        path = root / part.location
        if not path.is_file():
            raise Unavailable(f"part file {part.location} is missing from the lake at {root}")
        with pq.ParquetFile(path) as handle:
            groups: list[int] = []
            position = 0  # the first row of the first group read
            for index in range(handle.metadata.num_row_groups):
                size = handle.metadata.row_group(index).num_rows
                if groups or position + size > skip:
                    groups.append(index)
                else:
                    position += size
            for batch in handle.iter_batches(batch_size=max_rows, row_groups=groups, columns=list(wanted.names)):
                start, position = position, position + batch.num_rows
                if position <= skip:
                    continue
                if start < skip:
                    batch = batch.slice(skip - start)
                if batch.schema != wanted:
                    batch = batch.cast(wanted)
                yield batch, Cursor(part.batch_id, position)


def read_page(root: Path, parts: Sequence[Part], schema: pa.Schema, cursor: Cursor, *, limit: int,
              columns: Sequence[str] | None = None) -> tuple[pa.Table, Cursor]:
    """Up to ``limit`` rows after ``cursor`` as one table, and the cursor after the last of them."""
    pieces: list[pa.RecordBatch] = []
    taken, after = 0, cursor
    for batch, batch_end in iter_batches(root, parts, schema, cursor, max_rows=limit, columns=columns):
        room = limit - taken
        if batch.num_rows > room:
            batch_end = Cursor(batch_end.batch_id, batch_end.row - (batch.num_rows - room))
            batch = batch.slice(0, room)
        pieces.append(batch)
        taken += batch.num_rows
        after = batch_end
        if taken >= limit:
            break
    wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    return (pa.Table.from_batches(pieces, schema=wanted) if pieces else wanted.empty_table()), after
