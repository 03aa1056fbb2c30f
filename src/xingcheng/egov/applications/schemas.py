"""API models: submit, 补正 and withdraw; the application as the applicant and the clerk see it; ratings; KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from xingcheng.core.schemas import Schema

ITEM_CODE_PATTERN = r"^CS-[A-Z_]{1,16}-[A-Z0-9]{1,8}$"
NUMBER_PATTERN = r"^XC\d{8}-[0-9A-F]{8}$"
FormValue = str | int | None


class MaterialIn(Schema):
    """A material the applicant provides: an uploaded file or an e-licence they hold."""

    name: str = Field(min_length=1, max_length=128)
    upload_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    licence_number: str | None = Field(default=None, min_length=8, max_length=40)

    @model_validator(mode="after")
    def one_source(self) -> MaterialIn:
        if (self.upload_id is None) == (self.licence_number is None):
            raise ValueError("give exactly one of upload_id and licence_number")
        return self


def _bounded_form(value: dict[str, FormValue]) -> dict[str, FormValue]:
    if len(value) > 50:
        raise ValueError("at most 50 form fields")
    for name, item in value.items():
        if len(name) > 64:
            raise ValueError("form field names are at most 64 characters")
        if isinstance(item, str) and len(item) > 2000:
            raise ValueError(f"form field {name[:64]} is longer than 2000 characters")
    return value


class ApplicationSubmit(Schema):
    item_code: str = Field(pattern=ITEM_CODE_PATTERN, max_length=32, description="catalogue code, e.g. CS-GJJ-0003")
    form: dict[str, FormValue] = Field(default_factory=dict, description="the item's form (see GET /form)")
    materials: list[MaterialIn] = Field(default_factory=list, max_length=60)

    _form = field_validator("form")(_bounded_form)


class CorrectionSubmit(Schema):
    """补正: changed form fields and the materials asked for."""

    form: dict[str, FormValue] = Field(default_factory=dict)
    materials: list[MaterialIn] = Field(default_factory=list, max_length=60)

    _form = field_validator("form")(_bounded_form)


class Withdraw(Schema):
    reason: str = Field(default="申请人主动撤回", max_length=500)


class Decision(Schema):
    """A clerk's decision on an inbox task of the application."""

    action: Literal["approve", "reject", "correction"]
    reason: str = Field(default="", max_length=1000)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the task version seen; stale → 409")

    @model_validator(mode="after")
    def reason_when_refusing(self) -> Decision:
        if self.action != "approve" and not self.reason.strip():
            raise ValueError("a refusal or a request for correction needs a reason")
        return self


class RatingIn(Schema):
    score: int = Field(ge=1, le=5, description="好差评: 1 非常不满意 … 5 非常满意")
    comment: str = Field(default="", max_length=500)


class FieldRead(Schema):
    name: str
    label: str
    kind: str
    required: bool
    max_length: int
    min_value: int | None
    max_value: int | None
    pattern: str | None
    choices: list[str]
    help: str


class MaterialNeed(Schema):
    item_code: str
    name: str
    provision: str | None = Field(description="how the city gets it; null = the applicant must provide it")
    reference: str | None


class ApplicationForm(Schema):
    """What applying for an item asks of this applicant: form fields and the materials still needed."""

    item_code: str
    item_name: str
    process_key: str
    fields: list[FieldRead]
    materials: list[MaterialNeed]
    materials_required: int
    materials_to_provide: int


class MaterialRead(Schema):
    item_code: str
    name: str
    provision: str
    reference: str | None


class EventRead(Schema):
    at: datetime
    action: str
    note: str


class TaskBrief(Schema):
    id: int
    name: str
    department_code: str
    status: str
    due_at: datetime | None
    version: int


class ApplicationRead(Schema):
    number: str
    item_code: str
    item_name: str
    department_code: str
    process_key: str
    applicant_kind: str
    applicant_name: str
    status: str
    outcome: str | None
    decision_reason: str
    correction_note: str
    materials_required: int
    materials_provided: int
    visits: int
    result_licences: list[str]
    submitted_at: datetime
    due_at: datetime
    completed_at: datetime | None
    version: int


class ApplicationDetail(ApplicationRead):
    form: dict[str, Any]
    materials: list[MaterialRead]
    timeline: list[EventRead]
    tasks: list[TaskBrief]
    rating: int | None


class UploadRead(Schema):
    id: int
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class InboxEntry(Schema):
    task_id: int
    task_name: str
    task_status: str
    task_version: int
    due_at: datetime | None
    seconds_left: int | None
    application: ApplicationRead


class Percentiles(Schema):
    count: int
    avg_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    on_time_rate: float | None


class GroupKpi(Percentiles):
    key: str
    name: str
    applications: int
    rating_avg: float | None
    ratings: int


class ApplicationKpis(Schema):
    """Figures computed from the application records (never typed in)."""

    applications: int
    finished: int
    online_share: float = Field(description="网上可办率 over the catalogue: online items / items")
    at_most_one_visit_share: float = Field(description="最多跑一次: applications needing ≤ 1 visit / applications")
    zero_visit_items: int = Field(description="零跑动 items: items with applications, none needing a visit")
    processing: Percentiles
    rating_avg: float | None
    ratings: int
    satisfaction: float | None = Field(description="share of ratings ≥ 4 (好评率)")
    materials_required: int
    materials_provided: int
    by_item: list[GroupKpi]
    by_department: list[GroupKpi]
