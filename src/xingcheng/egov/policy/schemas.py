"""API models of 政策精准推送, and the payload of the ``xc/events/policy/push`` event."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from xingcheng.core.schemas import Schema

Level = Literal["national", "provincial", "municipal", "district"]
Status = Literal["draft", "published", "archived"]
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "municipal": "市级", "district": "区县级"}
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,31}$"
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"


class PolicyBase(Schema):
    title: str = Field(min_length=2, max_length=200)
    summary: str = Field(default="", max_length=5000)
    level: Level
    issuer: str = Field(min_length=2, max_length=64, description="issuing department as printed")
    department_code: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$", description="maintaining department")
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$", description="where it applies (GB/T 2260)")
    benefit_amount_yuan: int = Field(default=0, ge=0, le=10**12)
    benefit_note: str = Field(default="", max_length=200)
    deadline: date | None = None
    no_application: bool = Field(default=False, description="免申即享: granted without an application")
    conditions: dict[str, Any] = Field(description='rule set: {"all"|"any": [{"field", "op", "value"} | group, ...]}')
    status: Status = "published"


class PolicyCreate(PolicyBase):
    code: str = Field(pattern=CODE_PATTERN, description="e.g. CS-KJJ-2026-0012")


class PolicyUpdate(Schema):
    title: str | None = Field(default=None, min_length=2, max_length=200)
    summary: str | None = Field(default=None, max_length=5000)
    level: Level | None = None
    issuer: str | None = Field(default=None, min_length=2, max_length=64)
    division_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    benefit_amount_yuan: int | None = Field(default=None, ge=0, le=10**12)
    benefit_note: str | None = Field(default=None, max_length=200)
    deadline: date | None = None
    no_application: bool | None = None
    conditions: dict[str, Any] | None = None
    status: Status | None = None


class PolicyRead(PolicyBase):
    id: int
    code: str
    condition_text: list[str]  # each top-level item, zh-CN
    created_at: datetime
    updated_at: datetime


class PolicyPage(Schema):
    items: list[PolicyRead]
    total: int
    limit: int
    offset: int


class ConditionsCheck(Schema):
    conditions: dict[str, Any]


class ConditionError(Schema):
    pointer: str
    message: str
    type: str


class ConditionsVerdict(Schema):
    valid: bool
    errors: list[ConditionError]
    condition_text: list[str]


class FieldInfo(Schema):
    name: str
    kind: str
    label: str
    unit: str
    ops: list[str]
    choices: list[str]
    source: str


class ReasonItem(Schema):
    condition: str
    fields: list[str]
    actual: str
    passed: bool


class PolicyMatch(Schema):
    policy_id: int
    code: str
    title: str
    level: Level
    issuer: str
    benefit_amount_yuan: int
    benefit_note: str
    deadline: date | None
    no_application: bool
    qualified: bool
    near_miss: bool
    missing: list[str]
    reasons: list[ReasonItem]


class EnterpriseMatches(Schema):
    credit_code: str
    name: str
    qualified: list[PolicyMatch]
    near_misses: list[PolicyMatch]


class DistrictReach(Schema):
    division_code: str
    division_name: str
    qualified: int
    near_misses: int


class BlockingItem(Schema):
    condition: str
    near_misses: int  # enterprises that miss the policy on this item alone


class PolicyPreview(Schema):
    policy_id: int
    enterprises: int
    qualified: int
    near_misses: int
    already_pushed: int
    by_district: list[DistrictReach]
    blocking: list[BlockingItem]
    sample: list[str]  # names of some qualifying enterprises


class CampaignRead(Schema):
    id: int
    policy_id: int
    started_by: str
    started_at: datetime
    qualified: int
    new_pushes: int
    already_pushed: int
    notified_accounts: int
    grants: int
    granted_yuan: int


class CampaignPage(Schema):
    items: list[CampaignRead]
    total: int
    limit: int
    offset: int


class PushRead(Schema):
    id: int
    policy_id: int
    policy_code: str
    policy_title: str
    credit_code: str
    pushed_at: datetime
    reasons: list[ReasonItem]
    notified_accounts: int
    feedback: Literal["useful", "not_useful"] | None
    feedback_at: datetime | None
    granted_yuan: int | None


class PushPage(Schema):
    items: list[PushRead]
    total: int
    limit: int
    offset: int


class FeedbackCreate(Schema):
    useful: bool
    note: str = Field(default="", max_length=200)


class PolicyStats(Schema):
    policies: int
    published: int
    no_application_policies: int
    pushes: int
    pushes_this_month: int
    enterprises_reached: int
    feedback: int
    useful: int
    not_useful: int
    precision: float | None  # useful / feedback
    feedback_rate: float | None  # feedback / pushes
    grants: int
    granted_yuan: int
    granted_yuan_this_month: int


class PolicyPushEvent(Schema):
    """``xc/events/policy/push`` (type ``xingcheng.policy.push``): one policy pushed to one enterprise."""

    push_id: int
    policy_id: int
    policy_code: str
    policy_title: str
    credit_code: str
    no_application: bool
    grant_amount_yuan: int | None
    notified_accounts: int
    pushed_at: datetime
