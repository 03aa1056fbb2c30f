"""Person (人口库) and legal entity (法人库): the shared schema every module reads and extends."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin


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
    phone: Mapped[str | None] = mapped_column(String(11), default=None)
    marital_status: Mapped[str] = mapped_column(String(16))  # unmarried | married | divorced | widowed
    education: Mapped[str] = mapped_column(String(16))  # GB/T 4658 level names in English
    # employed | self_employed | unemployed | student | retired | child
    employment_status: Mapped[str] = mapped_column(String(16))
    retired: Mapped[bool] = mapped_column(default=False)
    retired_date: Mapped[date | None] = mapped_column(default=None)
    social_insurance_months: Mapped[int] = mapped_column(default=0)
    housing_fund_status: Mapped[str] = mapped_column(String(16), default="none")  # none | active | sealed | closed
    housing_fund_balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    disability_grade: Mapped[int | None] = mapped_column(default=None)  # 1–4 per GB/T 26341, None = none
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
