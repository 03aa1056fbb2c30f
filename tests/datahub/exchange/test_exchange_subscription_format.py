"""File subscriptions store the consumer's format and codec: checked on create (422 problem+json by the
rules pulls and runs use), shown when read, and honoured by scheduled pushes (``run_due``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
import pytest
from exchange_testing import EXCHANGE, approved_request, make_dataset, read_arrow, upload

from xingcheng.core.errors import Invalid
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.models import ShareSubscription

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"  # every LZ4-compressed Arrow IPC buffer starts a frame with it


def _subscribe(client: Any, auth: Any, request_id: int, **encoding: str) -> Any:
    return client.post(f"{EXCHANGE}/subscriptions", json={"request_id": request_id, "channel": "file", **encoding},
                       headers=auth("clerk"))


def _delivered(session: Any, request_id: int) -> list[tuple[Any, Path]]:
    """The file deliveries of a request, oldest first, with their paths (each checked against its hash)."""
    logs = service.list_deliveries(session, viewer=flows.service_viewer(), page=PageParams(),
                                   request_id=request_id)[0]
    found = []
    for log in sorted((d for d in logs if d.channel == "file"), key=lambda d: d.id):
        path = get_settings().data_dir / str(log.file)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == log.content_hash
        found.append((log, path))
    return found


def _parquet_codec(path: Path) -> str:
    return str(pq.ParquetFile(path).metadata.row_group(0).column(0).compression)


def _run_due_for(session: Any, subscription_id: int) -> dict[str, Any]:
    results = {r["subscription_id"]: r for r in flows.run_due(session)}
    return results[subscription_id]


def test_scheduled_push_uses_the_stored_format_and_codec(client, auth, any_db):  # type: ignore[no-untyped-def]
    make_dataset(client, any_db, rows=6)
    request = approved_request(client, any_db, auth)
    created = _subscribe(client, auth, request["id"], file_format="arrow", compression="lz4")
    assert created.status_code == 201, created.text
    assert created.json()["file_format"] == "arrow" and created.json()["compression"] == "lz4"
    listed = client.get(f"{EXCHANGE}/subscriptions", headers=auth("clerk")).json()
    assert {"file_format": "arrow", "compression": "lz4"}.items() <= next(
        s for s in listed if s["id"] == created.json()["id"]).items()
    stored = any_db.get(ShareSubscription, created.json()["id"])
    any_db.refresh(stored)
    assert (stored.file_format, stored.compression) == ("arrow", "lz4")

    result = _run_due_for(any_db, stored.id)
    assert result["status"] == "delivered" and result["records"] == 6, result
    [(log, path)] = _delivered(any_db, request["id"])
    assert log.format == "arrow" and path.suffix == ".arrow"
    body = path.read_bytes()
    assert LZ4_FRAME_MAGIC in body
    pulled = client.get(f"{EXCHANGE}/requests/{request['id']}/rows", params={"limit": 6}, headers=auth("clerk")).json()
    assert read_arrow(body).to_pylist() == pulled["items"]

    # A run naming another format without a codec takes that format's default; naming the stored
    # format keeps the stored codec.
    upload(client, any_db, 6, 2)
    ran = client.post(f"{EXCHANGE}/subscriptions/{stored.id}/run", params={"format": "parquet"}, headers=auth("clerk"))
    assert ran.status_code == 200 and ran.json()["records"] == 2, ran.text
    upload(client, any_db, 8, 3)
    ran = client.post(f"{EXCHANGE}/subscriptions/{stored.id}/run", params={"format": "arrow"}, headers=auth("clerk"))
    assert ran.status_code == 200 and ran.json()["records"] == 3, ran.text
    _, (second_log, second), (third_log, third) = _delivered(any_db, request["id"])
    assert second_log.format == "parquet" and _parquet_codec(second) == "ZSTD"
    assert third_log.format == "arrow" and LZ4_FRAME_MAGIC in third.read_bytes()


def test_scheduled_parquet_codec_and_the_default(client, auth, any_db):  # type: ignore[no-untyped-def]
    make_dataset(client, any_db, rows=4)
    snappy = approved_request(client, any_db, auth)
    plain = approved_request(client, any_db, auth, fields=["id_number", "division_code"], purpose="resident-record-sync")
    created = _subscribe(client, auth, snappy["id"], compression="snappy")  # no format: Parquet
    assert created.status_code == 201, created.text
    assert created.json()["file_format"] is None and created.json()["compression"] == "snappy"
    default = _subscribe(client, auth, plain["id"])
    assert default.status_code == 201 and default.json()["file_format"] is None and default.json()["compression"] is None
    results = {r["subscription_id"]: r for r in flows.run_due(any_db)}
    assert results[created.json()["id"]]["records"] == 4 and results[default.json()["id"]]["records"] == 4
    [(log, path)] = _delivered(any_db, snappy["id"])
    assert log.format == "parquet" and _parquet_codec(path) == "SNAPPY"
    [(log, path)] = _delivered(any_db, plain["id"])
    assert log.format == "parquet" and _parquet_codec(path) == "ZSTD"  # unchanged default


@pytest.mark.parametrize(("body", "words"), [
    ({"channel": "file", "file_format": "arrow", "compression": "snappy"}, "snappy"),
    ({"channel": "file", "file_format": "parquet", "compression": "gzip"}, "compression"),
    ({"channel": "file", "file_format": "csv"}, "file_format"),
    ({"channel": "event", "file_format": "parquet"}, "file pushes"),
    ({"channel": "event", "compression": "zstd"}, "file pushes"),
])
def test_create_refuses_formats_the_channel_or_codec_cannot_carry(client, auth, db, body, words):  # type: ignore[no-untyped-def]
    make_dataset(client, db, rows=1)
    request = approved_request(client, db, auth)
    response = client.post(f"{EXCHANGE}/subscriptions", json={"request_id": request["id"], **body}, headers=auth("clerk"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.json()["detail"]
    assert client.get(f"{EXCHANGE}/subscriptions", headers=auth("clerk")).json() == []  # nothing stored


def test_subscribe_checks_the_encoding_before_anything_else(db):  # type: ignore[no-untyped-def]
    consumer = flows.push_principal("xzsp")
    with pytest.raises(Invalid, match="arrow pages can be compressed with none, lz4, zstd, not 'snappy'"):
        flows.subscribe(db, request_id=1, consumer=consumer, channel="file", file_format="arrow", compression="snappy")
    with pytest.raises(Invalid, match="file_format must be arrow or parquet"):
        flows.subscribe(db, request_id=1, consumer=consumer, channel="file", file_format="csv")  # type: ignore[arg-type]
