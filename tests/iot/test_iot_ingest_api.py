"""HTTP ingest with a real device API key: per-item results, partial batches, retries, ownership, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from xingcheng.core.identity.schemas import ApiKeyCreate
from xingcheng.core.identity.service import create_api_key
from xingcheng.iot.models import Datastream, Thing

URL = "/api/v1/iot/observations"


def _two_stations(session):  # type: ignore[no-untyped-def]
    """Two demo air-quality stations' PM2.5 datastream keys (thing key, datastream key)."""
    rows = session.execute(
        select(Thing.key, Datastream.key).join(Datastream, Datastream.thing_id == Thing.id)
        .where(Thing.kind == "air_quality_station", Datastream.key.like("%/pm25")).order_by(Thing.id).limit(2)
    ).all()
    assert len(rows) == 2
    return rows


@pytest.fixture
def device(any_db):  # type: ignore[no-untyped-def]
    """An API key for the first station, and the datastream keys of its own and of another station."""
    (thing, own), (_, other) = _two_stations(any_db)
    _, secret = create_api_key(any_db, data=ApiKeyCreate(name="aq test device", device_key=thing))
    any_db.flush()
    return {"X-API-Key": secret}, own, other


def _at(minutes_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).astimezone().isoformat()


def test_a_partial_batch_keeps_the_good_items_and_reports_each(client, api_store, device):
    headers, own, other = device
    ten_ago = _at(10)
    items = [
        {"datastream": own, "phenomenon_time": ten_ago, "result": 35.5},  # accepted
        {"datastream": own, "phenomenon_time": _at(5), "result": 36},  # accepted (an int is a number)
        {"datastream": "no-such-thing/pm25", "phenomenon_time": _at(5), "result": 1.0},
        {"datastream": own, "phenomenon_time": _at(4), "result": 5000.0},  # PM2.5 valid range is 0–1000
        {"datastream": own, "phenomenon_time": _at(-60), "result": 20.0},  # an hour in the future
        {"datastream": own, "phenomenon_time": _at(3), "result": "high"},
        {"datastream": own, "phenomenon_time": _at(3), "result": True},
        {"datastream": own, "phenomenon_time": "yesterday", "result": 1.0},
        {"datastream": own, "phenomenon_time": "2026-11-25T08:00:00", "result": 1.0},  # no offset
        {"datastream": other, "phenomenon_time": _at(2), "result": 30.0},  # another station's datastream
        {"result": 1.0},
        {"datastream": own, "phenomenon_time": ten_ago, "result": 99.0},  # same time as item 0
    ]
    response = client.post(URL, json={"observations": items}, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(i["status"], i["reason"]) for i in report["items"]] == [
        ("accepted", None), ("accepted", None), ("rejected", "unknown_datastream"), ("rejected", "out_of_range"),
        ("rejected", "future_timestamp"), ("rejected", "wrong_type"), ("rejected", "wrong_type"),
        ("rejected", "bad_timestamp"), ("rejected", "bad_timestamp"), ("rejected", "not_your_datastream"),
        ("rejected", "malformed"), ("duplicate", None),
    ]
    assert (report["accepted"], report["duplicate"], report["rejected"]) == (2, 1, 9)
    assert api_store.count() == 2

    retry = client.post(URL, json={"observations": items}, headers=headers).json()
    assert (retry["accepted"], retry["duplicate"], retry["rejected"]) == (0, 3, 9)
    assert api_store.count() == 2  # a retried batch does not double count


def test_ndjson_lines_are_items_and_a_broken_line_is_one_rejection(client, api_store, device):
    headers, own, _ = device
    lines = [json.dumps({"datastream": own, "phenomenon_time": _at(m), "result": 20.0 + m}) for m in (30, 20)]
    body = "\n".join([lines[0], "{not json", lines[1], ""])
    response = client.post(URL, content=body, headers={**headers, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert [i["status"] for i in response.json()["items"]] == ["accepted", "rejected", "accepted"]
    assert api_store.count() == 2


def test_staff_with_iot_write_may_write_any_datastream_and_others_may_not(client, api_store, auth, any_db):
    (_, first), (_, second) = _two_stations(any_db)
    items = [{"datastream": key, "phenomenon_time": _at(1), "result": 12.0} for key in (first, second)]
    response = client.post(URL, json={"observations": items}, headers=auth("operator"))
    assert response.json()["accepted"] == 2, response.text
    denied = client.post(URL, json={"observations": items}, headers=auth("clerk"))  # department staff: read only
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    anonymous = client.post(URL, json={"observations": items})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(("body", "content_type", "status"), [
    ("{not json", "application/json", 400),
    ('{"items": []}', "application/json", 422),
    ('{"observations": "all of them"}', "application/json", 422),
    ("datastream=x", "text/plain", 415),
])
def test_bad_envelopes_are_problem_json(client, api_store, device, body, content_type, status):
    headers, _, _ = device
    response = client.post(URL, content=body, headers={**headers, "Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert api_store.count() == 0


def test_an_empty_batch_is_an_empty_report(client, api_store, device):
    headers, _, _ = device
    for body, content_type in (('{"observations": []}', "application/json"), ("", "application/x-ndjson")):
        response = client.post(URL, content=body, headers={**headers, "Content-Type": content_type})
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicate": 0, "rejected": 0, "items": []}


def test_a_revoked_or_wrong_key_is_refused(client, api_store, device):
    headers, own, _ = device
    items = [{"datastream": own, "phenomenon_time": _at(1), "result": 1.0}]
    wrong = headers["X-API-Key"][:-4] + "0000"
    response = client.post(URL, json={"observations": items}, headers={"X-API-Key": wrong})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
