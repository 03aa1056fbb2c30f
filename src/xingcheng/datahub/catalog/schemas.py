"""API models of the catalogue: datasets, their graded schema fields, uploads, graded row reads, search."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from xingcheng.core.grants.policy import rank
from xingcheng.core.schemas import Schema
from xingcheng.core.types import DivisionCode, Grade

FieldType = Literal["string", "int", "float", "bool", "date", "timestamp"]
# Personal-data kinds (masked by xingcheng.core.masking), plus credit_code and free (nothing to mask by).
FieldKind = Literal["id_number", "name", "phone", "address", "bank_card", "email", "free_text", "credit_code", "free"]
Category = Literal["base", "sector", "thematic"]
UpdateFrequency = Literal["realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"]

CATEGORY_LABELS: dict[str, str] = {"base": "基础", "sector": "行业", "thematic": "主题"}
FREQUENCY_LABELS: dict[str, str] = {
    "realtime": "实时", "hourly": "每小时", "daily": "每日", "weekly": "每周", "monthly": "每月",
    "quarterly": "每季度", "yearly": "每年", "irregular": "不定期",
}
# CKAN's name rule: lowercase ASCII letters, digits, - and _, 2–100 characters.
NAME_PATTERN = r"^[a-z0-9_-]{2,100}$"
DEPARTMENT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class FieldSpec(Schema):
    name: str = Field(pattern=FIELD_NAME_PATTERN, examples=["id_number"])
    title: str = Field(min_length=1, max_length=100, examples=["公民身份号码"])
    type: FieldType = "string"
    kind: FieldKind = "free"
    grade: Grade = "L1"
    required: bool = False

    @model_validator(mode="after")
    def _kind_needs_text(self) -> FieldSpec:
        if self.kind != "free" and self.type != "string":
            raise ValueError(f"field {self.name!r} of kind {self.kind} must have type string, not {self.type}")
        return self


def _check_fields(fields: list[FieldSpec]) -> list[FieldSpec]:
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"field names must be unique; repeated: {', '.join(duplicates)}")
    return fields


class SchemaUpdate(Schema):
    fields: list[FieldSpec] = Field(min_length=1, max_length=200)

    _unique = field_validator("fields")(_check_fields)


class DatasetCreate(Schema):
    owner_department_code: str = Field(pattern=DEPARTMENT_PATTERN, examples=["scj"])
    name: str = Field(pattern=NAME_PATTERN, examples=["enterprise-registration"], description="CKAN name rules")
    title: str = Field(min_length=1, max_length=200, examples=["长沙市企业登记信息"])
    description: str = Field(default="", max_length=5000)
    category: Category
    grade: Grade
    update_frequency: UpdateFrequency = "irregular"
    source_system: str = Field(default="", max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=30)
    spatial_coverage: list[DivisionCode] = Field(default_factory=list, max_length=50)
    temporal_start: date | None = None
    temporal_end: date | None = None
    licence: str = Field(default="", max_length=64)
    fields: list[FieldSpec] = Field(min_length=1, max_length=200)

    _unique = field_validator("fields")(_check_fields)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags = [t.strip() for t in value]
        if any(not t or len(t) > 32 for t in tags):
            raise ValueError("tags are 1–32 characters")
        return list(dict.fromkeys(tags))

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> DatasetCreate:
        highest = max((f.grade for f in self.fields), key=rank)
        if rank(highest) > rank(self.grade):
            raise ValueError(f"the dataset is {self.grade} but a field is {highest}: "
                             "a dataset takes at least the grade of its most sensitive field")
        if self.temporal_start and self.temporal_end and self.temporal_end < self.temporal_start:
            raise ValueError("temporal_end is before temporal_start")
        return self


class DatasetSummary(Schema):
    slug: str
    owner_department_code: str
    name: str
    title: str
    description: str
    category: str
    grade: str
    update_frequency: str
    tags: list[str]
    schema_version: int
    row_count: int
    last_row_update: datetime | None
    score: float | None = None


class DatasetRead(DatasetSummary):
    source_system: str
    spatial_coverage: list[str]
    temporal_start: date | None
    temporal_end: date | None
    licence: str
    fields: list[FieldSpec]
    created_at: datetime
    updated_at: datetime


class FacetCount(Schema):
    value: str
    count: int


class DatasetSearchPage(Schema):
    items: list[DatasetSummary]
    total: int
    limit: int
    offset: int
    facets: dict[str, list[FacetCount]]


class RejectedRow(Schema):
    row: int = Field(description="1-based data row number (the CSV header is not counted)")
    reasons: list[str]


class UploadResult(Schema):
    batch_id: int | None
    schema_version: int
    rows_received: int
    rows_accepted: int
    rows_rejected: int
    rejected: list[RejectedRow] = Field(description="the rejected rows, the first REJECTED_LISTED of them")
    rejected_listed: int
    row_count: int


class RowsRead(Schema):
    dataset: str
    schema_version: int
    purpose: str
    basis: str
    fields: dict[str, str] = Field(description="per field: clear, masked:<level> or withheld")
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    content_hash: str = Field(description="SHA-256 (hex) of the canonical JSON of items, as audited")
