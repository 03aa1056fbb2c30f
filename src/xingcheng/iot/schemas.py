"""API models of the sensing platform: registry reads, the ingest envelope and its per-item results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from xingcheng.core.schemas import Schema

ItemStatus = Literal["accepted", "duplicate", "rejected"]
RejectReason = Literal[
    "malformed", "unknown_datastream", "not_your_datastream", "bad_timestamp", "future_timestamp", "wrong_type",
    "out_of_range",
]


class ThingRead(Schema):
    id: int
    key: str
    name: str
    kind: str
    department_code: str
    division_code: str
    lon: float
    lat: float
    install_date: date | None
    status: str


class DatastreamRead(Schema):
    id: int
    key: str
    thing_key: str
    property: str
    unit: str
    expected_interval_s: int
    valid_min: float | None
    valid_max: float | None
    value_type: str


class ObservationBatch(Schema):
    """A JSON batch. Items stay raw here: each is checked on its own, so one bad item never fails the batch."""

    observations: list[dict[str, Any]] = Field(
        max_length=50_000,
        description='items like {"datastream": "aq-0001/pm25", "phenomenon_time": "2026-11-25T08:00:00+08:00", "result": 35.2}',
    )


class ItemResult(Schema):
    index: int
    status: ItemStatus
    reason: RejectReason | None = None
    detail: str | None = None


class IngestReport(Schema):
    accepted: int
    duplicate: int
    rejected: int
    items: list[ItemResult]


class ObservationPoint(Schema):
    phenomenon_time: datetime
    result: float


class AggregateBucket(Schema):
    start: datetime
    avg: float
    min: float
    max: float
    count: int


class LatestValue(Schema):
    datastream_id: int
    datastream: str
    phenomenon_time: datetime
    result: float


class ImportReport(Schema):
    things: int
    datastreams: int
    skipped: int
    seconds: float
