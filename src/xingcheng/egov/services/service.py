"""The service catalogue: search with facets, item guides, implementation lists, KPIs, guide edits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.errors import Forbidden, Invalid, NotFound
from xingcheng.core.identity.models import Department, Division
from xingcheng.core.refcache import ReferenceCache
from xingcheng.core.schemas import PageParams
from xingcheng.egov.services.models import ProcessLink, ServiceImplementation, ServiceItem, ServiceMaterial
from xingcheng.egov.services.schemas import GuideUpdate

CATALOGUE_EDITORS = frozenset({Role.ADMIN, Role.DATA_STEWARD})  # may edit any department's items
FACETS = ("department_code", "life_event", "audience", "item_type", "online", "max_visits")


@dataclass(frozen=True)
class ItemFilters:
    department_code: str | None = None
    life_event: str | None = None
    audience: str | None = None  # 个人 | 法人
    item_type: str | None = None
    online: bool | None = None
    max_visits: int | None = None
    q: str | None = None


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def audience_of(item: ServiceItem) -> list[str]:
    return [label for label, flag in (("个人", item.for_person), ("法人", item.for_enterprise)) if flag]


def summary(item: ServiceItem, department_name: str) -> dict[str, Any]:
    return {
        "code": item.code, "name": item.name, "department_code": item.department_code,
        "department_name": department_name, "item_type": item.item_type, "audience": audience_of(item),
        "life_event": item.life_event, "online": item.online, "max_visits": item.max_visits,
        "statutory_days": item.statutory_days, "promised_days": item.promised_days,
        "process_key": item.process.process_key if item.process else "generic",
    }


def get_item(session: Session, *, code: str) -> ServiceItem | None:
    # One round trip: applications look an item up on every submission.
    return session.scalars(
        select(ServiceItem).where(ServiceItem.code == code)
        .options(joinedload(ServiceItem.materials), joinedload(ServiceItem.process))
    ).unique().one_or_none()


def get_item_or_raise(session: Session, *, code: str) -> ServiceItem:
    item = get_item(session, code=code)
    if item is None:
        raise NotFound(f"no service item with code {code} in the catalogue")
    return item


@dataclass(frozen=True)
class MaterialFacts:
    name: str
    required: bool


@dataclass(frozen=True)
class ItemFacts:
    """What applying for an item needs to know about it: an immutable snapshot, shared between requests."""

    code: str
    name: str
    department_code: str
    for_person: bool
    for_enterprise: bool
    online: bool
    max_visits: int
    promised_days: int
    process_key: str | None  # the catalogue's process link; None = the generic process
    materials: tuple[MaterialFacts, ...]


# Applications read their item on every submission; the catalogue changes a few times a year.
ITEM_FACTS: ReferenceCache[str, ItemFacts | None] = ReferenceCache(
    "catalogue items", watch=(ServiceItem, ServiceMaterial, ProcessLink))


def _item_facts(session: Session, code: str) -> ItemFacts | None:
    item = get_item(session, code=code)
    if item is None:
        return None
    return ItemFacts(item.code, item.name, item.department_code, item.for_person, item.for_enterprise, item.online,
                     item.max_visits, item.promised_days, item.process.process_key if item.process else None,
                     tuple(MaterialFacts(m.name, m.required) for m in item.materials))


def item_facts(session: Session, *, code: str) -> ItemFacts | None:
    return ITEM_FACTS.get(session, code, lambda: _item_facts(session, code))


def item_facts_or_raise(session: Session, *, code: str) -> ItemFacts:
    item = item_facts(session, code=code)
    if item is None:
        raise NotFound(f"no service item with code {code} in the catalogue")
    return item


def department_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


def _filtered(filters: ItemFilters) -> Select[ServiceItem]:
    statement = select(ServiceItem).options(selectinload(ServiceItem.materials), selectinload(ServiceItem.process))
    if filters.department_code:
        statement = statement.where(ServiceItem.department_code == filters.department_code)
    if filters.life_event:
        statement = statement.where(ServiceItem.life_event == filters.life_event)
    if filters.audience == "个人":
        statement = statement.where(ServiceItem.for_person.is_(True))
    elif filters.audience == "法人":
        statement = statement.where(ServiceItem.for_enterprise.is_(True))
    if filters.item_type:
        statement = statement.where(ServiceItem.item_type == filters.item_type)
    if filters.online is not None:
        statement = statement.where(ServiceItem.online.is_(filters.online))
    if filters.max_visits is not None:
        statement = statement.where(ServiceItem.max_visits == filters.max_visits)
    return statement.order_by(ServiceItem.code)


def relevance(item: ServiceItem, terms: list[str]) -> int:
    """A simple ranked contains match: every term must appear in the name or a material name.

    Name hits outrank material hits; a whole-name match ranks first. (The Q&A issue does the
    smart search; this is the catalogue's plain filter.)
    """
    score = 0
    materials = [m.name.lower() for m in item.materials]
    name = item.name.lower()
    for term in terms:
        if name == term:
            score += 100
        elif name.startswith(term):
            score += 60
        elif term in name:
            score += 40
        elif any(term in material for material in materials):
            score += 10
        else:
            return 0
    return score


def search_items(
    session: Session, *, filters: ItemFilters, page: PageParams
) -> tuple[list[dict[str, Any]], int, dict[str, list[dict[str, Any]]]]:
    """A page of matching items (best match first when searching) and facet counts over all matches."""
    items = list(session.scalars(_filtered(filters)).all())
    terms = [t.lower() for t in (filters.q or "").split() if t]
    if terms:
        scored = [(relevance(item, terms), item) for item in items]
        items = [item for score, item in sorted(scored, key=lambda p: (-p[0], p[1].code)) if score > 0]
    counters: dict[str, Counter[str]] = {facet: Counter() for facet in FACETS}
    for item in items:
        counters["department_code"][item.department_code] += 1
        counters["life_event"][item.life_event] += 1
        counters["audience"].update(audience_of(item))
        counters["item_type"][item.item_type] += 1
        counters["online"][str(item.online).lower()] += 1
        counters["max_visits"][str(item.max_visits)] += 1
    facets = {
        facet: [{"value": v, "count": c} for v, c in sorted(counter.items(), key=lambda p: (-p[1], p[0]))]
        for facet, counter in counters.items()
    }
    names = department_names(session)
    window = items[page.offset: page.offset + page.limit]
    return [summary(item, names.get(item.department_code, "")) for item in window], len(items), facets


def _implementation_rows(session: Session, statement: Select[ServiceImplementation, str]) -> list[dict[str, Any]]:
    rows = session.execute(statement).all()
    return [
        {**{c: getattr(impl, c) for c in ("id", "item_code", "division_code", "level", "office_name", "service_window",
                                          "address", "phone", "hours")}, "division_name": division_name}
        for impl, division_name in rows
    ]


def _implementations(item_code: str | None, division_code: str | None, department_code: str | None
) -> Select[ServiceImplementation, str]:
    statement = select(ServiceImplementation, Division.name).join(
        Division, Division.code == ServiceImplementation.division_code
    )
    if item_code:
        statement = statement.where(ServiceImplementation.item_code == item_code)
    if division_code:
        statement = statement.where(ServiceImplementation.division_code == division_code)
    if department_code:
        statement = statement.join(ServiceItem, ServiceItem.code == ServiceImplementation.item_code).where(
            ServiceItem.department_code == department_code
        )
    return statement


def list_implementations(
    session: Session, *, page: PageParams, item_code: str | None = None, division_code: str | None = None,
    department_code: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """实施清单 entries, city window first, then districts in GB/T 2260 order."""
    statement = _implementations(item_code, division_code, department_code)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    ordered = statement.order_by(ServiceImplementation.item_code, ServiceImplementation.division_code,
                                 ServiceImplementation.id)
    return _implementation_rows(session, ordered.limit(page.limit).offset(page.offset)), int(total)


def count_implementations(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ServiceImplementation)) or 0)


def visits_label(max_visits: int) -> str:
    return {0: "零跑动", 1: "最多跑一次"}.get(max_visits, f"最多跑{max_visits}次")


def guide(session: Session, *, code: str) -> dict[str, Any]:
    """办事指南 of one item: conditions, materials (held by the city or not), limits, fees, where."""
    item = get_item_or_raise(session, code=code)
    materials = [
        {"name": m.name, "required": m.required, "original": m.original, "source": m.source,
         "held_by_city": m.source != "applicant"}
        for m in item.materials
    ]
    name = department_names(session).get(item.department_code, "")
    return {
        **summary(item, name), "conditions": item.conditions, "legal_basis": item.legal_basis,
        "fee_free": item.fee_free, "fee_note": item.fee_note or ("不收费" if item.fee_free else ""),
        "visits_label": visits_label(item.max_visits),
        "time_limit_label": "即办" if item.promised_days == 0 else f"承诺{item.promised_days}个工作日",
        "materials": materials,
        "materials_required": sum(m["required"] for m in materials),
        "materials_held_by_city": sum(m["required"] and m["held_by_city"] for m in materials),
        "implementations": _implementation_rows(
            session, _implementations(item.code, None, None).order_by(ServiceImplementation.division_code)
        ),
    }


def life_events(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ServiceItem.life_event, func.count(), func.sum(_flag(ServiceItem.online.is_(True))))
        .group_by(ServiceItem.life_event).order_by(func.count().desc(), ServiceItem.life_event)
    ).all()
    return [{"life_event": event, "items": int(n), "online_items": int(online or 0)} for event, n, online in rows]



def _figures(row: Sequence[Any]) -> dict[str, Any]:
    """KPI figures from one row of the ``measures`` below: counts, then two averages."""
    total, online, one_visit, zero, instant = (int(v or 0) for v in row[:5])
    statutory, promised = row[5], row[6]
    return {
        "items": total, "online_items": online, "online_rate": round(online / total, 4) if total else 0.0,
        "at_most_one_visit_items": one_visit,
        "at_most_one_visit_share": round(one_visit / total, 4) if total else 0.0,
        "zero_visit_items": zero, "instant_items": instant,
        "avg_statutory_days": round(float(statutory or 0), 2), "avg_promised_days": round(float(promised or 0), 2),
    }


def kpis(session: Session) -> dict[str, Any]:
    """网上可办率, 最多跑一次, 零跑动, 即办 and time limits, computed from the catalogue (never typed in)."""
    measures = (
        func.count(), func.sum(_flag(ServiceItem.online.is_(True))), func.sum(_flag(ServiceItem.max_visits <= 1)),
        func.sum(_flag(ServiceItem.max_visits == 0)), func.sum(_flag(ServiceItem.promised_days == 0)),
        func.avg(ServiceItem.statutory_days), func.avg(ServiceItem.promised_days),
    )
    city = session.execute(select(*measures)).one()
    per_department = session.execute(
        select(ServiceItem.department_code, Department.name, *measures)
        .join(Department, Department.code == ServiceItem.department_code)
        .group_by(ServiceItem.department_code, Department.name).order_by(ServiceItem.department_code)
    ).all()
    return {
        **_figures(tuple(city)),
        "implementations": count_implementations(session),
        "departments": [
            {"department_code": row[0], "department_name": row[1],
             **_figures(tuple(row[2:]))}
            for row in per_department
        ],
    }


def count_items(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ServiceItem)) or 0)


def online_rate_percent(session: Session) -> float:
    total = count_items(session)
    online = session.scalar(select(func.count()).where(ServiceItem.online.is_(True))) or 0
    return round(100 * online / total, 1) if total else 0.0


def update_guide(session: Session, *, code: str, data: GuideUpdate, editor: Principal) -> ServiceItem:
    """A department edits its own item's guide (conditions, fees, materials); admins any item. Audited."""
    changes = data.model_dump(exclude_unset=True)
    if not changes or all(value is None for value in changes.values()):
        raise Invalid("nothing to update: send at least one of conditions, legal_basis, fee_free, fee_note, materials")
    item = get_item_or_raise(session, code=code)
    if not editor.roles & CATALOGUE_EDITORS and editor.department_code != item.department_code:
        raise Forbidden(f"item {code} belongs to department '{item.department_code}'; only its staff may edit it")
    ITEM_FACTS.changed(session)  # the materials are replaced by a bulk DELETE the ORM does not track
    for field in ("conditions", "legal_basis", "fee_free", "fee_note"):
        if changes.get(field) is not None:
            setattr(item, field, changes[field])
    if data.materials is not None:
        session.execute(delete(ServiceMaterial).where(ServiceMaterial.item_id == item.id))
        session.expire(item, ["materials"])
        session.add_all(
            ServiceMaterial(item_id=item.id, position=i, name=m.name, required=m.required, original=m.original,
                            source=m.source)
            for i, m in enumerate(data.materials)
        )
    session.flush()
    session.refresh(item)
    audit.record(
        session, actor=editor, action="services.item.update", subject=f"service_item:{code}",
        purpose="maintain the service guide (办事指南)",
        details={"fields": sorted(k for k, v in changes.items() if v is not None),
                 "department_code": item.department_code},
    )
    return item
