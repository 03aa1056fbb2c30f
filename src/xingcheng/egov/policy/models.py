"""惠企政策 and their pushes: policies with rule sets, enterprise attributes the registry lacks,
push campaigns, pushes (one per policy and enterprise), and 免申即享 benefit grants."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin, utcnow


class Policy(TimestampMixin, Base):
    """One 惠企政策: who issued it, what it gives, and the rule set an enterprise must satisfy."""

    __tablename__ = "policy"
    __table_args__ = (Index("ix_policy_status_level", "status", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. CS-KJJ-2026-0012
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(16))  # national | provincial | municipal | district
    issuer: Mapped[str] = mapped_column(String(64))  # issuing department as printed, e.g. 长沙市科学技术局
    # The city department that maintains it here (staff of that department may edit it); None = city-wide editors only.
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"), default=None, index=True)
    division_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"), default=None)  # where it applies
    benefit_amount_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # per enterprise (the cap)
    benefit_note: Mapped[str] = mapped_column(String(200), default="")  # e.g. 按研发投入的10%补助，最高100万元
    deadline: Mapped[date | None] = mapped_column(default=None)
    no_application: Mapped[bool] = mapped_column(default=False)  # 免申即享: granted without an application
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rule set (rules.py)
    status: Mapped[str] = mapped_column(String(16), default="published")  # draft | published | archived


class EnterpriseProfile(Base):
    """Attributes the legal-entity registry does not hold (tax, HR and statistics data), per credit code."""

    __tablename__ = "policy_enterprise_profile"

    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    revenue_yuan: Mapped[int | None] = mapped_column(BigInteger, default=None)  # 上年度营业收入 (税务)
    export_yuan: Mapped[int | None] = mapped_column(BigInteger, default=None)  # 上年度出口额 (海关)
    graduates_hired: Mapped[int | None] = mapped_column(default=None)  # 当年新招用高校毕业生 (人社)
    insured_employees: Mapped[int | None] = mapped_column(default=None)  # 参保职工人数 (人社)
    layoff_rate_percent: Mapped[float | None] = mapped_column(Float, default=None)  # 上年度裁员率 (人社)
    specialised_sme: Mapped[bool | None] = mapped_column(default=None)  # 专精特新 (工信)
    tech_sme: Mapped[bool | None] = mapped_column(default=None)  # 科技型中小企业 (科技)
    invention_patents: Mapped[int | None] = mapped_column(default=None)  # 有效发明专利 (市场监管)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PushCampaign(Base):
    """One run of pushing a policy to the enterprises that qualify (re-runs add only new pushes)."""

    __tablename__ = "policy_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    qualified: Mapped[int] = mapped_column(default=0)
    new_pushes: Mapped[int] = mapped_column(default=0)
    already_pushed: Mapped[int] = mapped_column(default=0)
    notified_accounts: Mapped[int] = mapped_column(default=0)
    grants: Mapped[int] = mapped_column(default=0)
    granted_yuan: Mapped[int] = mapped_column(BigInteger, default=0)


class PolicyPush(Base):
    """A policy pushed to one enterprise, with the reason as matched, and the enterprise's feedback."""

    __tablename__ = "policy_push"
    __table_args__ = (
        UniqueConstraint("policy_id", "credit_code"),  # pushes are idempotent
        Index("ix_policy_push_credit_code", "credit_code", "pushed_at"),
        Index("ix_policy_push_pushed_at", "pushed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    credit_code: Mapped[str] = mapped_column(String(18))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("policy_campaign.id", ondelete="SET NULL"), default=None)
    pushed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # rules.ItemResult dicts
    notified_accounts: Mapped[int] = mapped_column(default=0)
    feedback: Mapped[str | None] = mapped_column(String(16), default=None)  # useful | not_useful
    feedback_at: Mapped[datetime | None] = mapped_column(default=None)
    feedback_note: Mapped[str] = mapped_column(String(200), default="")


class BenefitGrant(Base):
    """A benefit granted with no application (免申即享), straight from a push."""

    __tablename__ = "policy_benefit_grant"
    __table_args__ = (UniqueConstraint("policy_id", "credit_code"), Index("ix_policy_benefit_grant_granted_at", "granted_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("policy_push.id", ondelete="CASCADE"))
    amount_yuan: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="granted")  # granted | paid | revoked
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
