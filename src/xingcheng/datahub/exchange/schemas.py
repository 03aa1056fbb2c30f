"""API models of the sharing exchange: requests, decisions, subscriptions, deliveries, proofs, statistics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator

from xingcheng.core.schemas import Schema
from xingcheng.datahub.catalog.schemas import FIELD_NAME_PATTERN
from xingcheng.datahub.catalog.stream import CURSOR_PATTERN

RequestStatus = Literal["pending", "approved", "rejected", "withdrawn"]
Channel = Literal["event", "file"]
PullFormat = Literal["json", "arrow", "parquet"]
FileFormat = Literal["arrow", "parquet"]
Compression = Literal["none", "lz4", "zstd", "snappy"]  # per format: delivery.COMPRESSIONS
DATASET_SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,31}/[a-z0-9_-]{2,100}$"
HASH_PATTERN = r"^[0-9a-f]{64}$"

STATUS_LABELS: dict[str, str] = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回", "withdrawn": "已撤回"}
CHANNEL_LABELS: dict[str, str] = {"pull": "接口拉取", "event": "消息推送", "file": "文件推送"}


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class RequestCreate(Schema):
    dataset: str = Field(pattern=DATASET_SLUG_PATTERN, examples=["gaj/population-register"], description="<owner>/<name>")
    fields: list[str] | None = Field(default=None, min_length=1, max_length=200,
                                     description="the fields asked for; omit for every field")
    purpose: str = Field(min_length=1, max_length=100, examples=["housing-fund-loan-review"])
    legal_basis: str = Field(min_length=2, max_length=500, examples=["《住房公积金管理条例》第十三条"])
    requested_until: AwareDatetime = Field(description="how long the access is needed")

    _blank = field_validator("purpose", "legal_basis")(_text)

    @field_validator("fields")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        import re

        bad = [n for n in value if not re.match(FIELD_NAME_PATTERN, n)]
        if bad:
            raise ValueError(f"not field names: {', '.join(map(repr, bad[:5]))}")
        if len(set(value)) != len(value):
            raise ValueError("field names must not repeat")
        return value


class RequestApprove(Schema):
    reason: str = Field(default="同意共享", min_length=1, max_length=500)
    expires_at: AwareDatetime | None = Field(default=None, description="default: the requested date")
    fields: list[str] | None = Field(default=None, min_length=1, max_length=200,
                                     description="narrow the granted fields to a subset of those requested")
    grade_ceiling: Literal["L3", "L4"] | None = Field(default=None, description="default: the highest requested grade")

    _blank = field_validator("reason")(_text)


class Reason(Schema):
    reason: str = Field(min_length=1, max_length=500)

    _blank = field_validator("reason")(_text)


class RequestRead(Schema):
    id: int
    dataset_slug: str
    owner_department_code: str
    requester_department_code: str
    requested_by: str
    fields: list[str] | None
    purpose: str
    legal_basis: str
    requested_until: datetime
    status: RequestStatus
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    grant_id: int | None
    grant_status: str | None = None
    last_cursor: str | None
    created_at: datetime


class SubscriptionCreate(Schema):
    request_id: int = Field(ge=1, le=2**31 - 1)
    channel: Channel
    file_format: FileFormat | None = Field(default=None, description="file pushes: parquet (default) | arrow")
    compression: Compression | None = Field(
        default=None, description="file pushes; arrow: none, lz4, zstd (default none); parquet: zstd, lz4, snappy, none "
                                  "(default zstd)")


class SubscriptionRead(Schema):
    id: int
    request_id: int
    channel: Channel
    cursor: str
    active: bool
    created_by: str
    last_run_at: datetime | None
    last_error: str | None
    file_format: FileFormat | None = None
    compression: Compression | None = None
    topic: str | None = None


class DeliveryRead(Schema):
    id: int
    request_id: int | None
    subscription_id: int | None
    dataset_slug: str
    owner_department_code: str
    consumer_department_code: str
    division_code: str | None
    channel: str
    format: str
    purpose: str
    records: int
    size_bytes: int
    content_hash: str
    cursor_from: str
    cursor_to: str
    grant_ids: list[int]
    file: str | None
    audit_entry_id: int | None
    delivered_by: str
    delivered_at: datetime


class PullPage(Schema):
    request_id: int
    dataset: str
    purpose: str
    fields: dict[str, str] = Field(description="per field: clear | masked:partial | withheld")
    items: list[dict[str, Any]]
    records: int
    cursor: str
    next_cursor: str
    more: bool = Field(description="more rows are waiting after next_cursor")
    content_hash: str = Field(description="SHA-256 of the canonical JSON of items (keys sorted, no spaces, UTF-8)")
    delivery_id: int


class RunResult(Schema):
    subscription_id: int
    status: Literal["delivered", "up_to_date", "refused", "inactive"]
    deliveries: int
    records: int
    cursor: str
    detail: str = ""


class VerifyRequest(Schema):
    content_hash: str = Field(pattern=HASH_PATTERN, description="SHA-256 hex as returned with the delivery")


class Proof(Schema):
    valid: bool
    content_hash: str
    delivery: DeliveryRead
    audit_entry_id: int | None
    leaf_index: int | None = Field(description="position in the signed audit log (None until sequenced)")
    recorded_at: datetime | None
    actor: str | None
    subject: str | None


class Count(Schema):
    key: str
    records: int
    deliveries: int


class Flow(Schema):
    source: str
    target: str
    records: int


class DayCount(Schema):
    day: date
    records: int


class ExchangeStats(Schema):
    total_records: int = Field(description="every record ever delivered (cumulative counter)")
    total_deliveries: int
    since: date
    by_consumer: list[Count]
    by_owner: list[Count]
    by_district: list[Count]
    by_day: list[DayCount]
    flows: list[Flow]


CursorParam = CURSOR_PATTERN
