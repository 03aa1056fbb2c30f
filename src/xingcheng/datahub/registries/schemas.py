"""API models for the population and legal-entity registries."""

from __future__ import annotations

from datetime import date

from xingcheng.core.schemas import Schema


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
