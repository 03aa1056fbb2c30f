"""Row storage behind one interface: Parquet part files in the lake, one directory per schema version.

``<data_dir>/lake/datasets/<owner>/<name>/v<version>/part-<uuid>.parquet``. The catalogue records
each part in ``catalog_batch``; reads take the part list from there, so a file whose transaction
rolled back is never read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from xingcheng.core.errors import Unavailable
from xingcheng.core.settings import get_settings

ARROW_TYPES: dict[str, Any] = {
    "string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
    "date": pa.date32(), "timestamp": pa.timestamp("s", tz="UTC"),
}


def arrow_schema(fields: Sequence[dict[str, Any]]) -> pa.Schema:
    return pa.schema([pa.field(f["name"], ARROW_TYPES[f["type"]]) for f in fields])


class RowStore(Protocol):
    def append(self, owner: str, name: str, version: int, table: pa.Table) -> str:
        """Write ``table`` as a new part; returns the part's location for ``read``."""

    def read(self, parts: Sequence[tuple[str, int]], schema: pa.Schema, *, offset: int, limit: int) -> pa.Table:
        """Rows ``offset`` … ``offset + limit`` of the parts (location, row count) in order."""


class ParquetLake:
    """The embedded store: zstd Parquet files under the data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def append(self, owner: str, name: str, version: int, table: pa.Table) -> str:
        relative = Path("datasets") / owner / name / f"v{version}" / f"part-{uuid.uuid4().hex}.parquet"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
        return relative.as_posix()

    def read(self, parts: Sequence[tuple[str, int]], schema: pa.Schema, *, offset: int, limit: int) -> pa.Table:
        # Skip whole parts by their recorded counts; only the parts holding the page are opened.
        pieces: list[pa.Table] = []
        start = 0
        for location, rows in parts:
            end = start + rows
            if end > offset and start < offset + limit:
                path = self.root / location
                if not path.is_file():
                    raise Unavailable(f"part file {location} is missing from the lake at {self.root}")
                table = pq.read_table(path, schema=schema)
                lo = max(offset - start, 0)
                wanted = limit - sum(p.num_rows for p in pieces)
                pieces.append(table.slice(lo, wanted))
            start = end
            if sum(p.num_rows for p in pieces) >= limit:
                break
        return pa.concat_tables(pieces) if pieces else schema.empty_table()


def default_store() -> RowStore:
    return ParquetLake(get_settings().data_dir / "lake")
