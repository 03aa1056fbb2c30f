"""Service items (政务服务事项), their materials, the process that runs each, and where it is handled."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xingcheng.core.db import Base, TimestampMixin


class ServiceItem(TimestampMixin, Base):
    """One catalogue item, keyed by its city code (``CS-GJJ-0003``); facts from the city's catalogue."""

    __tablename__ = "service_item"
    __table_args__ = (Index("ix_service_item_department", "department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    # 行政许可 | 行政确认 | 行政给付 | 行政裁决 | 公共服务 | 其他行政权力
    item_type: Mapped[str] = mapped_column(String(16))
    # Audience as two flags rather than a list column: both databases filter them with plain indexes.
    for_person: Mapped[bool] = mapped_column(Boolean, default=False)  # 个人
    for_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)  # 法人
    life_event: Mapped[str] = mapped_column(String(16), index=True)  # 出生, 企业开办, 退休 …
    online: Mapped[bool] = mapped_column(Boolean, default=True)  # 全程网办
    max_visits: Mapped[int] = mapped_column(Integer)  # 0 = 零跑动, 1 = 最多跑一次
    statutory_days: Mapped[int] = mapped_column(Integer)  # 法定办结时限 (working days)
    promised_days: Mapped[int] = mapped_column(Integer)  # 承诺办结时限; 0 = 即办
    fee_free: Mapped[bool] = mapped_column(Boolean, default=True)
    fee_note: Mapped[str] = mapped_column(String(200), default="")  # e.g. 工本费20元, set by the department
    conditions: Mapped[str] = mapped_column(Text, default="")  # 受理条件
    legal_basis: Mapped[str] = mapped_column(Text, default="")  # 设定依据; empty until a department supplies it

    materials: Mapped[list[ServiceMaterial]] = relationship(
        back_populates="item", order_by="ServiceMaterial.position", cascade="all, delete-orphan"
    )
    process: Mapped[ProcessLink | None] = relationship(back_populates="item", cascade="all, delete-orphan")


class ServiceMaterial(Base):
    """One material an applicant needs for an item; ``source`` says whether the city already holds it."""

    __tablename__ = "service_material"
    __table_args__ = (Index("ix_service_material_item", "item_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    original: Mapped[bool] = mapped_column(Boolean, default=False)  # 原件 (True) or 复印件 (False)
    # applicant | registry (population / legal-entity registry) | e_licence (电子证照库):
    # anything but ``applicant`` is fetched by the city, so applications will not ask for it (免提交).
    source: Mapped[str] = mapped_column(String(16), default="applicant")

    item: Mapped[ServiceItem] = relationship(back_populates="materials")


class ProcessLink(Base):
    """Which workflow process definition runs applications for an item (``generic`` by default)."""

    __tablename__ = "service_process_link"

    item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id", ondelete="CASCADE"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(64), index=True)

    item: Mapped[ServiceItem] = relationship(back_populates="process")


class ServiceImplementation(Base):
    """One 实施清单 entry: the item as handled by one office (own id, office and hours; the item's code)."""

    __tablename__ = "service_implementation"
    __table_args__ = (Index("ix_service_implementation_item", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code", ondelete="CASCADE"))
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"), index=True)
    level: Mapped[str] = mapped_column(String(8))  # city | district
    office_name: Mapped[str] = mapped_column(String(128))
    service_window: Mapped[str] = mapped_column(String(64))  # the department's window in the office
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    hours: Mapped[str] = mapped_column(String(100))
