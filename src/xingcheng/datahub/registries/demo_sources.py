"""Demo 一数一源 table and the claims other departments make about registry fields (多源校核 material).

Claims come from the departments that really hold copies of these fields: 公安 keeps marital status on
the household register, 人社 keeps education and employment, 税务 keeps the entity's address and staff
numbers. Most agree with the authority; ``CONFLICT_SHARE`` of them carry a different value, and each
of those is labelled (``quality_defect_label``, rule ``claim_conflict``) so detection can be measured.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.core.grants.schemas import GrantCreate
from xingcheng.core.grants.service import create_grant
from xingcheng.core.registry import DemoContext
from xingcheng.datahub.quality.models import DefectLabel
from xingcheng.datahub.registries import sources
from xingcheng.datahub.registries.demo_data import AS_OF
from xingcheng.datahub.registries.models import FieldClaim, LegalEntity, Person

CLAIMS = {"small": 240, "city": 12_000}
CONFLICT_SHARE = 0.08
INJECTOR = "demo:registry_claims"
# (registry, field, claiming department, source system)
PERSON_CLAIMS = (
    ("marital_status", "gaj", "公安人口管理信息系统"),
    ("education", "rsj", "人社就业登记系统"),
    ("employment_status", "swj_tax", "金税个人所得税系统"),
    ("residence_address", "zjj", "住建租赁备案系统"),
    ("housing_fund_status", "rsj", "人社社保征缴系统"),
)
ENTITY_CLAIMS = (
    ("address", "swj_tax", "金税三期税务登记"),
    ("employees", "swj_tax", "金税个人所得税代扣代缴"),
    ("legal_representative_name", "rmyh", "人民银行账户管理系统"),
    ("status", "swj_tax", "金税三期税务登记"),
)
ALTERNATIVES = {
    "marital_status": ("unmarried", "married", "divorced", "widowed"),
    "education": ("junior_secondary", "senior_secondary", "vocational", "bachelor", "master"),
    "employment_status": ("employed", "self_employed", "unemployed", "retired"),
    "housing_fund_status": ("none", "active", "sealed", "closed"),
    "status": ("active", "suspended", "cancelled"),
}


def seed_field_owners(session: Session, ctx: DemoContext) -> None:
    added = sources.seed_field_owners(session)
    ctx.progress("field owners", added, added)


def _other(rng: random.Random, name: str, current: object) -> object:
    if name in ALTERNATIVES:
        return rng.choice([v for v in ALTERNATIVES[name] if v != current])
    if name == "employees":
        return int(current or 0) + 1 + int(rng.random() * 20)  # type: ignore[call-overload]
    if name == "residence_address" or name == "address":
        return f"{current}（{rng.choice(('东', '西', '南', '北'))}侧附楼）"
    if name == "legal_representative_name":
        return f"{str(current)[0]}{rng.choice('建国志强丽华海燕俊杰')}"
    raise ValueError(name)


def load_claims(session: Session, ctx: DemoContext) -> None:
    """Claims in bulk: a department's later claim on the same field supersedes its earlier one."""
    rng = ctx.rng("registry_claims")
    persons = session.scalars(select(Person).where(Person.birth_date <= AS_OF.replace(year=AS_OF.year - 18))
                              .order_by(Person.id)).all()
    entities = session.scalars(select(LegalEntity).order_by(LegalEntity.id)).all()
    owners = {name: sources.field_owners(session, name) for name in ("person", "legal_entity")}
    total = CLAIMS[ctx.scale]
    base = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    latest: dict[tuple[str, str, str, str], int] = {}
    for index in range(total):
        person_claim = index % 4 != 3  # three person claims for every entity claim
        registry_name = "person" if person_claim else "legal_entity"
        record: Person | LegalEntity = rng.choice(persons) if person_claim else rng.choice(entities)
        name, department, source = rng.choice(PERSON_CLAIMS if person_claim else ENTITY_CLAIMS)
        owner = owners[registry_name].get(name)
        if owner is None:
            continue
        current = getattr(record, name)
        value = _other(rng, name, current) if rng.random() < CONFLICT_SHARE else current
        key = getattr(record, sources.KEY_FIELDS[registry_name])
        authority_value, encoded = sources.encode(current), sources.encode(value)
        observed = base - timedelta(days=int(rng.random() * 300), minutes=int(rng.random() * 600))
        slot = (registry_name, key, name, department)
        if slot in latest:
            rows[latest[slot]]["status"] = "superseded"
        latest[slot] = len(rows)
        rows.append({
            "registry_name": registry_name, "record_key": key, "field": name, "value": encoded,
            "department_code": department, "source": source, "observed_at": observed,
            "status": "agrees" if encoded == authority_value else "conflict",
            "authority_department_code": owner.department_code, "authority_value": authority_value,
            "checked_at": base, "submitted_by": INJECTOR, "created_at": base, "updated_at": base,
        })
    table = FieldClaim.__table__
    assert isinstance(table, Table)
    if rows:
        session.execute(insert(table), rows)
    conflicts = session.execute(select(FieldClaim.id, FieldClaim.registry_name).where(
        FieldClaim.submitted_by == INJECTOR, FieldClaim.status == "conflict")).all()
    session.add_all([DefectLabel(subject=f"registry:{registry_name}", rule="claim_conflict", record_ref=f"claim:{cid}",
                                 injected_by=INJECTOR) for cid, registry_name in conflicts])
    session.flush()
    ctx.progress("registry claims", len(rows), len(rows))


# The registries' owners grant the departments that routinely need them (记录在案的共享授权).
REGISTRY_GRANTS = (
    ("registry:person", "gaj", "xzsp", "政务服务办理", "L3"),
    ("registry:person", "gaj", "dsj", "数据治理", "L4"),
    ("registry:legal_entity", "scj", "xzsp", "政务服务办理", "L3"),
    ("registry:legal_entity", "scj", "dsj", "数据治理", "L3"),
)
GRANTS_EXPIRE = datetime(2027, 12, 31, tzinfo=UTC)


def load_grants(session: Session, ctx: DemoContext) -> None:
    for resource, owner, grantee, purpose, ceiling in REGISTRY_GRANTS:
        officer = Principal(kind="staff", name=f"{owner}-data-officer", roles=frozenset({"data_steward"}),
                            department_code=owner)
        create_grant(session, granted_by=officer, data=GrantCreate(
            resource_key=resource, grantee_department_code=grantee, grade_ceiling=ceiling, purpose=purpose,
            reference="一数一源共享目录（演示）", expires_at=GRANTS_EXPIRE))
    ctx.progress("registry grants", len(REGISTRY_GRANTS), len(REGISTRY_GRANTS))
