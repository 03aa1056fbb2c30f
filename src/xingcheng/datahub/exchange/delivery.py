"""The delivery path every channel shares: stream stored rows, mask them per the decision, encode, hash.

Rows are read record batch by record batch (``catalog.stream``), only the columns the decision
lets out are decoded, masking is ``AccessDecision.apply_table`` (``core.masking.mask_table``:
Arrow compute kernels, no Python loop over rows), and the encoded bytes pass through a SHA-256
as they are written, so the hash the consumer gets is the hash of exactly what it received.
The consumer picks the encoding: an Arrow IPC stream (uncompressed, LZ4 or zstd buffers) or a
Parquet file (zstd by default, or LZ4, Snappy, none). Long deliveries run as a pipeline over
bounded queues — reading, masking and encoding + hashing each in their own thread (Arrow,
Parquet and ``hashlib`` release the GIL on large buffers) — so memory stays a few pages whatever
the dataset's size. The service, the push runner and ``bench/exchange.py`` all use these functions.
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.ipc as ipc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from xingcheng.core.errors import Invalid
from xingcheng.core.grants.policy import AccessDecision
from xingcheng.datahub.catalog.stream import Cursor, Part, iter_batches

BinaryFormat = Literal["arrow", "parquet"]
Compression = Literal["none", "lz4", "zstd", "snappy"]
MIN_CHUNK_ROWS = 4096  # below this a page is masked in one piece: threads would cost more than they save
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json", "arrow": "application/vnd.apache.arrow.stream", "parquet": "application/vnd.apache.parquet",
}
# Per format: the codecs it can carry, the default first (Arrow IPC buffers know only LZ4 frame and zstd).
COMPRESSIONS: dict[str, tuple[str, ...]] = {"arrow": ("none", "lz4", "zstd"), "parquet": ("zstd", "lz4", "snappy", "none")}
# Masked at ``partial`` these kinds stay nearly unique per row (430102********1234): a Parquet
# dictionary would only be built, overflow and be thrown away. Masked names and addresses repeat.
_HIGH_CARDINALITY_KINDS = frozenset({"id_number", "phone", "bank_card", "email", "free_text"})
QUEUE_PAGES = 2  # pages waiting between two pipeline stages: the memory bound of a delivery
WRITE_BUFFER = 1 << 20  # the encoders' many small writes reach the Python sink as 1 MiB blocks
_T = TypeVar("_T")


@dataclass(frozen=True)
class WriteOptions:
    """How a page stream is encoded; ``dictionary`` / ``statistics``: True, False or the Parquet columns that get them."""

    compression: str = "none"
    dictionary: bool | tuple[str, ...] = True
    statistics: bool | tuple[str, ...] = True


def write_options(fmt: BinaryFormat, compression: str | None = None, decision: AccessDecision | None = None,
                  schema: pa.Schema | None = None) -> WriteOptions:
    """The encoding of a delivery: ``compression`` checked against ``fmt`` (``Invalid`` when it cannot carry it).

    For Parquet with a decision, masked columns get no statistics (min/max of masked values help no
    reader) and nearly unique masked kinds no dictionary; clear columns keep both.
    """
    allowed = COMPRESSIONS[fmt]
    chosen = compression or allowed[0]
    if chosen not in allowed:
        raise Invalid(f"{fmt} pages can be compressed with {', '.join(allowed)}, not {chosen!r}")
    if fmt != "parquet" or decision is None or schema is None:
        return WriteOptions(chosen)
    names = [n for n in schema.names if decision.treatment(n).action != "withheld"]
    masked = {n: decision.treatment(n) for n in names if decision.treatment(n).action == "masked"}
    unique = {n for n, t in masked.items() if t.level == "partial" and t.kind in _HIGH_CARDINALITY_KINDS}
    return WriteOptions(chosen, dictionary=tuple(n for n in names if n not in unique),
                        statistics=tuple(n for n in names if n not in masked))


def delivered_columns(decision: AccessDecision, schema: pa.Schema) -> list[str]:
    """The stored columns the decision lets out (withheld ones are never even read)."""
    return [name for name in schema.names if decision.treatment(name).action != "withheld"]


def treatments(decision: AccessDecision, schema: pa.Schema) -> dict[str, str]:
    return {n: t.action if t.action != "masked" else f"masked:{t.level}" for n in schema.names
            for t in [decision.treatment(n)]}


def masked_batches(decision: AccessDecision, root: Path, parts: Sequence[Part], schema: pa.Schema, cursor: Cursor, *,
                   max_rows: int, prefetch: bool = False) -> Iterator[tuple[pa.Table, Cursor]]:
    """The rows after ``cursor`` as the decision lets them out, at most ``max_rows`` per table.

    ``prefetch`` reads the next pages in a background thread while this one is masked.
    """
    columns = delivered_columns(decision.require(), schema)
    batches = iter_batches(root, parts, schema, cursor, max_rows=max_rows, columns=columns)
    for batch, after in (prefetched(batches) if prefetch else batches):
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

    def __init__(self, sink: HashingSink, schema: pa.Schema, fmt: BinaryFormat, options: WriteOptions | None = None,
                 ) -> None:
        self.sink, self.format, self.records = sink, fmt, 0
        self.options = options or write_options(fmt)
        self._handle = pa.PythonFile(sink, mode="w")
        self._buffered = pa.BufferedOutputStream(self._handle, WRITE_BUFFER)
        codec = None if self.options.compression == "none" else self.options.compression
        self._writer: Any = (
            ipc.new_stream(self._buffered, schema, options=ipc.IpcWriteOptions(compression=codec)) if fmt == "arrow"
            else pq.ParquetWriter(self._buffered, schema, compression=codec or "none",
                                  use_dictionary=_columns(self.options.dictionary),
                                  write_statistics=_columns(self.options.statistics)))

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.records += table.num_rows

    def close(self) -> str:
        self._writer.close()
        self._buffered.flush()
        self._handle.flush()
        return self.sink.hexdigest()


def _columns(setting: bool | tuple[str, ...]) -> bool | list[str]:
    return setting if isinstance(setting, bool) else list(setting)


def encode(tables: Iterable[pa.Table], schema: pa.Schema, fmt: BinaryFormat, target: BinaryIO | None = None,
           options: WriteOptions | None = None, *, pipelined: bool = True) -> tuple[int, int, str]:
    """Write ``tables`` in ``fmt`` to ``target`` (or nowhere); returns (records, bytes, SHA-256 hex).

    ``pipelined``: encoding and hashing run in a second thread while the caller's thread produces
    the next table (at most ``QUEUE_PAGES`` tables wait in between).
    """
    sink = HashingSink(target)
    writer = PageWriter(sink, schema, fmt, options)
    if pipelined:
        drain(tables, writer.write)
    else:
        for table in tables:
            writer.write(table)
    digest = writer.close()
    return writer.records, sink.size, digest


# ---- pipeline stages --------------------------------------------------------------------------

_DONE = object()


def drain(items: Iterable[_T], consume: Callable[[_T], None], *, depth: int = QUEUE_PAGES) -> None:
    """``consume`` every item in a worker thread while this thread produces the next ones.

    The first error of either side stops both and is raised here; at most ``depth`` items wait.
    """
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failed: list[BaseException] = []

    def work() -> None:
        while (item := waiting.get()) is not _DONE:
            if failed:
                continue  # keep taking, so the producer never blocks on a full queue
            try:
                consume(item)
            except BaseException as exc:  # noqa: BLE001 — re-raised in the producer's thread
                failed.append(exc)

    worker = threading.Thread(target=work, name="xc-exchange-encode", daemon=True)
    worker.start()
    try:
        for item in items:
            if failed:
                break
            waiting.put(item)
    finally:
        waiting.put(_DONE)
        worker.join()
    if failed:
        raise failed[0]


def prefetched(items: Iterator[_T], *, depth: int = QUEUE_PAGES) -> Iterator[_T]:
    """``items`` produced by a background thread up to ``depth`` ahead; stops it when abandoned."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        waiting.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put((False, _DONE))
        except BaseException as exc:  # noqa: BLE001 — re-raised in the consumer's thread
            waiting.put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # the reader's files are closed in the thread that opened them

    worker = threading.Thread(target=work, name="xc-exchange-read", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = waiting.get()
            if ok:
                yield item
            elif item is _DONE:
                return
            else:
                raise item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a put waiting on the full queue
            try:
                waiting.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def encode_bytes(table: pa.Table, fmt: BinaryFormat, options: WriteOptions | None = None) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    _, _, digest = encode([table], table.schema, fmt, buffer, options, pipelined=False)
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
