"""API models of citizen requests: intake, handling steps, reads, analytics, routing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from xingcheng.core.schemas import Schema

MAX_DESCRIPTION = 2000
Status = Literal["dispatch", "assigned", "accepted", "replied", "closed", "merged"]
OPEN_STATUSES: tuple[str, ...] = ("dispatch", "assigned", "accepted")
DEPARTMENT_PATTERN = r"^[a-z][a-z_]{0,31}$"
CATEGORY_PATTERN = r"^[A-Z][A-Z0-9-]{0,15}$"


class Body(Schema):
    """Request bodies: no NUL characters anywhere (PostgreSQL text cannot hold them)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def _strip_required(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


class RequestCreate(Body):
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION, description="what is wrong, in the citizen's words")
    category_code: str | None = Field(
        default=None, pattern=CATEGORY_PATTERN, description="a service code; omitted = routed automatically"
    )
    address: str | None = Field(default=None, max_length=200)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    contact_name: str | None = Field(default=None, max_length=64)
    contact_phone: str | None = Field(default=None, pattern=r"^\+?[0-9-]{5,20}$")
    contact_email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    media_url: str | None = Field(default=None, max_length=300, pattern=r"^(https?://|/)\S+$")

    _strip = field_validator("description")(_strip_required)

    @model_validator(mode="after")
    def _both_coordinates(self) -> RequestCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class DispatchBody(Body):
    department_code: str = Field(pattern=DEPARTMENT_PATTERN)
    category_code: str | None = Field(default=None, pattern=CATEGORY_PATTERN)
    note: str = Field(default="", max_length=500)


class TransferBody(Body):
    reason: str = Field(min_length=2, max_length=500, description="why this is not the department's matter")
    to_department_code: str | None = Field(
        default=None, pattern=DEPARTMENT_PATTERN, description="omitted = back to the dispatcher"
    )

    _strip = field_validator("reason")(_strip_required)


class NoteBody(Body):
    note: str = Field(min_length=1, max_length=2000)

    _strip = field_validator("note")(_strip_required)


class ReplyBody(Body):
    reply: str = Field(min_length=1, max_length=2000, description="the answer the citizen reads")

    _strip = field_validator("reply")(_strip_required)


class ConfirmBody(Body):
    satisfaction: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    feedback: str = Field(default="", max_length=1000)


class ReopenBody(Body):
    reason: str = Field(min_length=2, max_length=1000)

    _strip = field_validator("reason")(_strip_required)


class MergeBody(Body):
    into_id: int = Field(ge=1, le=2**63 - 1)


class RouteQuery(Body):
    text: str = Field(min_length=1, max_length=MAX_DESCRIPTION)

    _strip = field_validator("text")(_strip_required)


class RouteAlternative(Schema):
    department_code: str
    probability: float


class RouteRead(Schema):
    category_code: str
    category_name: str
    department_code: str
    department_name: str | None
    confidence: float
    queued_for_dispatcher: bool
    alternatives: list[RouteAlternative]


class RequestEventRead(Schema):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    department_code: str | None
    note: str


class RequestRead(Schema):
    id: int
    ticket: str
    channel: str
    status: str
    description: str
    category_code: str
    category_name: str
    department_code: str | None
    route_method: str
    route_confidence: float | None
    address: str
    lon: float | None
    lat: float | None
    division_code: str | None
    street: str | None
    contact_name: str | None
    contact_phone: str | None
    media_url: str | None
    sla_days: int
    due_at: datetime | None
    overdue: bool
    escalation_level: int
    created_at: datetime
    assigned_at: datetime | None
    accepted_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    reply: str | None
    transfer_count: int
    reopen_count: int
    duplicate_count: int
    merged_into_ticket: str | None
    satisfaction: int | None
    feedback: str | None


class RequestDetail(RequestRead):
    events: list[RequestEventRead]


class RequestPage(Schema):
    items: list[RequestRead]
    total: int
    limit: int
    offset: int


class CategoryRead(Schema):
    code: str
    name: str
    department_code: str
    sla_days: int
    group: str
    keywords: list[str]


class SlaReport(Schema):
    warned: int
    escalated: int
    auto_closed: int


class CountItem(Schema):
    key: str
    name: str
    count: int


class DayCount(Schema):
    day: str
    count: int


class WeekTrend(Schema):
    week: str
    requests: int
    avg_handling_days: float | None
    on_time_rate: float | None


class Hotspot(Schema):
    lon: float
    lat: float
    count: int
    division_code: str | None
    top_category: str
    top_category_name: str


class Analytics(Schema):
    days: int
    total: int
    open: int
    dispatch_queue: int
    overdue: int
    by_status: dict[str, int]
    by_category: list[CountItem]
    by_district: list[CountItem]
    by_department: list[CountItem]
    by_day: list[DayCount]
    weekly: list[WeekTrend]
    hotspots: list[Hotspot]
    avg_handling_days: float | None
    on_time_rate: float | None
    satisfaction_avg: float | None
    satisfied_rate: float | None
    repeat_rate: float | None
    transfers_per_request: float | None
    auto_routed_rate: float | None
