"""The streaming reader and the delivery path without a database: cursors over parts, masking, hashing."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xingcheng.core.auth import Principal
from xingcheng.core.grants.policy import ResourceDescriptor, decide
from xingcheng.datahub.catalog.stream import Cursor, Part, end_cursor, iter_batches, read_page
from xingcheng.datahub.exchange.delivery import encode, encode_bytes, json_items, masked_batches, masked_page

SCHEMA = pa.schema([pa.field("id_number", pa.string()), pa.field("name", pa.string()), pa.field("n", pa.int64())])


def _lake(root: Path, sizes: list[int]) -> list[Part]:
    parts, start = [], 0
    for batch_id, size in zip((3, 7, 8), sizes, strict=False):
        table = pa.table({"id_number": [f"43010219900101{i:04d}" for i in range(start, start + size)],
                          "name": ["张三丰" if i % 2 else "欧阳修" for i in range(start, start + size)],
                          "n": list(range(start, start + size))}, schema=SCHEMA)
        location = f"part-{batch_id}.parquet"
        pq.write_table(table, root / location, row_group_size=4)
        parts.append(Part(batch_id, location, size))
        start += size
    return parts


def _decision(fields: list[str]):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)

    class Grant:
        id, resource_key, grantee_department_code, grade_ceiling, purpose = 1, "dataset:gaj/x", "xzsp", "L3", "check"
        valid_from, expires_at, revoked_at = now - timedelta(days=1), now + timedelta(days=1), None

    Grant.fields = fields  # type: ignore[attr-defined]
    resource = ResourceDescriptor("dataset:gaj/x", "gaj", "L3", {"id_number": ("L3", "id_number"), "name": ("L3", "name"),
                                                                 "n": ("L1", None)})
    consumer = Principal(kind="staff", name="t", roles=frozenset({"department_staff"}), department_code="xzsp")
    return decide(consumer, resource, "check", [Grant()], now=now)  # type: ignore[list-item]


def test_cursor_parsing():
    assert Cursor.parse("") == Cursor() and Cursor.parse("12.5000") == Cursor(12, 5000)
    assert str(Cursor(7, 3)) == "7.3" and Cursor(7, 3) < Cursor(8, 0)
    for bad in ("x", "1", "1.", ".1", "-1.0", "01.2", "1.2.3", "1e3.0"):
        with pytest.raises(ValueError, match="cursor"):
            Cursor.parse(bad)


def test_pages_follow_the_cursor_across_parts(tmp_path):
    parts = _lake(tmp_path, [10, 5, 6])
    assert end_cursor(parts, Cursor()) == Cursor(8, 6)
    seen, cursor = [], Cursor()
    while True:
        page, after = read_page(tmp_path, parts, SCHEMA, cursor, limit=7)
        if page.num_rows == 0:
            assert after == cursor
            break
        seen.extend(page.column("n").to_pylist())
        cursor = after
    assert seen == list(range(21)) and cursor == Cursor(8, 6)
    # Resuming in the middle of a part skips whole row groups and the rows before the cursor.
    page, after = read_page(tmp_path, parts, SCHEMA, Cursor(3, 9), limit=3)
    assert page.column("n").to_pylist() == [9, 10, 11] and after == Cursor(7, 2)
    batches = list(iter_batches(tmp_path, parts, SCHEMA, Cursor(7, 5), max_rows=4, columns=["n"]))
    assert [b.num_rows for b, _ in batches] == [4, 2] and batches[-1][1] == Cursor(8, 6)
    assert batches[0][0].schema.names == ["n"]


def test_masked_delivery_withholds_and_masks(tmp_path):
    parts = _lake(tmp_path, [10, 5])
    decision = _decision(["id_number"])  # name is not granted: withheld
    page, after = masked_page(decision, tmp_path, parts, SCHEMA, Cursor(), limit=12)
    assert page.column_names == ["id_number", "n"] and after == Cursor(7, 2)
    assert page.column("id_number")[0].as_py() == "430102********0000"
    tables = [t for t, _ in masked_batches(_decision(["id_number", "name"]), tmp_path, parts, SCHEMA, Cursor(), max_rows=4)]
    assert {n for t in tables for n in t.column("name").to_pylist()} == {"欧阳*", "张**"}
    # The hash is of exactly the bytes delivered, whatever the format.
    buffer = io.BytesIO()
    records, size, digest = encode(tables, tables[0].schema, "parquet", buffer)
    assert records == 15 and size == len(buffer.getvalue()) and digest == hashlib.sha256(buffer.getvalue()).hexdigest()
    body, digest = encode_bytes(page, "arrow")
    assert digest == hashlib.sha256(body).hexdigest()
    items, digest, size = json_items(page.slice(0, 1))
    assert items == [{"id_number": "430102********0000", "n": 0}]
    assert digest == hashlib.sha256(b'[{"id_number":"430102********0000","n":0}]').hexdigest() and size == 42


def test_bench_code_path_smoke(tmp_path):
    import importlib.util
    import multiprocessing

    spec = importlib.util.spec_from_file_location("bench_exchange", Path(__file__).parents[3] / "bench" / "exchange.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    import sys

    sys.modules["bench_exchange"] = bench  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(bench)
    parts = bench.build_lake(tmp_path, 3000, 1000)
    queue = multiprocessing.get_context("fork").Queue()
    fields = ["id_number", "name", "phone", "address"]
    results = {}
    for path in ("old", "parquet", "arrow-lz4", "mask"):
        bench.run_path(str(tmp_path), parts, 512, path, fields, queue)
        results[path] = queue.get(timeout=30)
    assert all(r["records"] == 3000 for r in results.values())
    bench.run_baseline(str(tmp_path), parts, 200, fields, queue)
    assert queue.get(timeout=30)["records"] == 200
    delivered = pa.ipc.open_stream(pa.OSFile(str(tmp_path / "delivered-arrow-lz4.arrow"))).read_all()
    assert delivered.num_rows == 3000 and delivered.column("phone")[0].as_py()[3:7] == "****"
    for path in ("old", "parquet", "arrow-lz4"):
        file = bench.delivered_path(str(tmp_path), path)
        assert bench.file_sha256(file) == results[path]["sha256"]
        assert bench.same_rows(bench.delivered_path(str(tmp_path), "old"), file)
    # The comparison can fail: a delivery cut short is not the same rows.
    short = tmp_path / "short.parquet"
    pq.write_table(delivered.slice(0, 2999), short)
    assert not bench.same_rows(bench.delivered_path(str(tmp_path), "old"), short)
