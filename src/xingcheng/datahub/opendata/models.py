"""Open-data tables: a published package per L1 catalogue dataset and its downloadable resources."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base


class OpenPackage(Base):
    """A catalogue dataset published to the open portal (a CKAN package); withdrawn ones stay, hidden."""

    __tablename__ = "opendata_package"
    __table_args__ = (Index("ix_opendata_package_state_theme", "state", "theme"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # CKAN id: uuid5 of the dataset slug
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_dataset.id", ondelete="CASCADE"), unique=True)
    theme: Mapped[str] = mapped_column(String(32))  # the CKAN group (开放主题), see constants.THEMES
    notes: Mapped[str] = mapped_column(Text, default="")  # publication note shown on the portal, besides the description
    state: Mapped[str] = mapped_column(String(16))  # active | withdrawn
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(128))
    modified_at: Mapped[datetime]  # CKAN metadata_modified
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class OpenResource(Base):
    """One download of a package (CSV, JSON or Parquet), generated from the stored rows when fetched."""

    __tablename__ = "opendata_resource"
    __table_args__ = (UniqueConstraint("package_id", "format"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # CKAN resource id: uuid5 of slug + format
    package_id: Mapped[str] = mapped_column(ForeignKey("opendata_package.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))  # CSV | JSON | Parquet
    position: Mapped[int]
    created_at: Mapped[datetime]
