"""Demo e-licences and standard addresses, derived from the demo population and legal-entity registers.

Licences are issued as the departments that really issue them in Changsha (营业执照 by 市场监管局, 身份证
by 公安局, 结婚证 by 民政局, 不动产权证书 by 不动产登记中心, 社保卡/退休证 by 人社局, 残疾人证 by 残联), each
signed like any other licence. Numbers, salts and dates come from ``ctx.rng``; signatures depend on the
data directory's licence key.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import SYSTEM
from xingcheng.core.registry import DemoContext
from xingcheng.datahub.registries import spatial
from xingcheng.datahub.registries.demo_data import AS_OF
from xingcheng.datahub.registries.demo_persons import add_months
from xingcheng.datahub.registries.licences import LICENCE_TYPES, LicenceDraft, issue_licences, new_number, revoke_licence
from xingcheng.datahub.registries.models import LegalEntity, Person

SOURCE = "demo:registries"
# Only the columns licences need (cheaper than whole ORM rows).
PERSON_COLUMNS = (Person.id_number, Person.name, Person.gender, Person.birth_date, Person.ethnicity, Person.division_code,
                  Person.household_address, Person.household_id, Person.marital_status, Person.disability_grade,
                  Person.social_insurance_months, Person.retired, Person.retired_date)
ENTITY_TYPE_NAMES = {"company": "有限责任公司", "individual_business": "个体工商户", "cooperative": "农民专业合作社",
                     "social_organisation": "社会团体", "public_institution": "事业单位"}
ENDED = {"revoked": "吊销营业执照（行政处罚）", "cancelled": "注销登记"}
MARITAL_LICENCE = {"married": "marriage_certificate", "divorced": "divorce_certificate"}


def _when(rng: random.Random, day: date) -> datetime:
    """Office hours in Beijing time (09:00–17:00, UTC+8) on ``day``, in UTC."""
    return datetime.combine(day, time(1), tzinfo=UTC) + timedelta(seconds=int(rng.random() * 8 * 3600))


def _draft(rng: random.Random, licence_type: str, holder_id: str, holder_name: str, valid_from: date,
           valid_until: date | None, data: dict[str, object], department: str | None = None) -> LicenceDraft:
    kind = LICENCE_TYPES[licence_type]
    issued = min(valid_from, AS_OF)
    return LicenceDraft(
        licence_type=licence_type, holder_id=holder_id, holder_name=holder_name,
        issuing_department_code=department or kind.department_code, valid_from=valid_from, valid_until=valid_until,
        data=data, source=SOURCE, number=new_number(kind.prefix, issued.year, rng.randrange),
        issued_at=_when(rng, issued), salt=f"{rng.getrandbits(128):032x}",
    )


def _id_card(rng: random.Random, person: Any) -> LicenceDraft | None:
    age = (AS_OF - person.birth_date).days // 365
    if age < 16:
        return None
    # 居民身份证法: issued at 16–25 → valid 10 years, 26–45 → 20 years, 46+ → long-term (长期).
    years = 10 if age < 26 else 20 if age < 46 else None
    issued = add_months(AS_OF, -int(rng.random() * (years or 20) * 12) - 1)
    if years and rng.random() < 0.03:  # a few residents have not renewed an expired card
        issued = add_months(issued, -years * 12)
    issued = max(issued, add_months(person.birth_date, 16 * 12))
    until = add_months(issued, years * 12) if years else None
    district = spatial.district_shape(person.division_code)
    return _draft(rng, "resident_id_card", person.id_number, person.name, issued, until, {
        "gender": "男" if person.gender == "M" else "女", "ethnicity": person.ethnicity,
        "birth_date": person.birth_date.isoformat(), "address": person.household_address,
        "issuing_authority": f"长沙市公安局{district.name}分局" if district else "长沙市公安局",
    })


def load_licences(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("licences")
    drafts: list[LicenceDraft] = []
    ended: dict[str, str] = {}  # licence number → why it no longer holds
    for entity in session.scalars(select(LegalEntity).order_by(LegalEntity.id)):
        if entity.entity_type in ("social_organisation", "public_institution"):
            continue  # registered by 民政局 / 编办, not a 营业执照
        drafts.append(_draft(rng, "business_licence", entity.credit_code, entity.name, entity.established_date, None, {
            "entity_type": ENTITY_TYPE_NAMES[entity.entity_type], "legal_representative": entity.legal_representative_name,
            "registered_capital_yuan": entity.registered_capital_yuan, "address": entity.address,
            "established_date": entity.established_date.isoformat(), "business_scope": entity.industry_name,
        }))
        if entity.status in ENDED:
            ended[drafts[-1].number or ""] = ENDED[entity.status]
        if entity.industry_code.startswith(("H62", "F52")) and rng.random() < 0.7:  # restaurants, food retail
            start = max(entity.established_date, add_months(AS_OF, -59))
            drafts.append(_draft(rng, "food_business_licence", entity.credit_code, entity.name, start,
                                 add_months(start, 60), {"address": entity.address, "category": entity.industry_name}))
    for person in session.execute(select(*PERSON_COLUMNS).order_by(Person.id)):
        card = _id_card(rng, person)
        if card:
            drafts.append(card)
        marital = MARITAL_LICENCE.get(person.marital_status)
        if marital and (AS_OF - person.birth_date).days > 20 * 365:
            day = add_months(person.birth_date, (22 + int(rng.random() * 12)) * 12 + int(rng.random() * 12))
            drafts.append(_draft(rng, marital, person.id_number, person.name, min(day, AS_OF), None,
                                 {"registration_office": "长沙市民政局婚姻登记处"}))
        if person.disability_grade:
            start = add_months(AS_OF, -int(rng.random() * 96) - 1)
            drafts.append(_draft(rng, "disability_certificate", person.id_number, person.name, start, add_months(start, 120),
                                 {"grade": person.disability_grade}))
        if ctx.scale != "city":
            continue  # the small city skips the bulkiest kinds to stay fast
        if person.social_insurance_months > 0:
            start = add_months(AS_OF, -min(person.social_insurance_months, 120))
            drafts.append(_draft(rng, "social_security_card", person.id_number, person.name, start, add_months(start, 120),
                                 {"card_kind": "第三代社会保障卡"}))
        if person.retired and person.retired_date:
            drafts.append(_draft(rng, "retirement_certificate", person.id_number, person.name, person.retired_date, None, {}))
    heads = session.execute(select(*PERSON_COLUMNS).where(Person.birth_date <= add_months(AS_OF, -28 * 12))
                            .order_by(Person.id))
    seen_households: set[str] = set()
    for person in heads:
        if person.household_id in seen_households or "村" in person.household_address:
            continue
        seen_households.add(person.household_id)
        if rng.random() < 0.55:
            start = add_months(AS_OF, -int(rng.random() * 180) - 1)
            drafts.append(_draft(rng, "real_estate_certificate", person.id_number, person.name, start, None, {
                "property_address": person.household_address, "area_m2": round(60 + rng.random() * 90, 2),
                "use": "住宅", "right_type": "国有建设用地使用权/房屋所有权",
            }))
    issue_licences(session, drafts, actor=SYSTEM)
    for number, reason in ended.items():  # the register's status, as the licences' own: revoked, audited
        revoke_licence(session, number=number, reason=reason, actor=SYSTEM)
    ctx.facts["licences"] = len(drafts)
    ctx.progress("licences", len(drafts), len(drafts))


def load_addresses(session: Session, ctx: DemoContext) -> None:
    texts = [*session.scalars(select(Person.residence_address)), *session.scalars(select(Person.household_address)),
             *session.scalars(select(LegalEntity.address))]
    added = spatial.register_addresses(session, texts)
    ctx.progress("standard addresses", added, added)
