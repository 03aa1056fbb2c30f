"""API models for grants."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from xingcheng.core.schemas import Schema

GrantStatus = Literal["pending", "active", "expired", "revoked"]
FieldName = str


class GrantCreate(Schema):
    resource_key: str = Field(min_length=1, max_length=200, examples=["gaj/household-register"])
    grantee_department_code: str = Field(min_length=1, max_length=32, examples=["gjj"])
    fields: list[FieldName] | None = Field(default=None, description="the fields granted; omit for every field")
    grade_ceiling: Literal["L2", "L3", "L4"] = Field(description="the most sensitive grade the grant reaches")
    purpose: str = Field(min_length=1, max_length=100, examples=["housing-fund-loan-review"])
    reference: str | None = Field(default=None, max_length=200, description="e.g. the share request this answers")
    valid_from: AwareDatetime | None = Field(default=None, description="default: now")
    expires_at: AwareDatetime

    @field_validator("resource_key", "grantee_department_code", "purpose")
    @classmethod
    def _stripped(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = [name.strip() for name in value]
        if not names or any(not name or len(name) > 64 for name in names):
            raise ValueError("list 1–64-character field names, or omit the list to grant every field")
        if len(set(names)) != len(names):
            raise ValueError("field names must not repeat")
        return names

    @model_validator(mode="after")
    def _period(self) -> GrantCreate:
        if self.valid_from is not None and self.expires_at <= self.valid_from:
            raise ValueError("expires_at must be after valid_from")
        return self


class GrantRevoke(Schema):
    reason: str = Field(min_length=1, max_length=500)


class GrantRead(Schema):
    id: int
    resource_key: str
    grantee_department_code: str
    fields: list[str] | None
    grade_ceiling: str
    purpose: str
    reference: str | None
    valid_from: datetime
    expires_at: datetime
    granted_by: str
    granted_by_department_code: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    status: GrantStatus
    created_at: datetime
