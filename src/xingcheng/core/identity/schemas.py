"""API models for identities: tokens, accounts, departments, divisions, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from xingcheng.core.auth import Role
from xingcheng.core.schemas import Schema
from xingcheng.core.types import CreditCode, DivisionCode, IdNumber, MobilePhone


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshRequest(Schema):
    refresh_token: str = Field(min_length=10, max_length=4096)


class DivisionRead(Schema):
    code: DivisionCode
    name: str
    level: str
    parent_code: str | None


class DepartmentRead(Schema):
    code: str
    name: str
    short_name: str
    kind: str
    division_code: str


class AccountCreate(Schema):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    kind: Literal["staff", "citizen", "enterprise"]
    roles: list[Role] = Field(min_length=1)
    department_code: str | None = None
    id_number: IdNumber | None = None
    credit_code: CreditCode | None = None
    phone: MobilePhone | None = None

    @model_validator(mode="after")
    def _links_match_kind(self) -> AccountCreate:
        if self.kind == "staff" and not self.department_code:
            raise ValueError("a staff account needs a department_code")
        if self.kind == "citizen" and not self.id_number:
            raise ValueError("a citizen account needs an id_number (GB 11643)")
        if self.kind == "enterprise" and not self.credit_code:
            raise ValueError("an enterprise account needs a credit_code (GB 32100)")
        return self


class AccountRead(Schema):
    id: int
    username: str
    display_name: str
    kind: str
    roles: list[str]
    department_code: str | None = None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class Me(Schema):
    kind: str
    name: str
    roles: list[str]
    permissions: list[str]
    department_code: str | None
    division_code: str | None


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=128)
    device_key: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    department_code: str | None = None


class ApiKeyRead(Schema):
    id: int
    prefix: str
    name: str
    device_key: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="the secret; shown once, store it now")
