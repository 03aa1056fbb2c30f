"""Grant rows: a department may read a resource's fields up to a grade ceiling, for one purpose, for a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin, utcnow
from xingcheng.core.grants.policy import GrantState, grant_state


class DataGrant(TimestampMixin, Base):
    """A grant (数据授权). Never deleted: revoked or expired rows stay, so decisions can be explained."""

    __tablename__ = "data_grant"  # "grant" is an SQL keyword
    __table_args__ = (Index("ix_data_grant_lookup", "resource_key", "grantee_department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_key: Mapped[str] = mapped_column(String(200))  # e.g. a dataset slug "gaj/household-register"
    grantee_department_code: Mapped[str] = mapped_column(ForeignKey("department.code"))
    fields: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # None: every field
    grade_ceiling: Mapped[str] = mapped_column(String(2))  # L2 | L3 | L4
    purpose: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(200), default=None)  # e.g. the share request it answers
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(128))  # principal name
    granted_by_department_code: Mapped[str | None] = mapped_column(String(32), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(128), default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(500), default=None)

    def state(self, now: datetime | None = None) -> GrantState:
        return grant_state(self, now or utcnow())

    @property
    def status(self) -> GrantState:
        return self.state()
