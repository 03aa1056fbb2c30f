"""API models for definitions, instances, the department inbox and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from xingcheng.core.schemas import Schema

# Variables are small JSON objects: bounded so a request cannot store megabytes in an instance.
MAX_VARIABLES = 100
Scalar = str | int | float | bool | None


def _check_variables(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_VARIABLES:
        raise ValueError(f"at most {MAX_VARIABLES} variables")
    for name in value:
        if not name.isidentifier() or name.startswith("_") or len(name) > 64:
            raise ValueError(f"variable name {name[:64]!r} must be a Python identifier (≤ 64, no leading _)")
    return value


class DefinitionDeploy(Schema):
    content: str = Field(min_length=1, max_length=1_000_000, description="BPMN 2.0 or DMN 1.3 XML")


class DefinitionRead(Schema):
    id: int
    key: str
    version: int
    kind: str
    name: str
    sha256: str
    deployed_at: datetime
    deployed_by: str


class InstanceStart(Schema):
    process_key: str = Field(min_length=1, max_length=64)
    business_key: str | None = Field(default=None, max_length=64)
    variables: dict[str, Scalar] = Field(default_factory=dict)

    _variables = field_validator("variables")(_check_variables)


class TaskRead(Schema):
    id: int
    instance_id: int
    task_spec: str
    name: str
    department_code: str
    role: str
    status: str
    due_at: datetime | None
    claimed_by: int | None
    claimed_by_name: str | None
    completed_at: datetime | None
    escalated_at: datetime | None
    version: int
    seconds_left: int | None = None  # SLA countdown; negative once overdue


class TimelineEntry(Schema):
    at: datetime
    action: str
    task_spec: str | None
    actor: str
    details: dict[str, Any]


class InstanceRead(Schema):
    id: int
    process_key: str
    definition_id: int
    business_key: str | None
    status: str
    current_tasks: list[str]
    variables: dict[str, Any]
    started_by: str
    started_at: datetime
    completed_at: datetime | None
    version: int


class InstanceDetail(InstanceRead):
    tasks: list[TaskRead]
    timeline: list[TimelineEntry]


class TaskComplete(Schema):
    variables: dict[str, Scalar] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="the task version the clerk saw; a stale one answers 409")

    _variables = field_validator("variables")(_check_variables)


class TaskClaim(Schema):
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class DecisionEvaluate(Schema):
    inputs: dict[str, Scalar] = Field(default_factory=dict)

    _inputs = field_validator("inputs")(_check_variables)


class MatchedRule(Schema):
    row: int
    id: str
    description: str


class DecisionResult(Schema):
    key: str
    version: int
    result: dict[str, Any]
    matched_rule: MatchedRule | None
    matched_rules: list[MatchedRule]
    rules_checked: int
