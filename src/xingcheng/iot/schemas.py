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


class AreaBucket(AggregateBucket):
    datastreams: int = Field(description="datastreams with at least one observation in the bucket")


class AreaSeries(Schema):
    property: str
    unit: str
    datastreams: int = Field(description="datastreams of this property registered in the area")
    buckets: list[AreaBucket]


class AreaAggregates(Schema):
    """Aggregates over an area's datastreams, one series per observed property."""

    division_code: str
    kind: str | None
    interval: str
    start: datetime
    end: datetime
    series: list[AreaSeries]


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


# ---- rules and alerts ------------------------------------------------------------------------

RuleKind = Literal["threshold", "sustained", "rate_of_rise", "flatline", "silent", "combination"]
Severity = Literal["info", "warning", "critical"]
AlertStatus = Literal["open", "acknowledged", "resolved", "closed"]
Comparison = Literal["gt", "ge", "lt", "le"]


class Condition(Schema):
    property: str = Field(min_length=1, max_length=64)
    op: Comparison
    value: float


class RuleParams(Schema):
    """Parameters by kind; ``iot.rules.validate_rule`` says which ones each kind needs."""

    op: Comparison | None = Field(default=None, description="threshold/sustained: the alarming side of `value`")
    value: float | None = Field(default=None, description="threshold/sustained level")
    clear_value: float | None = Field(default=None, description="threshold hysteresis: the alert clears past this level")
    min_points: int | None = Field(default=None, ge=1, le=100, description="threshold/rate_of_rise: consecutive readings needed")
    duration_s: int | None = Field(default=None, ge=1, le=7 * 86400, description="sustained/flatline: how long")
    rise: float | None = Field(default=None, gt=0, description="rate_of_rise: increase that alarms within window_s")
    window_s: int | None = Field(default=None, ge=1, le=86400, description="rate_of_rise/combination window")
    tolerance: float | None = Field(default=None, ge=0, description="flatline: largest change still counted as 'same'")
    silent_after_s: int | None = Field(default=None, ge=1, le=30 * 86400, description="silent: no data for this long")
    conditions: list[Condition] | None = Field(default=None, max_length=8, description="combination: all must hold")


class RuleCreate(Schema):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=128)
    kind: RuleKind
    severity: Severity = "warning"
    property: str = Field(min_length=1, max_length=64)
    thing_kind: str | None = Field(default=None, max_length=32)
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    thing_key: str | None = Field(default=None, max_length=64)
    department_code: str | None = Field(default=None, max_length=32)
    params: RuleParams
    enabled: bool = True


class RuleUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    severity: Severity | None = None
    params: RuleParams | None = None
    enabled: bool | None = None


class RuleRead(Schema):
    id: int
    key: str
    name: str
    kind: str
    severity: str
    property: str
    thing_kind: str | None
    division_code: str | None
    thing_key: str | None
    department_code: str | None
    params: dict[str, Any]
    enabled: bool


class AlertRaise(Schema):
    """What a module passes to ``iot.alerts.raise_alert`` (and staff to the API)."""

    source: str = Field(min_length=1, max_length=32)
    kind: str = Field(min_length=1, max_length=32)
    severity: Severity = "warning"
    title: str = Field(min_length=1, max_length=200)
    dedup_key: str = Field(min_length=1, max_length=200)
    thing_key: str | None = Field(default=None, max_length=64)
    datastream_key: str | None = Field(default=None, max_length=130)
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    department_code: str | None = Field(default=None, max_length=32)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    value: float | None = None
    observed_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AlertRead(Schema):
    id: int
    dedup_key: str
    source: str
    rule_id: int | None
    kind: str
    severity: str
    title: str
    thing_key: str | None
    datastream_key: str | None
    division_code: str | None
    department_code: str | None
    lon: float | None
    lat: float | None
    status: str
    value: float | None
    details: dict[str, Any]
    occurrences: int
    opened_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    note: str


class AlertAction(Schema):
    note: str = Field(default="", max_length=500)


class AlertEvent(Schema):
    """Payload (``data``) of events on ``xc/events/iot/alert``.

    Event types: ``xingcheng.iot.alert.opened|acknowledged|resolved|closed`` (after the alert's new status).
    """

    alert_id: int
    status: AlertStatus
    source: str
    kind: str
    severity: str
    title: str
    dedup_key: str
    thing_key: str | None
    datastream_key: str | None
    division_code: str | None
    department_code: str | None
    value: float | None
    opened_at: datetime


class AlertStats(Schema):
    open: int
    acknowledged: int
    by_division: dict[str, int]
    by_severity: dict[str, int]
    median_ack_seconds: float | None
    median_resolve_seconds: float | None
