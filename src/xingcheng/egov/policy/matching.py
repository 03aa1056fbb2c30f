"""Enterprise attributes from the registries and this package's profiles; matching with reasons.

``enterprise_frame`` reads the legal-entity registry joined with ``policy_enterprise_profile``
into an ``EnterpriseFrame`` (derived fields computed once here); the per-enterprise view explains
every policy with ``rules.explain``, the city-wide views run the vectorised ``engine``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.db import utcnow
from xingcheng.core.errors import NotFound
from xingcheng.core.identity.models import Division
from xingcheng.datahub.registries.models import LegalEntity
from xingcheng.egov.policy import engine, rules
from xingcheng.egov.policy.models import EnterpriseProfile, Policy, PolicyPush

_WAN = 10_000


def _wan(yuan: int | None) -> float | None:
    return None if yuan is None else round(yuan / _WAN, 4)


def attributes_of(entity: LegalEntity, profile: EnterpriseProfile | None, *, as_of: date) -> dict[str, Any]:
    """Every field of ``rules.FIELDS`` for one enterprise (``None`` where no source holds it)."""
    revenue = profile.revenue_yuan if profile else None
    rd_ratio = round(entity.rd_spend_yuan / revenue * 100, 4) if revenue else None
    return {
        "industry_code": entity.industry_code, "entity_type": entity.entity_type, "status": entity.status,
        "division_code": entity.division_code, "employees": entity.employees, "revenue_band": entity.revenue_band,
        "registered_capital_wan": _wan(entity.registered_capital_yuan),
        "age_years": round((as_of - entity.established_date).days / 365.25, 2),
        "tax_credit_rating": entity.tax_credit_rating, "high_tech": entity.high_tech,
        "rd_spend_wan": _wan(entity.rd_spend_yuan), "exporter": entity.exporter,
        "revenue_wan": _wan(revenue), "rd_ratio_percent": rd_ratio,
        "export_wan": _wan(profile.export_yuan) if profile else None,
        "graduates_hired": profile.graduates_hired if profile else None,
        "insured_employees": profile.insured_employees if profile else None,
        "layoff_rate_percent": profile.layoff_rate_percent if profile else None,
        "specialised_sme": profile.specialised_sme if profile else None,
        "tech_sme": profile.tech_sme if profile else None,
        "invention_patents": profile.invention_patents if profile else None,
    }


def today() -> date:
    return utcnow().date()


def enterprise_frame(
    session: Session, *, active_only: bool = True, division_code: str | None = None
) -> tuple[engine.EnterpriseFrame, list[str], list[str]]:
    """The frame, each row's enterprise name and registered district (in credit-code order)."""
    statement = (select(LegalEntity, EnterpriseProfile)
                 .outerjoin(EnterpriseProfile, EnterpriseProfile.credit_code == LegalEntity.credit_code)
                 .order_by(LegalEntity.credit_code))
    if active_only:
        statement = statement.where(LegalEntity.status == "active")
    if division_code:
        statement = statement.where(LegalEntity.division_code == division_code)
    as_of = today()
    rows = session.execute(statement).all()
    records = [attributes_of(entity, profile, as_of=as_of) for entity, profile in rows]
    frame = engine.EnterpriseFrame.from_records([entity.credit_code for entity, _ in rows], records)
    return frame, [entity.name for entity, _ in rows], [entity.division_code for entity, _ in rows]


def enterprise_attributes(session: Session, *, credit_code: str) -> tuple[LegalEntity, dict[str, Any]]:
    row = session.execute(
        select(LegalEntity, EnterpriseProfile)
        .outerjoin(EnterpriseProfile, EnterpriseProfile.credit_code == LegalEntity.credit_code)
        .where(LegalEntity.credit_code == credit_code)
    ).first()
    if row is None:
        raise NotFound(f"no legal entity with credit code {credit_code} in the registry")
    entity, profile = row
    return entity, attributes_of(entity, profile, as_of=today())


def policy_match(policy: Policy, explanation: rules.Explanation) -> dict[str, Any]:
    return {
        "policy_id": policy.id, "code": policy.code, "title": policy.title, "level": policy.level,
        "issuer": policy.issuer, "benefit_amount_yuan": policy.benefit_amount_yuan,
        "benefit_note": policy.benefit_note, "deadline": policy.deadline, "no_application": policy.no_application,
        "qualified": explanation.qualified, "near_miss": explanation.near_miss, "missing": explanation.missing,
        "reasons": [item.as_dict() for item in explanation.items],
    }


def published_policies(session: Session) -> Sequence[Policy]:
    return session.scalars(select(Policy).where(Policy.status == "published").order_by(Policy.id)).all()


def matches_for(session: Session, *, credit_code: str) -> dict[str, Any]:
    """Every published policy the enterprise qualifies for, and the ones it misses by one item, with reasons."""
    entity, attributes = enterprise_attributes(session, credit_code=credit_code)
    qualified: list[dict[str, Any]] = []
    near: list[dict[str, Any]] = []
    for policy in published_policies(session):
        explanation = rules.explain(policy.conditions, attributes)
        if explanation.qualified:
            qualified.append(policy_match(policy, explanation))
        elif explanation.near_miss:
            near.append(policy_match(policy, explanation))
    qualified.sort(key=lambda m: (-m["benefit_amount_yuan"], m["code"]))
    near.sort(key=lambda m: (-m["benefit_amount_yuan"], m["code"]))
    return {"credit_code": credit_code, "name": entity.name, "qualified": qualified, "near_misses": near}


def preview(session: Session, *, policy: Policy, division_code: str | None = None) -> dict[str, Any]:
    """How far a rule set reaches: qualifying enterprises per district, near misses and what blocks them."""
    frame, names, districts = enterprise_frame(session, division_code=division_code)
    compiled = engine.compile_rule(policy.conditions)
    result = engine.match(frame, compiled, with_failed_item=True)
    division_names = dict(session.execute(select(Division.code, Division.name)).all())
    qualified_by = Counter(d for d, hit in zip(districts, result.qualified.tolist(), strict=True) if hit)
    near_by = Counter(d for d, hit in zip(districts, result.near_miss.tolist(), strict=True) if hit)
    _kind, items = rules.top_items(policy.conditions)
    blocking = Counter(int(i) for i in result.failed_item[result.near_miss].tolist())
    pushed = set(session.scalars(select(PolicyPush.credit_code).where(PolicyPush.policy_id == policy.id)).all())
    qualified_codes = [frame.credit_codes[i] for i in np.flatnonzero(result.qualified).tolist()]
    return {
        "policy_id": policy.id, "enterprises": len(frame), "qualified": int(result.qualified.sum()),
        "near_misses": int(result.near_miss.sum()),
        "already_pushed": sum(code in pushed for code in qualified_codes),
        "by_district": [
            {"division_code": code, "division_name": division_names.get(code, code),
             "qualified": qualified_by[code], "near_misses": near_by[code]}
            for code in sorted(set(qualified_by) | set(near_by))
        ],
        "blocking": [{"condition": rules.describe_condition(items[index]), "near_misses": count}
                     for index, count in blocking.most_common()],
        "sample": [names[i] for i in np.flatnonzero(result.qualified)[:10].tolist()],
    }
