"""API models of quality reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from xingcheng.core.schemas import Schema


class ReportRead(Schema):
    id: int
    subject: str
    kind: str
    measured_at: datetime
    records: int
    defects: int
    metrics: dict[str, float] = Field(description="completeness, validity, uniqueness, consistency, timeliness, "
                                                  "accuracy, score — shares in [0, 1]")
    rules: dict[str, dict[str, Any]]
    measured_by: str


class DefectRead(Schema):
    rule: str
    record_ref: str
    field: str | None
    detail: str


class RunRequest(Schema):
    subjects: list[Annotated[str, Field(pattern=r"^(registry|dataset):[\w/-]{1,150}$")]] = Field(
        default_factory=list, max_length=50,
                                description="registry:person, registry:legal_entity, dataset:<owner>/<name>; "
                                            "empty = both registries")


class DetectionRead(Schema):
    precision: float
    recall: float
    labelled: int
    detected: int
    true_positives: int
    by_rule: list[dict[str, Any]]
