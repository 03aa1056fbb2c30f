"""Catalogue API models: item summaries with facets, the item guide (办事指南), entries, KPIs, edits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from xingcheng.core.schemas import Schema

ItemType = Literal["行政许可", "行政确认", "行政给付", "行政裁决", "公共服务", "其他行政权力"]
Audience = Literal["个人", "法人"]
MaterialSource = Literal["applicant", "registry", "e_licence"]
ITEM_CODE_PATTERN = r"^CS-[A-Z_]{1,16}-[A-Z0-9]{1,8}$"


class ServiceItemSummary(Schema):
    code: str
    name: str
    department_code: str
    department_name: str
    item_type: str
    audience: list[str]
    life_event: str
    online: bool
    max_visits: int = Field(description="0 = 零跑动, 1 = 最多跑一次")
    statutory_days: int
    promised_days: int = Field(description="0 = 即办")
    process_key: str


class FacetCount(Schema):
    value: str
    count: int


class ServiceItemPage(Schema):
    """A page of items, and counts per facet value over every item the filters match."""

    items: list[ServiceItemSummary]
    total: int
    limit: int
    offset: int
    facets: dict[str, list[FacetCount]]


class MaterialRead(Schema):
    name: str
    required: bool
    original: bool = Field(description="原件 (true) or 复印件 (false)")
    source: str = Field(description="applicant | registry | e_licence")
    held_by_city: bool = Field(description="the city already holds it: applications will not ask for it (免提交)")


class ImplementationRead(Schema):
    id: int
    item_code: str
    division_code: str
    division_name: str
    level: str
    office_name: str
    service_window: str
    address: str
    phone: str
    hours: str


class ServiceGuide(ServiceItemSummary):
    """办事指南: everything a citizen needs before applying."""

    conditions: str
    legal_basis: str
    fee_free: bool
    fee_note: str
    visits_label: str
    time_limit_label: str
    materials: list[MaterialRead]
    materials_required: int
    materials_held_by_city: int
    implementations: list[ImplementationRead]


class ImplementationPage(Schema):
    items: list[ImplementationRead]
    total: int
    limit: int
    offset: int


class LifeEventCount(Schema):
    life_event: str
    items: int
    online_items: int


class KpiFigures(Schema):
    items: int
    online_items: int
    online_rate: float = Field(description="网上可办率, 0–1")
    at_most_one_visit_items: int
    at_most_one_visit_share: float = Field(description="最多跑一次 share, 0–1")
    zero_visit_items: int = Field(description="零跑动 items")
    instant_items: int = Field(description="即办 items (promised 0 days)")
    avg_statutory_days: float
    avg_promised_days: float


class DepartmentKpi(KpiFigures):
    department_code: str
    department_name: str


class ServiceKpis(KpiFigures):
    implementations: int
    departments: list[DepartmentKpi]


class MaterialIn(Schema):
    name: str = Field(min_length=1, max_length=128)
    required: bool = True
    original: bool = False
    source: MaterialSource = "applicant"

    @field_validator("name")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a material needs a name")
        return value.strip()


class GuideUpdate(Schema):
    """Guide fields a department may edit; the catalogue facts (name, code, time limits) stay fixed."""

    conditions: str | None = Field(default=None, max_length=4000)
    legal_basis: str | None = Field(default=None, max_length=4000)
    fee_free: bool | None = None
    fee_note: str | None = Field(default=None, max_length=200)
    materials: list[MaterialIn] | None = Field(default=None, min_length=1, max_length=60)

    @field_validator("materials")
    @classmethod
    def unique_names(cls, value: list[MaterialIn] | None) -> list[MaterialIn] | None:
        if value is not None and len({m.name for m in value}) != len(value):
            raise ValueError("material names must be unique within an item")
        return value
