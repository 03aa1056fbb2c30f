"""Curated FAQ pairs per service item, and the anonymised log of every question asked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin, utcnow


class QaFaq(TimestampMixin, Base):
    """One question/answer pair that staff keep for an item (常见问题); also indexed for retrieval."""

    __tablename__ = "qa_faq"
    __table_args__ = (Index("ix_qa_faq_item", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class QaQuestion(Base):
    """A question as asked (personal data stripped), what was answered and whether it helped."""

    __tablename__ = "qa_question"
    __table_args__ = (Index("ix_qa_question_answered", "answered", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    question: Mapped[str] = mapped_column(String(500))  # anonymised
    channel: Mapped[str] = mapped_column(String(16))  # portal | widget | console | api | cli
    top_codes: Mapped[str] = mapped_column(String(120), default="")  # best first, comma separated
    top_score: Mapped[float] = mapped_column(Float, default=0.0)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)  # a confident answer was given
    clarified: Mapped[bool] = mapped_column(Boolean, default=False)  # a clarifying question was asked
    clicked_code: Mapped[str | None] = mapped_column(String(32), default=None)
    helpful: Mapped[bool | None] = mapped_column(Boolean, default=None)  # the asker confirmed (or not)
    feedback_at: Mapped[datetime | None] = mapped_column(default=None)
    token_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the feedback token handed to the asker
