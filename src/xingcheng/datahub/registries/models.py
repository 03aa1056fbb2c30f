"""The base registries: person (人口库), legal entity (法人库), e-licences (电子证照库), standard addresses (空间地理库),
and the 一数一源 tables (field ownership, claims).

The registries' L4 fields (``sources.DEFAULT_OWNERS``: the person's phone and disability grade) are stored
SM4-GCM encrypted (``core.crypto``), and so are claim and correction values, which may carry them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.crypto import EncryptedString
from xingcheng.core.db import Base, TimestampMixin, utcnow


class EncryptedInt(EncryptedString):
    """An integer sealed as its decimal text. A subclass, so key rotation finds it like any encrypted column;
    give ``aad`` (``table.column``) explicitly, as the column hook would rebind a bare one to the base type."""

    cache_ok = True

    @property
    def python_type(self) -> type:
        return int

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an encrypted integer column takes int, not {type(value).__name__}")
        return super().process_bind_param(str(value), dialect)

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:  # type: ignore[override]
        text = super().process_result_value(value, dialect)
        return None if text is None else int(text)


class Person(TimestampMixin, Base):
    """One resident, keyed by the GB 11643 citizen ID number."""

    __tablename__ = "person"
    __table_args__ = (
        Index("ix_person_division_birth", "division_code", "birth_date"),
        Index("ix_person_household", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    gender: Mapped[str] = mapped_column(String(1))  # M | F (from the ID number)
    birth_date: Mapped[date]
    ethnicity: Mapped[str] = mapped_column(String(16))  # 汉族, 土家族, 苗族 …
    # Household registration district; for residents registered elsewhere, the district of their residence permit.
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    household_address: Mapped[str] = mapped_column(String(200))  # 户籍地址
    residence_address: Mapped[str] = mapped_column(String(200))  # 居住地址
    phone: Mapped[str | None] = mapped_column(EncryptedString(), default=None)  # L4: encrypted, no SQL comparison
    marital_status: Mapped[str] = mapped_column(String(16))  # unmarried | married | divorced | widowed
    education: Mapped[str] = mapped_column(String(16))  # GB/T 4658 level names in English
    # employed | self_employed | unemployed | student | retired | child
    employment_status: Mapped[str] = mapped_column(String(16))
    retired: Mapped[bool] = mapped_column(default=False)
    retired_date: Mapped[date | None] = mapped_column(default=None)
    social_insurance_months: Mapped[int] = mapped_column(default=0)
    housing_fund_status: Mapped[str] = mapped_column(String(16), default="none")  # none | active | sealed | closed
    housing_fund_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # 1–4 per GB/T 26341, None = none; L4 (health): encrypted
    disability_grade: Mapped[int | None] = mapped_column(EncryptedInt(aad="person.disability_grade"), default=None)
    residence_permit_status: Mapped[str] = mapped_column(String(16), default="not_needed")  # not_needed | valid | expired
    household_id: Mapped[str] = mapped_column(String(20))  # 户号
    low_income_status: Mapped[str] = mapped_column(String(16), default="none")  # none | dibao | tekun (特困)


class LegalEntity(TimestampMixin, Base):
    """One market entity or organisation, keyed by the GB 32100 unified social credit code."""

    __tablename__ = "legal_entity"
    __table_args__ = (Index("ix_legal_entity_division_industry", "division_code", "industry_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # company | individual_business | cooperative | social_organisation | public_institution
    entity_type: Mapped[str] = mapped_column(String(24))
    industry_code: Mapped[str] = mapped_column(String(5))  # GB/T 4754-2017, e.g. C39 or I65
    industry_name: Mapped[str] = mapped_column(String(64))
    registered_capital_yuan: Mapped[int] = mapped_column(BigInteger, default=0)
    established_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))  # active | revoked | cancelled | suspended
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    address: Mapped[str] = mapped_column(String(200))
    legal_representative_id_number: Mapped[str | None] = mapped_column(String(18), index=True, default=None)
    legal_representative_name: Mapped[str] = mapped_column(String(32))
    employees: Mapped[int] = mapped_column(default=0)
    revenue_band: Mapped[str] = mapped_column(String(16))  # micro | small | medium | large (GB 统计上大中小微型企业划分)
    tax_credit_rating: Mapped[str] = mapped_column(String(1))  # A | B | M | C | D
    high_tech: Mapped[bool] = mapped_column(default=False)
    rd_spend_yuan: Mapped[int] = mapped_column(BigInteger, default=0)
    exporter: Mapped[bool] = mapped_column(default=False)


class LicenceSigningKey(Base):
    """A public key that has signed e-licences; kept after rotation so old licences still verify."""

    __tablename__ = "registry_licence_key"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the raw public key
    public_key: Mapped[str] = mapped_column(String(64))  # hex of the raw 32-byte Ed25519 public key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Licence(TimestampMixin, Base):
    """One electronic licence or certificate (电子证照), signed with Ed25519 over its canonical payload."""

    __tablename__ = "registry_licence"
    __table_args__ = (Index("ix_registry_licence_holder", "holder_id", "licence_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    licence_type: Mapped[str] = mapped_column(String(32), index=True)  # business_licence, resident_id_card …
    type_name: Mapped[str] = mapped_column(String(64))  # 营业执照, 居民身份证 …
    holder_kind: Mapped[str] = mapped_column(String(16))  # person | legal_entity
    holder_id: Mapped[str] = mapped_column(String(18))  # GB 11643 ID number or GB 32100 credit code
    holder_name: Mapped[str] = mapped_column(String(128))
    issuing_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    valid_from: Mapped[date]
    valid_until: Mapped[date | None] = mapped_column(default=None)  # None = long-term (长期)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid | revoked
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[datetime]
    salt: Mapped[str] = mapped_column(String(32))  # hex; keeps the public payload hash from confirming guesses
    payload_hash: Mapped[str] = mapped_column(String(64))  # hex SM3 of the canonical payload
    signing_key_id: Mapped[str] = mapped_column(ForeignKey("registry_licence_key.key_id"))
    signature: Mapped[str] = mapped_column(String(128))  # hex Ed25519 signature
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(64), default=None)


class StandardAddress(Base):
    """A standard address (标准地址): district → street → community → road → number, with WGS84 coordinates."""

    __tablename__ = "registry_address"
    __table_args__ = (Index("ix_registry_address_road", "division_code", "road", "house_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # 430104-007-0123
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    street: Mapped[str] = mapped_column(String(32))  # 街道 / 镇
    community: Mapped[str] = mapped_column(String(32))  # 社区
    road: Mapped[str] = mapped_column(String(32))
    house_number: Mapped[int]
    full_address: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float]
    lat: Mapped[float]


# ---- 一数一源 and 多源校核 ------------------------------------------------------------------------------

class FieldOwner(Base):
    """一数一源: the one department whose word is authoritative for a registry field."""

    __tablename__ = "registry_field_owner"
    __table_args__ = (UniqueConstraint("registry_name", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_name: Mapped[str] = mapped_column(String(16))  # person | legal_entity
    field: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    grade: Mapped[str] = mapped_column(String(2))  # L1 … L4
    kind: Mapped[str | None] = mapped_column(String(16), default=None)  # masking kind, None = no masking kind


class FieldClaim(TimestampMixin, Base):
    """What a non-authoritative department says a registry field is: evidence, never an overwrite."""

    __tablename__ = "registry_claim"
    __table_args__ = (Index("ix_registry_claim_record", "registry_name", "record_key", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_name: Mapped[str] = mapped_column(String(16))
    record_key: Mapped[str] = mapped_column(String(18))  # ID number or credit code
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(EncryptedString())  # canonical JSON of the claimed value
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    source: Mapped[str] = mapped_column(String(128))  # the claimant's system / document reference
    observed_at: Mapped[datetime]  # when the claimant observed the value
    # agrees | conflict | no_record | accepted | rejected | superseded
    status: Mapped[str] = mapped_column(String(16), index=True)
    authority_department_code: Mapped[str] = mapped_column(String(32))
    authority_value: Mapped[str | None] = mapped_column(EncryptedString(), default=None)  # canonical JSON at last check
    checked_at: Mapped[datetime]
    submitted_by: Mapped[str] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_note: Mapped[str | None] = mapped_column(String(500), default=None)


class CorrectionRequest(TimestampMixin, Base):
    """A steward-accepted claim sent to the authoritative department, which applies or declines it."""

    __tablename__ = "registry_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("registry_claim.id"), index=True)
    registry_name: Mapped[str] = mapped_column(String(16))
    record_key: Mapped[str] = mapped_column(String(18))
    field: Mapped[str] = mapped_column(String(64))
    proposed_value: Mapped[str | None] = mapped_column(EncryptedString())  # canonical JSON
    authority_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | applied | declined
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
