"""Quality reports (history kept), the defects each found, and the demo's labelled ground truth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, utcnow


class QualityReport(Base):
    """One measurement of one subject (``registry:person``, ``dataset:dsj/population`` …)."""

    __tablename__ = "quality_report"
    __table_args__ = (Index("ix_quality_report_subject_time", "subject", "measured_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))  # registry | dataset
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
    records: Mapped[int]
    # completeness, validity, uniqueness, consistency, timeliness, accuracy, score — each a share in [0, 1]
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # per rule: {rule: {dimension, field, checked, failed, description}}
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    defects: Mapped[int]
    measured_by: Mapped[str] = mapped_column(String(64))


class QualityDefect(Base):
    """One record that failed one rule in one report."""

    __tablename__ = "quality_defect"
    __table_args__ = (Index("ix_quality_defect_report_rule", "report_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("quality_report.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(48))
    record_ref: Mapped[str] = mapped_column(String(64))  # the row's internal id (registries) or row number (datasets)
    field: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str] = mapped_column(String(300))


class DefectLabel(Base):
    """Ground truth: a defect the demo generator injected on purpose, to measure detection against."""

    __tablename__ = "quality_defect_label"
    __table_args__ = (Index("ix_quality_defect_label_subject", "subject", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(160))
    rule: Mapped[str] = mapped_column(String(48))
    record_ref: Mapped[str] = mapped_column(String(64))
    injected_by: Mapped[str] = mapped_column(String(64))
