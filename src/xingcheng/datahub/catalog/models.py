"""Catalogue tables: datasets, their schema versions, upload batches, tags and the search index."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin


class Dataset(TimestampMixin, Base):
    """One catalogue entry (数据资源), keyed by its slug ``<owner>/<name>``."""

    __tablename__ = "catalog_dataset"
    __table_args__ = (Index("ix_catalog_dataset_facets", "owner_department_code", "category", "grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    owner_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(16))  # base | sector | thematic (基础/行业/主题)
    grade: Mapped[str] = mapped_column(String(2))  # L1–L4, at least the highest field grade
    update_frequency: Mapped[str] = mapped_column(String(16))  # realtime | hourly | daily | ... | irregular
    source_system: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    spatial_coverage: Mapped[list[str]] = mapped_column(JSON, default=list)  # GB/T 2260 division codes
    temporal_start: Mapped[date | None] = mapped_column(default=None)
    temporal_end: Mapped[date | None] = mapped_column(default=None)
    licence: Mapped[str] = mapped_column(String(64), default="")
    schema_version: Mapped[int] = mapped_column(default=1)  # the current version
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)  # rows of the current version
    last_row_update: Mapped[datetime | None] = mapped_column(default=None)
    search_length: Mapped[int] = mapped_column(default=0)  # tokens in the indexed text (BM25 length norm)


class DatasetSchema(Base):
    """One version of a dataset's schema; a changed schema is a new version, old rows stay with theirs."""

    __tablename__ = "catalog_schema_version"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"))
    version: Mapped[int]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{name, title, type, kind, grade, required}]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class DatasetBatch(Base):
    """One appended batch of rows: where its part file lives and what the upload kept and refused.

    Reads list parts from these rows, never from the directory: a part file written by a
    transaction that rolled back is ignored.
    """

    __tablename__ = "catalog_batch"
    __table_args__ = (Index("ix_catalog_batch_dataset_version", "dataset_id", "schema_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"))
    schema_version: Mapped[int]
    part: Mapped[str | None] = mapped_column(String(300), default=None)  # relative to the lake; None: nothing kept
    rows_received: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(200), default="")  # file name or "demo"
    uploaded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class DatasetTag(Base):
    """Tags as rows, so that filters and facet counts are plain SQL on every backend."""

    __tablename__ = "catalog_dataset_tag"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class SearchToken(Base):
    """The inverted index: jieba tokens of a dataset's text with their weighted term frequency."""

    __tablename__ = "catalog_search_token"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    tf: Mapped[float]
