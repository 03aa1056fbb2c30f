"""API models for the population and legal-entity registries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from xingcheng.core.schemas import Schema

NO_CONTROL = r"^[^\x00-\x1f]*$"  # no NUL or control characters (PostgreSQL text refuses NUL)


class PersonRead(Schema):
    id_number: str
    name: str
    gender: str
    birth_date: date
    ethnicity: str
    division_code: str
    household_address: str
    residence_address: str
    phone: str | None
    marital_status: str
    education: str
    employment_status: str
    retired: bool
    retired_date: date | None
    social_insurance_months: int
    housing_fund_status: str
    housing_fund_balance_cents: int
    disability_grade: int | None
    residence_permit_status: str
    household_id: str
    low_income_status: str


class LegalEntityRead(Schema):
    credit_code: str
    name: str
    entity_type: str
    industry_code: str
    industry_name: str
    registered_capital_yuan: int
    established_date: date
    status: str
    division_code: str
    address: str
    legal_representative_name: str
    legal_representative_id_number: str | None
    employees: int
    revenue_band: str
    tax_credit_rating: str
    high_tech: bool
    rd_spend_yuan: int
    exporter: bool


class DistrictCount(Schema):
    division_code: str
    name: str
    persons: int
    legal_entities: int


# ---- e-licences ----------------------------------------------------------------------------------

class LicenceVerification(Schema):
    """The public answer to "is this licence genuine?": masked holder and validity, nothing more."""

    number: str
    found: bool
    genuine: bool = Field(description="the signature verifies over the stored payload with a registered key")
    valid: bool = Field(description="genuine and in force today")
    status: str = Field(description="valid | expired | revoked | not_yet_valid | tampered | not_found")
    licence_type: str | None = None
    type_name: str | None = None
    holder_name_masked: str | None = None
    holder_id_masked: str | None = None
    issuing_department_code: str | None = None
    issuing_department_name: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    issued_at: datetime | None = None
    revoked_at: datetime | None = None
    payload_hash: str | None = Field(default=None, description="hex SM3 of the canonical payload")
    signing_key_id: str | None = None
    signature: str | None = Field(default=None, description="hex Ed25519 signature of the signed bytes")
    checked_at: datetime


class LicenceRead(Schema):
    number: str
    licence_type: str
    type_name: str
    holder_kind: str
    holder_id: str
    holder_name: str
    issuing_department_code: str
    valid_from: date
    valid_until: date | None
    status: str
    state: str = Field(description="valid | expired | revoked | not_yet_valid, today")
    data: dict[str, Any]
    source: str
    issued_at: datetime
    payload_hash: str
    signing_key_id: str
    signature: str
    revoked_at: datetime | None
    revoked_reason: str | None


class LicenceIssue(Schema):
    licence_type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$", examples=["business_licence"])
    type_name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NO_CONTROL)
    holder_id: str = Field(pattern=r"^[0-9A-Za-z]{18}$", description="GB 11643 ID number or GB 32100 credit code")
    holder_name: str = Field(min_length=1, max_length=128, pattern=NO_CONTROL)
    issuing_department_code: str = Field(pattern=r"^[a-z_]{1,32}$")
    valid_from: date
    valid_until: date | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(min_length=1, max_length=128, pattern=NO_CONTROL)


class LicenceRevoke(Schema):
    reason: str = Field(min_length=2, max_length=200, pattern=NO_CONTROL)


class SigningKeyRead(Schema):
    key_id: str
    public_key: str = Field(description="hex of the raw 32-byte Ed25519 public key")
    created_at: datetime


# ---- spatial ------------------------------------------------------------------------------------------

class DivisionRead(Schema):
    code: str
    name: str
    center: list[float] = Field(description="[lon, lat], a point inside the district")
    bbox: list[float] = Field(description="[min lon, min lat, max lon, max lat], WGS84")


class LocateResult(Schema):
    lon: float
    lat: float
    division_code: str | None
    division_name: str | None


class AddressRead(Schema):
    code: str
    division_code: str
    street: str
    community: str
    road: str
    house_number: int
    full_address: str
    lon: float
    lat: float


class GeocodeRead(Schema):
    query: str
    level: str = Field(description="address | house | road | street | division")
    score: float
    division_code: str
    division_name: str
    lon: float
    lat: float
    street: str | None = None
    community: str | None = None
    road: str | None = None
    house_number: int | None = None
    address_code: str | None = None
    standard_address: str | None = None


# ---- 一数一源 and 多源校核 ------------------------------------------------------------------------------

class FieldOwnerRead(Schema):
    registry_name: str
    field: str
    department_code: str
    grade: str
    kind: str | None


class RegistryUpdate(Schema):
    registry_name: Literal["person", "legal_entity"]
    record_key: str = Field(pattern=r"^[0-9A-Za-z]{18}$", description="ID number or credit code")
    changes: dict[str, Any] = Field(min_length=1, max_length=50, description="field → new value")
    source: str = Field(min_length=1, max_length=128, pattern=NO_CONTROL,
                        description="the system or document the values come from")
    observed_at: datetime | None = None


class UpdateOutcomeRead(Schema):
    field: str
    action: str = Field(description="updated | unchanged | claim_agrees | claim_conflict | rejected")
    claim_id: int | None = None
    reason: str | None = None


class ClaimRead(Schema):
    id: int
    registry_name: str
    record_key: str
    field: str
    value: Any
    department_code: str
    source: str
    observed_at: datetime
    status: str
    authority_department_code: str
    authority_value: Any
    checked_at: datetime
    submitted_by: str
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    evidence: dict[str, Any] | None = None


class ClaimDecision(Schema):
    decision: Literal["accept", "reject"]
    note: str = Field(min_length=2, max_length=500, pattern=NO_CONTROL)


class CorrectionRead(Schema):
    id: int
    claim_id: int
    registry_name: str
    record_key: str
    field: str
    proposed_value: Any
    authority_department_code: str
    status: str
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


class CorrectionDecision(Schema):
    apply: bool
    note: str = Field(min_length=2, max_length=500, pattern=NO_CONTROL)


class GradedPage(Schema):
    """A page of registry records as the grade rules deliver them: withheld fields are absent."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    purpose: str
    basis: str = Field(description="public | staff | owner | grant")
    fields: dict[str, str] = Field(description="field → clear | masked | withheld")
