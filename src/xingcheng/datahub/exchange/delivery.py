"""The delivery path every channel shares: stream stored rows, mask them per the decision, encode, hash.

Rows are read record batch by record batch (``catalog.stream``), only the columns the decision
lets out are decoded, masking is ``AccessDecision.apply_table`` (``core.masking.mask_table``:
Arrow compute kernels, no Python loop over rows), and the encoded bytes pass through a SHA-256
as they are written, so the hash the consumer gets is the hash of exactly what it received.
The service, the push runner and ``bench/exchange.py`` all use these functions.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.ipc as ipc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from xingcheng.core.grants.policy import AccessDecision
from xingcheng.datahub.catalog.stream import Cursor, Part, iter_batches

BinaryFormat = Literal["arrow", "parquet"]
MIN_CHUNK_ROWS = 4096  # below this a page is masked in one piece: threads would cost more than they save
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json", "arrow": "application/vnd.apache.arrow.stream", "parquet": "application/vnd.apache.parquet",
}


def delivered_columns(decision: AccessDecision, schema: pa.Schema) -> list[str]:
    """The stored columns the decision lets out (withheld ones are never even read)."""
    return [name for name in schema.names if decision.treatment(name).action != "withheld"]


def treatments(decision: AccessDecision, schema: pa.Schema) -> dict[str, str]:
    return {n: t.action if t.action != "masked" else f"masked:{t.level}" for n in schema.names
            for t in [decision.treatment(n)]}


def masked_batches(decision: AccessDecision, root: Path, parts: Sequence[Part], schema: pa.Schema, cursor: Cursor, *,
                   max_rows: int) -> Iterator[tuple[pa.Table, Cursor]]:
    """The rows after ``cursor`` as the decision lets them out, at most ``max_rows`` per table."""
    columns = delivered_columns(decision.require(), schema)
    for batch, after in iter_batches(root, parts, schema, cursor, max_rows=max_rows, columns=columns):
        yield decision.apply_table(_chunked(batch)), after


def _chunked(batch: pa.RecordBatch) -> pa.Table:
    """``batch`` as a table of one zero-copy slice per core: ``mask_table`` masks chunks in parallel threads."""
    cores = max(1, pa.cpu_count())
    if cores == 1 or batch.num_rows < 2 * MIN_CHUNK_ROWS:
        return pa.Table.from_batches([batch])
    size = -(-batch.num_rows // cores)
    return pa.Table.from_batches([batch.slice(start, size) for start in range(0, batch.num_rows, size)])


def masked_page(decision: AccessDecision, root: Path, parts: Sequence[Part], schema: pa.Schema, cursor: Cursor, *,
                limit: int) -> tuple[pa.Table, Cursor]:
    """Up to ``limit`` masked rows after ``cursor`` as one table, and the cursor after them."""
    pieces: list[pa.Table] = []
    taken, after = 0, cursor
    for table, end in masked_batches(decision, root, parts, schema, cursor, max_rows=limit):
        room = limit - taken
        if table.num_rows > room:
            end = Cursor(end.batch_id, end.row - (table.num_rows - room))
            table = table.slice(0, room)
        pieces.append(table)
        taken, after = taken + table.num_rows, end
        if taken >= limit:
            break
    if not pieces:
        columns = delivered_columns(decision, schema)
        return decision.apply_table(pa.schema([schema.field(c) for c in columns]).empty_table()), after
    return pa.concat_tables(pieces), after


class HashingSink(io.RawIOBase):
    """A write-only stream that hashes (SHA-256) and counts what passes, and forwards it to ``target``."""

    def __init__(self, target: BinaryIO | None = None) -> None:
        super().__init__()
        self.target, self.digest, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        if self.target is not None:
            self.target.write(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


class PageWriter:
    """Writes masked tables as one Arrow IPC stream or one Parquet file into a ``HashingSink``."""

    def __init__(self, sink: HashingSink, schema: pa.Schema, fmt: BinaryFormat) -> None:
        self.sink, self.format, self.records = sink, fmt, 0
        handle = pa.PythonFile(sink, mode="w")
        self._writer: Any = (ipc.new_stream(handle, schema) if fmt == "arrow"
                             else pq.ParquetWriter(handle, schema, compression="zstd"))
        self._handle = handle

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.records += table.num_rows

    def close(self) -> str:
        self._writer.close()
        self._handle.flush()
        return self.sink.hexdigest()


def encode(tables: Iterable[pa.Table], schema: pa.Schema, fmt: BinaryFormat, target: BinaryIO | None = None,
           ) -> tuple[int, int, str]:
    """Write ``tables`` in ``fmt`` to ``target`` (or nowhere); returns (records, bytes, SHA-256 hex)."""
    sink = HashingSink(target)
    writer = PageWriter(sink, schema, fmt)
    for table in tables:
        writer.write(table)
    digest = writer.close()
    return writer.records, sink.size, digest


def encode_bytes(table: pa.Table, fmt: BinaryFormat) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    _, _, digest = encode([table], table.schema, fmt, buffer)
    return buffer.getvalue(), digest


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def canonical_bytes(items: list[dict[str, Any]]) -> bytes:
    """The bytes ``catalog.service.canonical_hash`` hashes: keys sorted, no spaces, UTF-8, no NaN."""
    return json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def json_items(table: pa.Table) -> tuple[list[dict[str, Any]], str, int]:
    """Rows as JSON objects, the SHA-256 hex of their canonical JSON and its length in bytes.

    The same digest as ``catalog.service.canonical_hash``: a consumer recomputes it from the items.
    """
    items = [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]
    text = canonical_bytes(items)
    return items, hashlib.sha256(text).hexdigest(), len(text)
