"""API models of the open-data staff API: publish a catalogue dataset, list what is published."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from xingcheng.core.schemas import Schema

THEME_PATTERN = r"^[a-z]{2,32}$"
SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,31}/[a-z0-9_-]{2,100}$"


class PublishRequest(Schema):
    dataset: str = Field(pattern=SLUG_PATTERN, description="catalogue slug owner/name", examples=["sthj/air-quality-daily"])
    theme: str | None = Field(default=None, pattern=THEME_PATTERN,
                              description="open-data theme (CKAN group); the department's default when left out")
    notes: str = Field(default="", max_length=2000, description="publication note shown on the portal")


class ResourceRead(Schema):
    id: str
    format: str
    url: str


class PackageRead(Schema):
    id: str
    name: str = Field(description="the dataset slug owner/name (the CKAN name)")
    title: str
    owner_department_code: str
    grade: str
    theme: str
    state: str
    notes: str
    row_count: int
    published_at: datetime
    published_by: str
    modified_at: datetime
    withdrawn_at: datetime | None
    resources: list[ResourceRead]


class PackagePage(Schema):
    items: list[PackageRead]
    total: int
    limit: int
    offset: int
