"""Builders for the grants tests: principals per role, resources per grade, grants per state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from xingcheng.core.audit.models import AuditEntry, AuditNode, AuditTreeHead
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.grants.models import DataGrant
from xingcheng.core.grants.policy import FieldSpec, ResourceDescriptor
from xingcheng.core.identity.models import Department, Division
from xingcheng.core.types import Grade

TABLES = [t.__table__ for t in (Division, Department, DataGrant, AuditEntry, AuditNode, AuditTreeHead)]

OWNER, OTHER = "gaj", "gjj"  # 公安局 owns the household register; 公积金中心 asks for it
RESOURCE_KEY = "gaj/household-register"
PURPOSE, OTHER_PURPOSE = "housing-fund-loan-review", "marketing"
DEPARTMENTS = {"gaj": "长沙市公安局", "gjj": "长沙住房公积金管理中心", "dsj": "长沙市数据资源局", "yjj": "长沙市应急管理局"}

ROLES: dict[str, Principal | None] = {
    "admin": Principal(kind="staff", name="admin", account_id=1, roles=frozenset({"admin"}), department_code="dsj"),
    "data_steward": Principal(kind="staff", name="steward", account_id=2, roles=frozenset({"data_steward"}),
                              department_code="dsj"),
    "staff_owner": Principal(kind="staff", name="police-clerk", account_id=3, roles=frozenset({"department_staff"}),
                             department_code=OWNER),
    "staff_other": Principal(kind="staff", name="fund-clerk", account_id=4, roles=frozenset({"department_staff"}),
                             department_code=OTHER),
    "operator": Principal(kind="staff", name="operator", account_id=5, roles=frozenset({"operator"}), department_code="yjj"),
    "citizen": Principal(kind="citizen", name="zhangsan", account_id=6, roles=frozenset({"citizen"}),
                         id_number="430102199001011234"),
    "enterprise": Principal(kind="enterprise", name="xiangjiang-co", account_id=7, roles=frozenset({"enterprise"}),
                            credit_code="91430100MA4L16JQ8F"),
    "device": Principal(kind="device", name="aqi-sensor-01", api_key_id=1, roles=frozenset({"device"}),
                        device_key="aqi-sensor-01"),
    "anonymous": None,
}

# One field per grade up to the resource's own: what the matrix checks field by field.
FIELDS_BY_GRADE: dict[str, tuple[str, FieldSpec]] = {
    "L1": ("district", FieldSpec("L1")),
    "L2": ("household_size", FieldSpec("L2")),
    "L3": ("id_number", FieldSpec("L3", "id_number")),
    "L4": ("phone", FieldSpec("L4", "phone")),
}


def resource(grade: Grade, key: str = RESOURCE_KEY) -> ResourceDescriptor:
    fields = {name: spec for g, (name, spec) in FIELDS_BY_GRADE.items() if g <= grade}
    return ResourceDescriptor(key=key, owner_department_code=OWNER, grade=grade, fields=fields)


State = Literal["none", "active", "expired", "revoked", "pending"]


def add_grant(session: Session, *, state: State = "active", department: str = OTHER, purpose: str = PURPOSE,
              ceiling: str = "L4", fields: list[str] | None = None, key: str = RESOURCE_KEY,
              now: datetime | None = None) -> DataGrant | None:
    """A grant row in ``state`` (inserted directly: the service refuses to create expired ones)."""
    if state == "none":
        return None
    now = now or utcnow()
    day = timedelta(days=1)
    valid_from, expires_at = {"active": (now - day, now + 30 * day), "revoked": (now - day, now + 30 * day),
                              "expired": (now - 60 * day, now - day), "pending": (now + day, now + 30 * day)}[state]
    grant = DataGrant(resource_key=key, grantee_department_code=department, fields=fields, grade_ceiling=ceiling,
                      purpose=purpose, valid_from=valid_from, expires_at=expires_at, granted_by="steward",
                      granted_by_department_code="dsj")
    if state == "revoked":
        grant.revoked_at, grant.revoked_by, grant.revoke_reason = now - timedelta(hours=1), "steward", "loan closed"
    session.add(grant)
    session.flush()
    return grant


def create_tables(engine: Engine) -> None:
    from xingcheng.core.db import Base

    Base.metadata.create_all(engine, tables=TABLES)
    with Session(engine) as session:
        session.add(Division(code="430100", name="长沙市", level="city", parent_code=None))
        session.flush()
        for code, name in DEPARTMENTS.items():
            session.add(Department(code=code, name=name, short_name=name, kind="市直部门", division_code="430100"))
        session.commit()


def decisions(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "grant.decide").order_by(AuditEntry.id)))
