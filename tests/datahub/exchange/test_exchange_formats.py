"""Delivery formats: Arrow IPC and Parquet pages with their codecs carry exactly the per-row masked rows,
the pipeline's threads fail loudly and stop, and consumers choose the format on pulls and file pushes."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from exchange_testing import EXCHANGE, approved_request, make_dataset, read_arrow

from xingcheng.core.auth import Principal
from xingcheng.core.errors import Invalid
from xingcheng.core.grants.policy import ResourceDescriptor, decide
from xingcheng.core.settings import get_settings
from xingcheng.datahub.catalog.stream import Cursor, Part
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.delivery import (
    COMPRESSIONS,
    drain,
    encode,
    masked_batches,
    prefetched,
    write_options,
)

SCHEMA = pa.schema([pa.field(n, pa.string()) for n in ("id_number", "name", "phone", "address", "email", "note")]
                   + [pa.field("n", pa.int64())])
KINDS = {"id_number": "id_number", "name": "name", "phone": "phone", "address": "address", "email": "email"}
NAMES = ["张三", "欧阳修", "司马相如", "李", "", None, "诸葛亮", "王小明"]
ADDRESSES = ["湖南省长沙市岳麓区麓山南路1号", "长沙县星沙街道", "浏阳市集里街道", "某小区3栋", "", None]
CASES = [(fmt, codec) for fmt, codecs in COMPRESSIONS.items() for codec in (None, *codecs[1:])]


def _value(options: list[Any], i: int) -> Any:
    return options[i % len(options)]


def _rows(start: int, count: int) -> pa.Table:
    rows = range(start, start + count)
    return pa.table({
        "id_number": [_value([f"43010219900101{i % 10_000:04d}", "1234567890", "", None], i) for i in rows],
        "name": [_value(NAMES, i) for i in rows],
        "phone": [_value([f"138{i % 10**8:08d}", "12345678", "+8613800001111", None], i) for i in rows],
        "address": [_value(ADDRESSES, i) for i in rows],
        "email": [_value([f"user{i}@example.com", "no-at-sign", "@x.cn", None], i) for i in rows],
        "note": [f"备注{i % 13}" for i in rows],  # L4, not granted: withheld
        "n": list(rows),
    }, schema=SCHEMA)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Part]]:
    # 9,000 + 3,500 rows: the first pages are big enough to be masked as two chunks in parallel threads.
    root = tmp_path_factory.mktemp("lake")
    parts, start = [], 0
    for batch_id, size in ((4, 9000), (9, 3500)):
        pq.write_table(_rows(start, size), root / f"part-{batch_id}.parquet", row_group_size=2048)
        parts.append(Part(batch_id, f"part-{batch_id}.parquet", size))
        start += size
    return root, parts


def _decision():  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)

    class Grant:
        id, resource_key, grantee_department_code, grade_ceiling, purpose = 1, "dataset:gaj/x", "xzsp", "L3", "check"
        valid_from, expires_at, revoked_at = now - timedelta(days=1), now + timedelta(days=1), None
        fields = [*KINDS, "n"]

    described = {name: ("L3", kind) for name, kind in KINDS.items()} | {"note": ("L4", None), "n": ("L1", None)}
    resource = ResourceDescriptor("dataset:gaj/x", "gaj", "L4", described)
    consumer = Principal(kind="staff", name="t", roles=frozenset({"department_staff"}), department_code="xzsp")
    return decide(consumer, resource, "check", [Grant()], now=now)  # type: ignore[list-item]


@pytest.fixture(scope="module")
def per_row(lake: tuple[Path, list[Part]]) -> list[dict[str, Any]]:
    """The per-row Python path over the same rows: the reference every format must reproduce."""
    root, parts = lake
    decision = _decision()
    raw = pa.concat_tables([pq.read_table(root / p.location) for p in parts])
    return [decision.apply(row) for row in raw.to_pylist()]


def _decode(body: bytes, fmt: str) -> pa.Table:
    return read_arrow(body) if fmt == "arrow" else pq.read_table(io.BytesIO(body))


@pytest.mark.parametrize(("fmt", "codec"), CASES)
def test_every_format_delivers_the_per_row_masking(lake, per_row, fmt, codec):  # type: ignore[no-untyped-def]
    root, parts = lake
    decision = _decision()
    options = write_options(fmt, codec, decision, SCHEMA)
    tables = (t for t, _ in masked_batches(decision, root, parts, SCHEMA, Cursor(), max_rows=8192, prefetch=True))
    empty = decision.apply_table(SCHEMA.empty_table().select([n for n in SCHEMA.names if n != "note"]))
    buffer = io.BytesIO()
    records, size, digest = encode(tables, empty.schema, fmt, buffer, options)
    body = buffer.getvalue()
    assert records == len(per_row) == 12_500 and size == len(body)
    assert digest == hashlib.sha256(body).hexdigest()  # the hash the consumer verifies is of the bytes it got
    delivered = _decode(body, fmt)
    assert delivered.column_names == ["id_number", "name", "phone", "address", "email", "n"]
    assert delivered.to_pylist() == per_row
    assert delivered.column("id_number")[0].as_py() == "430102********0000" and per_row[5]["name"] is None


def test_parquet_options_and_codecs(lake):  # type: ignore[no-untyped-def]
    root, parts = lake
    decision = _decision()
    options = write_options("parquet", "lz4", decision, SCHEMA)
    # Nearly unique masked kinds get no dictionary; masked columns no statistics; clear columns keep both.
    assert options.dictionary == ("name", "address", "n") and options.statistics == ("n",)
    tables = [t for t, _ in masked_batches(decision, root, parts, SCHEMA, Cursor(), max_rows=4096)]
    buffer = io.BytesIO()
    encode(tables, tables[0].schema, "parquet", buffer, options)
    meta = pq.ParquetFile(io.BytesIO(buffer.getvalue())).metadata.row_group(0)
    chunks = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert not chunks["id_number"].has_dictionary_page and chunks["name"].has_dictionary_page
    assert not chunks["phone"].is_stats_set and chunks["n"].is_stats_set
    assert {c.compression for c in chunks.values()} == {"LZ4"}
    assert write_options("arrow").compression == "none" and write_options("parquet").compression == "zstd"
    for fmt, codec in (("arrow", "snappy"), ("parquet", "gzip"), ("arrow", "brotli")):
        with pytest.raises(Invalid, match="compressed with"):
            write_options(fmt, codec)  # type: ignore[arg-type]


def test_arrow_codecs_change_the_bytes_not_the_rows(lake):  # type: ignore[no-untyped-def]
    root, parts = lake
    decision = _decision()
    page = next(masked_batches(decision, root, parts, SCHEMA, Cursor(), max_rows=9000))[0]
    bodies = {}
    for codec in COMPRESSIONS["arrow"]:
        buffer = io.BytesIO()
        encode([page], page.schema, "arrow", buffer, write_options("arrow", codec), pipelined=False)
        bodies[codec] = buffer.getvalue()
        assert ipc.open_stream(io.BytesIO(bodies[codec])).read_all().equals(page.combine_chunks())
    assert len(bodies["lz4"]) < len(bodies["none"]) and len(bodies["zstd"]) < len(bodies["none"])


def test_drain_stops_both_sides_on_the_first_error():
    produced: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(1000):
            produced.append(i)
            yield i

    def consume(i: int) -> None:
        if i == 3:
            raise ValueError("encoder broke")

    with pytest.raises(ValueError, match="encoder broke"):
        drain(items(), consume, depth=2)
    assert len(produced) < 20  # the producer stopped soon after, not after all 1000 items

    consumed: list[int] = []

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        yield 2
        raise OSError("part file vanished")

    with pytest.raises(OSError, match="vanished"):
        drain(failing(), consumed.append)
    assert consumed == [1, 2]  # what was produced before the failure was still consumed, in order


def test_prefetch_propagates_errors_and_stops_when_abandoned():
    closed = threading.Event()

    def endless():  # type: ignore[no-untyped-def]
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    taken = []
    for i in prefetched(endless(), depth=2):
        taken.append(i)
        if i == 4:
            break
    assert taken == [0, 1, 2, 3, 4]
    assert closed.wait(5) and threading.active_count() == before  # reader thread gone, its generator closed

    def broken():  # type: ignore[no-untyped-def]
        yield "a"
        raise RuntimeError("decode failed")

    seen = []
    with pytest.raises(RuntimeError, match="decode failed"):
        seen.extend(prefetched(broken()))
    assert seen == ["a"]


def test_pull_chooses_format_and_codec(client, auth, any_db):  # type: ignore[no-untyped-def]
    make_dataset(client, any_db, rows=6)
    request = approved_request(client, any_db, auth)
    url = f"{EXCHANGE}/requests/{request['id']}/rows"
    items = client.get(url, params={"limit": 6}, headers=auth("clerk")).json()["items"]
    for fmt, codec in (("arrow", "lz4"), ("arrow", "zstd"), ("parquet", "snappy"), ("parquet", None)):
        params = {"format": fmt, "limit": 6} | ({"compression": codec} if codec else {})
        page = client.get(url, params=params, headers=auth("clerk"))
        assert page.status_code == 200, page.text
        assert page.headers["x-compression"] == (codec or "zstd")
        assert page.headers["x-content-sha256"] == hashlib.sha256(page.content).hexdigest()
        assert _decode(page.content, fmt).to_pylist() == items
    for params in ({"format": "json", "compression": "lz4"}, {"format": "arrow", "compression": "snappy"},
                   {"format": "parquet", "compression": "gzip"}):
        response = client.get(url, params=params, headers=auth("clerk"))
        assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")


def test_file_push_as_arrow_lz4(client, auth, any_db):  # type: ignore[no-untyped-def]
    make_dataset(client, any_db, rows=7)
    request = approved_request(client, any_db, auth)
    created = client.post(f"{EXCHANGE}/subscriptions", json={"request_id": request["id"], "channel": "file"},
                          headers=auth("clerk"))
    assert created.status_code == 201, created.text
    run_url = f"{EXCHANGE}/subscriptions/{created.json()['id']}/run"
    refused = client.post(run_url, params={"format": "arrow", "compression": "snappy"}, headers=auth("clerk"))
    assert refused.status_code == 422 and "snappy" in refused.json()["detail"]
    ran = client.post(run_url, params={"format": "arrow", "compression": "lz4"}, headers=auth("clerk"))
    assert ran.status_code == 200 and ran.json()["records"] == 7, ran.text
    log = service.list_deliveries(any_db, viewer=flows.service_viewer(), page=service.PageParams(),
                                  request_id=request["id"])[0][0]
    assert log.format == "arrow" and str(log.file).endswith(".arrow")
    body = (get_settings().data_dir / str(log.file)).read_bytes()
    assert hashlib.sha256(body).hexdigest() == log.content_hash and log.size_bytes == len(body)
    pulled = client.get(f"{EXCHANGE}/requests/{request['id']}/rows", params={"limit": 7}, headers=auth("clerk")).json()
    assert read_arrow(body).to_pylist() == pulled["items"]  # same masked rows as the JSON pull


def test_event_subscriptions_take_no_file_format(db):  # type: ignore[no-untyped-def]
    subscription = flows.ShareSubscription(id=1, request_id=1, channel="event", cursor="", active=True, created_by="t")
    with pytest.raises(Invalid, match="JSON events"):
        flows.run_subscription(db, subscription=subscription, fmt="arrow")
